//! `shell`: runs a command or script with `sh -c` (a line of plain words starts its program
//! directly, as `sh` would); every interpolated value is one quoted word.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::util::ShortForm;
use super::{ActionKind, Effect};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
            env: IndexMap::new(),
            dir: None,
            expect_exit: None,
            read_only: false,
        }
    }
}

impl ActionKind for ShellSpec {
    fn effect(&self) -> Effect {
        if self.read_only {
            Effect::ReadOnly
        } else {
            Effect::Mutating
        }
    }
    fn summary(&self) -> String {
        let mut s = self.run.trim_end().to_string();
        if let Some(dir) = &self.dir {
            s.push_str(&format!("  (in {dir})"));
        }
        s
    }
}

impl ShellSpec {
    pub async fn execute(&self, cx: &super::ActionCx<'_>) -> super::Outcome {
        let dir = super::process_run::command_dir(&self.dir, cx);
        let path = std::env::var_os("PATH");
        let direct = super::simple_command::direct(&self.run, &self.env, &dir, path.as_deref()).and_then(|d| {
            let pwd = super::simple_command::sh_pwd(&self.env, std::env::var_os("PWD").as_deref(), &dir)?;
            Some((d.program.into_os_string().into_string().ok()?, d.args, pwd))
        });
        let spec = match direct {
            // One process start instead of two, with what `sh` would have set.
            Some((program, args, pwd)) => {
                let mut env = self.env.clone();
                env.insert("PWD".into(), pwd);
                crate::exec::process::ProcessSpec {
                    program,
                    args,
                    env,
                    dir,
                    as_sh: true,
                }
            }
            None => crate::exec::process::ProcessSpec {
                program: "sh".into(),
                args: vec!["-c".into(), self.run.clone()],
                env: self.env.clone(),
                dir,
                as_sh: false,
            },
        };
        super::process_outcome(&spec, self.expect_exit.as_deref(), cx).await
    }
}
