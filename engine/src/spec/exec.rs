//! `exec`: runs a program with an argument vector, no shell involved.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::util::ShortForm;
use super::{ActionKind, Effect};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecSpec {
    /// Program and arguments: `[kubectl, get, pods]`.
    pub argv: Vec<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_exit: Option<Vec<i32>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

impl ShortForm for ExecSpec {
    const SHORT: &'static str = "a list of program and arguments";
    fn from_short(program: String) -> Self {
        Self::from_list(vec![program]).unwrap_or_else(|| unreachable!("from_list always succeeds"))
    }
    fn from_list(argv: Vec<String>) -> Option<Self> {
        Some(ExecSpec {
            argv,
            ..Default::default()
        })
    }
}

impl ActionKind for ExecSpec {
    fn effect(&self) -> Effect {
        Effect::of_command(self.read_only)
    }
    fn summary(&self) -> String {
        // Show the argv as a shell would need it, so it can be pasted.
        self.argv
            .iter()
            .map(|a| shell_escape::unix::escape(a.into()).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}
