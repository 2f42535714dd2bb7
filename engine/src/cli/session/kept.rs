//! What a run keeps and reads back: a saved plan (`plan --out`, or the one beside a run's
//! journal), the files the plan sealed, and a stopped run's journal.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::journal::{Past, StateDir};
use crate::plan::Plan;
use crate::playbook::Workspace;

use super::super::common::Global;

/// Reads a saved plan and checks that it is what was planned: its content still hashes to
/// its hash.
pub fn read_plan(path: &Path) -> Result<Plan, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let plan: Plan = serde_json::from_str(&text).map_err(|e| format!("{} is not a saved plan: {e}", path.display()))?;
    let actual = plan.recompute_hash();
    if actual != plan.hash {
        return Err(format!(
            "{} was edited after it was planned: its content hashes to {actual}, not to its recorded {}",
            path.display(),
            plan.hash
        ));
    }
    Ok(plan)
}

/// The params a plan was made with, as `-p NAME=VALUE` would give them, to make it again
/// (those left unset are left out).
pub fn as_given<'a>(params: impl IntoIterator<Item = (&'a String, &'a serde_json::Value)>) -> Vec<(String, String)> {
    params
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string())))
        .collect()
}

/// Keeps the run's plan beside its journal, so `resume` can show what changed since.
pub fn save_plan(state: &StateDir, run: &str, plan: &Plan, root: &Path) -> std::io::Result<()> {
    let json = serde_json::to_string(plan).unwrap_or_default();
    write_private(&state.run_dir(run).join("plan.json"), json.as_bytes())?;
    keep_files(state, run, plan, root)
}

/// Keeps the files the plan sealed beside it (`files/<sha256>`): what the run read, for
/// `resume` to show what changed since and for the audit. A file that no longer matches
/// the plan stops the run before anything runs.
fn keep_files(state: &StateDir, run: &str, plan: &Plan, root: &Path) -> std::io::Result<()> {
    let dir = state.run_dir(run).join("files");
    for f in plan.files.iter().filter(|f| f.sha256.is_some()) {
        let bytes = std::fs::read(root.join(&f.path)).unwrap_or_default();
        crate::compile::check_sealed(&crate::compile::sealed_of(&plan.files), &f.path, &bytes)
            .map_err(std::io::Error::other)?;
        std::fs::create_dir_all(&dir)?;
        write_private(&dir.join(f.sha256.as_deref().unwrap_or_default()), &bytes)?;
    }
    Ok(())
}

/// Writes `bytes` to `path`, readable by its owner only (a plan and what it read may hold
/// more than people should see), and on disk before this returns.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// A run picked up again after it stopped (`resume`, `rollback`): the workspace, its state
/// dir, the run's full id (a unique prefix will do) and what its verified journal says.
pub fn stopped_run(g: &Global, run: &str) -> Result<(Workspace, StateDir, String, Past), i32> {
    let ws = g.ws()?;
    let state = g.state(&ws);
    let id = state.find(run).map_err(|e| {
        eprintln!("error: {e}");
        crate::error::INVALID
    })?;
    let past = crate::journal::read_past(&state.journal(&id)).map_err(|e| {
        eprintln!("error: run {id}: {e}");
        crate::error::INVALID
    })?;
    Ok((ws, state, id, past))
}

/// Opens a stopped run's journal to append to it (`resume`, `rollback`), or says why it
/// cannot, `unchanged` saying what was not done, and returns `code`.
pub fn continue_journal(
    state: &StateDir,
    id: &str,
    past: &Past,
    unchanged: &str,
    code: i32,
) -> Result<crate::journal::JournalSink, i32> {
    crate::journal::JournalSink::resume(state.clone(), id, past).map_err(|e| {
        eprintln!("error: cannot continue the journal of {id}: {e}; {unchanged}");
        code
    })
}
