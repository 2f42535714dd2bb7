//! Running `shell`: the command or script with `sh -c`.

use crate::spec::ShellSpec;

impl ShellSpec {
    pub async fn execute(&self, cx: &super::ActionCx<'_>) -> super::Outcome {
        let spec = crate::process::ProcessSpec {
            program: "sh".into(),
            args: vec!["-c".into(), self.run.clone()],
            env: self.env.clone(),
            dir: super::process_run::command_dir(&self.dir, cx),
        };
        super::process_outcome(&spec, self.expect_exit.as_deref(), cx).await
    }
}
