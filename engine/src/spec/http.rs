//! `http`: one HTTP request, with the expected status and the JSON reply as the result.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Duration;
use super::{ActionKind, Effect};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    pub url: String,
    /// GET (default), HEAD, POST, PUT, PATCH, DELETE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<HttpMethod>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// A JSON body (sets Content-Type: application/json).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<serde_json::Value>,
    /// A raw text body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Statuses that count as success (default: any 2xx).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<Vec<u16>>,
    /// Expression over `result` (status, body, json) that must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    /// Per-request timeout (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpSpec {
    pub fn method(&self) -> HttpMethod {
        self.method.unwrap_or(HttpMethod::Get)
    }
}

impl ActionKind for HttpSpec {
    fn effect(&self) -> Effect {
        match self.method() {
            HttpMethod::Get | HttpMethod::Head => Effect::ReadOnly,
            _ => Effect::Mutating,
        }
    }
    fn summary(&self) -> String {
        let mut s = format!("{} {}", self.method().as_str(), self.url);
        if let Some(codes) = &self.expect_status {
            let codes: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
            s.push_str(&format!(" → expect {}", codes.join("|")));
        }
        if let Some(e) = &self.expect {
            s.push_str(&format!(" → expect {e}"));
        }
        s
    }
}

impl HttpMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}
