//! `prometheus`: an instant query whose single value is the result, with an optional `expect`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ActionKind, Effect};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusSpec {
    /// Base URL of the Prometheus server (`http://prometheus:9090`).
    pub url: String,
    /// PromQL instant query.
    pub query: String,
    /// Expression over `value` (and `result`) that must hold, e.g. `value < 0.01`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    /// How to reduce a multi-series result to one value (default: it is an error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Aggregate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    Sum,
    Max,
    Min,
    Avg,
    Count,
}

impl ActionKind for PrometheusSpec {
    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }
    fn summary(&self) -> String {
        let mut s = format!("query `{}` at {}", self.query, self.url);
        if let Some(a) = self.aggregate {
            s.push_str(&format!(" ({a:?})").to_lowercase());
        }
        if let Some(e) = &self.expect {
            s.push_str(&format!(" → expect {e}"));
        }
        s
    }
}
