//! Running `exec`: the program with its argument vector, no shell involved.

use crate::spec::ExecSpec;

impl ExecSpec {
    pub async fn execute(&self, cx: &super::ActionCx<'_>) -> super::Outcome {
        let Some((program, args)) = self.argv.split_first() else {
            return super::Outcome::fail("`exec` needs at least the program");
        };
        // A script of the workspace runs only as it was when the plan was made.
        if program.contains('/') {
            let rel = match &self.dir {
                Some(d) => format!("{d}/{program}"),
                None => program.clone(),
            };
            if let Some(key) = crate::compile::sealed_path(&rel)
                && cx.sealed.contains_key(&key)
            {
                let bytes = std::fs::read(cx.workdir.join(&key)).unwrap_or_default();
                if let Err(why) = crate::compile::check_sealed(cx.sealed, &key, &bytes) {
                    return super::Outcome::fail(why);
                }
            }
        }
        let spec = crate::process::ProcessSpec {
            program: program.clone(),
            args: args.to_vec(),
            env: self.env.clone(),
            dir: super::process_run::command_dir(&self.dir, cx),
            as_sh: false,
        };
        super::process_outcome(&spec, self.expect_exit.as_deref(), cx).await
    }
}
