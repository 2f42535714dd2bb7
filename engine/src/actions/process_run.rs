//! Running a `shell` or `exec` command and turning what it did into an outcome.

use serde_json::json;

use super::{ActionCx, Outcome};
use crate::process::{self, ProcessSpec};

/// Where a command runs: `dir` under the workspace root, or the root itself.
pub fn command_dir(dir: &Option<String>, cx: &ActionCx<'_>) -> std::path::PathBuf {
    dir.as_ref()
        .map(|d| cx.workdir.join(d))
        .unwrap_or_else(|| cx.workdir.clone())
}

/// Runs the process; success is an exit code in `expect_exit` (default `[0]`). The result
/// is `{ stdout, stderr, exit_code, json }` (`json` when stdout is JSON).
pub async fn process_outcome(spec: &ProcessSpec, expect_exit: Option<&[i32]>, cx: &ActionCx<'_>) -> Outcome {
    let mut spec = spec.clone();
    spec.env.insert("RUNBOOK_RUN_ID".into(), cx.run_id.to_string());
    spec.env.insert("RUNBOOK_STEP".into(), cx.step.to_string());
    let spec = &spec;
    let r = match process::run(spec, cx.timeout, &cx.waits).await {
        Ok(r) => r,
        Err(e) => return Outcome::fail(format!("cannot start `{}`: {e}", spec.program)),
    };
    let parsed: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or(serde_json::Value::Null);
    let result = json!({ "stdout": r.stdout, "stderr": r.stderr, "exit_code": r.exit_code, "json": parsed });
    let output = format!("{}{}", r.stdout, r.stderr);
    let expected = expect_exit.unwrap_or(&[0]);
    let mut outcome = Outcome {
        result,
        exit_code: r.exit_code,
        output,
        ..Default::default()
    };
    if r.timed_out {
        outcome.timed_out = true;
        // The time left of the step's limit, shown to the tenth of a second.
        let shown = std::time::Duration::from_millis((cx.timeout.as_millis() as u64).div_ceil(100) * 100);
        outcome.error = Some(format!(
            "timed out after {}; its process group was killed",
            crate::spec::Duration(shown)
        ));
    } else if r.cancelled {
        outcome.error = Some("interrupted; its process group was killed".into());
    } else {
        match r.exit_code {
            Some(code) if expected.contains(&code) => outcome.ok = true,
            Some(code) => outcome.error = Some(format!("exited with {code}{}", last_line(&r.stderr))),
            None => outcome.error = Some("killed by a signal".into()),
        }
    }
    outcome
}

fn last_line(stderr: &str) -> String {
    match stderr.trim_end().lines().last() {
        Some(l) if !l.trim().is_empty() => format!(": {}", l.trim()),
        _ => String::new(),
    }
}
