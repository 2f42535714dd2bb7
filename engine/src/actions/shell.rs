//! Running `shell`: the command or script with `sh -c`, or, for a line of plain words, its
//! program started directly as `sh` would start it (see `simple_command`).

use crate::spec::ShellSpec;

impl ShellSpec {
    pub async fn execute(&self, cx: &super::ActionCx<'_>) -> super::Outcome {
        let dir = super::process_run::command_dir(&self.dir, cx);
        // Deciding reads the file system (the PATH entries, the program's first bytes): off
        // the runtime's threads, like any blocking I/O.
        let (run, env, at) = (self.run.clone(), self.env.clone(), dir.clone());
        let direct = tokio::task::spawn_blocking(move || {
            let d = super::simple_command::direct(&run, &env, &at, std::env::var_os("PATH").as_deref())?;
            let pwd = super::simple_command::sh_pwd(&env, std::env::var_os("PWD").as_deref(), &at)?;
            Some((d.program.into_os_string().into_string().ok()?, d.args, pwd))
        })
        .await
        // A decision that could not be made leaves the command to `sh`, which is always right.
        .unwrap_or(None);
        let spec = match direct {
            // One process start instead of two, with what `sh` would have set.
            Some((program, args, pwd)) => {
                let mut env = self.env.clone();
                env.insert("PWD".into(), pwd);
                crate::process::ProcessSpec {
                    program,
                    args,
                    env,
                    dir,
                    as_sh: true,
                }
            }
            None => crate::process::ProcessSpec {
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
