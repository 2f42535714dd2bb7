//! `notify`: posts to a Slack-compatible webhook or a generic JSON webhook.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ActionKind, Effect};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum NotifySpec {
    /// Slack (or compatible) incoming webhook: posts `{"text": ...}`.
    Slack { webhook: String, text: String },
    /// Any webhook: posts the given JSON.
    Webhook { url: String, json: serde_json::Value },
}

impl ActionKind for NotifySpec {
    fn effect(&self) -> Effect {
        Effect::External
    }
    fn summary(&self) -> String {
        match self {
            NotifySpec::Slack { text, .. } => format!("slack: {}", super::manual::first_line(text)),
            NotifySpec::Webhook { url, .. } => format!("webhook POST {url}"),
        }
    }
}
