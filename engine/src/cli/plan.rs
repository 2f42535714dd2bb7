//! `runbook plan`: compile a playbook and print its plan (text, JSON, Mermaid, DOT).

use std::path::PathBuf;

use clap::ValueEnum;

use super::common::{self, EnvParams, Global};
use crate::compile::{self, Options};
use crate::error;
use crate::plan::{self, Plan};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The playbook's name (its file stem under playbooks/).
    #[arg(required_unless_present = "file")]
    pub name: Option<String>,
    /// Plan a playbook file directly.
    #[arg(long, value_name = "PATH", conflicts_with = "name")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub with: EnvParams,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also write the plan as JSON to FILE (for `runbook run --plan` and approvals).
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    pub out: Option<PathBuf>,
    /// Preflight: check the plan against the live systems (preconditions, read-only steps,
    /// server-side dry runs of Kubernetes writes); runs nothing that changes a system.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Mermaid,
    Dot,
}

/// Compiles NAME into its plan, or prints why it cannot and returns the exit code. Also
/// gives the sha256 of the playbook file, for the journal.
pub fn build(
    g: &Global,
    name: Option<&str>,
    file: Option<&std::path::Path>,
    env: Option<&str>,
    params: &[(String, String)],
) -> Result<(Plan, String), i32> {
    let ws = g.workspace().map_err(|d| {
        g.print(&d);
        error::INVALID
    })?;
    let lp = common::load(&ws, name, file).map_err(|d| {
        g.print(&d);
        error::INVALID
    })?;
    let opts = Options {
        env,
        params,
        allow_missing_params: false,
    };
    match compile::compile(&ws, &lp, &opts) {
        Ok(c) => {
            use sha2::Digest;
            let digest = hex::encode(sha2::Sha256::digest(lp.source.text.as_bytes()));
            Ok((Plan::new(c), digest))
        }
        Err(diags) => {
            g.print(&diags);
            let errors = diags.iter().filter(|d| d.is_error()).count();
            eprintln!(
                "error: cannot plan `{}`: {}",
                lp.raw.name.value,
                common::count(errors, "error")
            );
            Err(error::INVALID)
        }
    }
}

pub fn exec(g: &Global, a: Args) -> i32 {
    let plan = match build(
        g,
        a.name.as_deref(),
        a.file.as_deref(),
        a.with.env.as_deref(),
        &a.with.params,
    ) {
        Ok((p, _)) => p,
        Err(code) => return code,
    };
    if a.check {
        return super::preflight::exec(g, &plan, a.format);
    }
    let text = match a.format {
        Format::Text => plan::render_text(&plan),
        Format::Json => to_json(&plan),
        Format::Mermaid => plan::mermaid(&plan),
        Format::Dot => plan::dot(&plan),
    };
    print!("{text}");
    if let Some(out) = &a.out {
        if let Err(why) = sealable(&plan) {
            eprintln!("error: this plan cannot be saved to be approved: {why}; nothing was written");
            return error::INVALID;
        }
        if let Err(e) = write_atomic(out, to_json(&plan).as_bytes()) {
            eprintln!("error: cannot write the plan to {}: {e}", out.display());
            return error::INVALID;
        }
        eprintln!("plan written to {} ({})", out.display(), plan.hash);
    }
    error::SUCCESS
}

fn to_json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).unwrap_or_else(|e| unreachable!("a plan always serializes: {e}"));
    s.push('\n');
    s
}

/// A saved plan must seal everything it runs: a playbook name or a manifest path known only
/// at run time would let the run do what nobody approved.
pub fn sealable(plan: &crate::plan::Plan) -> Result<(), String> {
    if plan.unsealed.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}; write the name or path out (or run it with `runbook run`, which asks at each gate)",
        plan.unsealed.join("; ")
    ))
}

/// Writes through a temporary file and a rename, so a reader never sees half a plan.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("plan");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
