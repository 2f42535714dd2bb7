//! `shell`: runs a command or script with `sh -c`; every interpolated value is one quoted word.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::util::ShortForm;
use super::{ActionKind, Effect};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShellSpec {
    /// The command or script, run with `sh -c`.
    pub run: String,
    /// Extra environment variables for the command.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, String>,
    /// Working directory (default: the workspace root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// Exit codes that count as success (default [0]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_exit: Option<Vec<i32>>,
    /// Declares the command read-only: it may run in `plan --check` and needs no rollback.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

impl ShortForm for ShellSpec {
    const SHORT: &'static str = "a shell command";
    fn from_short(run: String) -> Self {
        ShellSpec {
            run,
            ..Default::default()
        }
    }
}

impl ActionKind for ShellSpec {
    fn effect(&self) -> Effect {
        Effect::of_command(self.read_only)
    }
    fn summary(&self) -> String {
        let mut s = self.run.trim_end().to_string();
        if let Some(dir) = &self.dir {
            s.push_str(&format!("  (in {dir})"));
        }
        s
    }
}
