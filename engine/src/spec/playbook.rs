//! `playbook`: runs another playbook of the workspace as a sub-run of this one.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::util::ShortForm;
use super::{ActionKind, Effect};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubPlaybookSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub params: IndexMap<String, serde_json::Value>,
}

impl ShortForm for SubPlaybookSpec {
    const SHORT: &'static str = "the playbook's name";
    fn from_short(name: String) -> Self {
        SubPlaybookSpec {
            name,
            params: IndexMap::new(),
        }
    }
}

impl ActionKind for SubPlaybookSpec {
    // The sub-playbook's own steps carry their effects; the call itself is counted as
    // mutating so that it is never run by a dry-run.
    fn effect(&self) -> Effect {
        Effect::Mutating
    }
    fn summary(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect();
        if params.is_empty() {
            format!("run playbook {}", self.name)
        } else {
            format!("run playbook {} ({})", self.name, params.join(", "))
        }
    }
}
