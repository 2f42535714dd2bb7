//! Sealing a compiled playbook: the sub-playbooks it calls by name, compiled into it, and
//! every file a run will read — manifests, scripts named by `exec`, sub-playbooks — with
//! its sha256, so that what runs is what was planned and approved.

use std::path::{Component, Path};

use indexmap::IndexMap;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::compiler::{Compiled, Options, compile_checked};
use super::model::{FileRole, PlannedAction, RollbackPlan, SealedFile, Step};
use crate::playbook::{self, Workspace};
use crate::source::Diagnostic;
use crate::spec::{Action, K8sSpec};

/// How deep sub-playbooks may call each other (as the engine allows).
pub const MAX_DEPTH: usize = 8;

/// A sub-playbook compiled into its caller.
#[derive(Debug)]
pub struct SubCompiled {
    pub name: String,
    /// Every param was known before the run: the run uses this compilation as it is.
    /// Otherwise the run compiles the sealed file again with the values it then has.
    pub complete: bool,
    pub compiled: Compiled,
}

/// The sha256 of a file's bytes, `None` when it cannot be read (it does not exist).
pub fn file_sha256(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|b| hex::encode(Sha256::digest(&b)))
}

/// `rel` as a path under the workspace root, if it stays inside it (`..` out of it and
/// absolute paths are not files of the workspace, and are not sealed).
fn inside(rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn templated(a: &PlannedAction, pointer: &str) -> bool {
    a.templates.iter().any(|t| t == pointer)
}

/// Every action of a step: its own, its checks', its rollback steps'.
fn actions(s: &Step) -> Vec<&PlannedAction> {
    let mut v: Vec<&PlannedAction> = s.action.iter().collect();
    v.extend(s.preconditions.iter().map(|c| &c.action));
    if let Some(RollbackPlan::Steps(r)) = &s.rollback {
        v.extend(r.iter().map(|r| &r.action));
    }
    v
}

struct Sealer<'a> {
    ws: &'a Workspace,
    files: IndexMap<String, SealedFile>,
    unsealed: Vec<String>,
    diags: Vec<Diagnostic>,
}

impl Sealer<'_> {
    fn record(&mut self, rel: String, role: FileRole, by: &str) {
        let sha256 = file_sha256(&self.ws.root.join(&rel));
        let f = self.files.entry(rel.clone()).or_insert(SealedFile {
            path: rel,
            role,
            sha256,
            steps: Vec::new(),
        });
        if !f.steps.iter().any(|s| s == by) {
            f.steps.push(by.to_string());
        }
    }

    fn files_of(&mut self, step: &Step, label: &str) {
        for a in actions(step) {
            match &a.spec {
                Action::K8s(K8sSpec::Apply(apply)) => {
                    let Some(file) = &apply.file else { continue };
                    if templated(a, "/k8s/apply/file") {
                        self.unsealed.push(format!(
                            "step `{label}` applies a manifest whose path is known only when it runs (`{file}`)"
                        ));
                    } else if let Some(rel) = inside(file) {
                        self.record(rel, FileRole::Manifest, label);
                    }
                }
                Action::Exec(e) => {
                    let Some(program) = e.0.argv.first() else { continue };
                    if !program.contains('/') || templated(a, "/exec/argv/0") {
                        continue;
                    }
                    let dir = e.0.dir.as_deref().filter(|_| !templated(a, "/exec/dir"));
                    let rel = match dir {
                        Some(d) => format!("{d}/{program}"),
                        None => program.clone(),
                    };
                    if let Some(rel) = inside(&rel)
                        && self.ws.root.join(&rel).is_file()
                    {
                        self.record(rel, FileRole::Script, label);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Compiles the sub-playbooks `c` calls by name into it and records the files its run will
/// read. `stack`: the playbooks of the calls that led here, for cycles.
pub fn seal(ws: &Workspace, c: &mut Compiled, stack: &mut Vec<String>) -> Result<(), Vec<Diagnostic>> {
    let mut s = Sealer {
        ws,
        files: IndexMap::new(),
        unsealed: Vec::new(),
        diags: Vec::new(),
    };
    let pb = &c.playbook;
    let mut subs = IndexMap::new();
    for step in pb.steps.iter().chain(&pb.on_failure).chain(&pb.finally) {
        s.files_of(step, &step.id);
        let Some(a) = &step.action else { continue };
        let Action::Playbook(call) = &a.spec else { continue };
        let name = call.0.name.as_str();
        if templated(a, "/playbook/name") || name.contains("{{") {
            s.unsealed.push(format!(
                "step `{}` runs a playbook whose name is known only when it runs (`{name}`)",
                step.id
            ));
            continue;
        }
        let at = |d: Diagnostic| d.at(&pb.source, step.span);
        if stack.iter().any(|n| n == name) {
            let mut cycle = stack.clone();
            cycle.push(name.to_string());
            s.diags.push(at(Diagnostic::error(format!(
                "step `{}` makes a cycle of sub-playbooks: {}",
                step.id,
                cycle.join(" → ")
            ))));
            continue;
        }
        if stack.len() >= MAX_DEPTH {
            s.diags.push(at(Diagnostic::error(format!(
                "step `{}`: sub-playbooks nest deeper than {MAX_DEPTH}",
                step.id
            ))));
            continue;
        }
        let Ok(path) = ws.playbook_path(name) else {
            continue; // reported by the sub-playbook check
        };
        if let Ok(rel) = path.strip_prefix(&ws.root) {
            s.record(rel.to_string_lossy().replace('\\', "/"), FileRole::Playbook, &step.id);
        }
        // The params known before the run; the others are given when the step runs.
        let mut params = Vec::new();
        let mut complete = true;
        for (k, v) in &call.0.params {
            if templated(a, &format!("/playbook/params/{k}")) {
                complete = false;
                continue;
            }
            params.push((
                k.clone(),
                match v {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                },
            ));
        }
        let Ok(lp) = playbook::load_playbook(&path) else {
            continue; // reported by the sub-playbook check
        };
        let opts = Options {
            env: Some(&pb.env.name),
            params: &params,
            allow_missing_params: !complete,
        };
        stack.push(name.to_string());
        let child = compile_checked(ws, &lp, &opts).and_then(|mut child| {
            seal(ws, &mut child, stack)?;
            Ok(child)
        });
        stack.pop();
        match child {
            Ok(child) => {
                for f in &child.files {
                    for by in &f.steps {
                        let label = format!("{}/{by}", step.id);
                        s.record(f.path.clone(), f.role, &label);
                    }
                }
                s.unsealed.extend(
                    child
                        .unsealed
                        .iter()
                        .map(|u| format!("in sub-playbook `{name}` (step `{}`): {u}", step.id)),
                );
                subs.insert(
                    step.id.clone(),
                    SubCompiled {
                        name: name.to_string(),
                        complete,
                        compiled: child,
                    },
                );
            }
            Err(d) => {
                let first = d
                    .iter()
                    .find(|d| d.is_error())
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                s.diags.push(at(Diagnostic::error(format!(
                    "step `{}` runs playbook `{name}`, which does not compile with these params: {first}",
                    step.id
                ))));
            }
        }
    }
    if !s.diags.is_empty() {
        return Err(s.diags);
    }
    c.subs = subs;
    c.files = s.files.into_values().collect();
    c.unsealed = s.unsealed;
    Ok(())
}

/// The files of a plan as the run checks them: workspace-relative path → sha256 (`None`:
/// it did not exist).
pub type Sealed = std::collections::HashMap<String, Option<String>>;

pub fn sealed_of(files: &[SealedFile]) -> Sealed {
    files.iter().map(|f| (f.path.clone(), f.sha256.clone())).collect()
}

/// The workspace-relative form of a path a step names, as the plan records it.
pub fn sealed_path(rel: &str) -> Option<String> {
    inside(rel)
}

/// Whether `bytes`, just read from `rel`, are what the plan recorded. A file the plan does
/// not record (its path was known only at run time) passes.
pub fn check_sealed(sealed: &Sealed, rel: &str, bytes: &[u8]) -> Result<(), String> {
    let Some(key) = inside(rel) else { return Ok(()) };
    let Some(planned) = sealed.get(&key) else { return Ok(()) };
    let now = hex::encode(Sha256::digest(bytes));
    match planned {
        Some(p) if *p == now => Ok(()),
        Some(p) => Err(format!(
            "{key} changed since the plan was made (sha256 {} planned, {} now); nothing of it was used. Make the plan again.",
            short(p),
            short(&now)
        )),
        None => Err(format!(
            "{key} did not exist when the plan was made; nothing of it was used. Make the plan again."
        )),
    }
}

/// What changed on disk among `files` since they were recorded: one line each.
pub fn changed_files(root: &Path, files: &[SealedFile]) -> Vec<String> {
    let mut out = Vec::new();
    for f in files {
        let now = file_sha256(&root.join(&f.path));
        if now == f.sha256 {
            continue;
        }
        let what = match f.role {
            FileRole::Playbook => "playbook",
            FileRole::Manifest => "manifest",
            FileRole::Script => "script",
        };
        let by = f.steps.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ");
        let how = match (&f.sha256, &now) {
            (Some(p), Some(n)) => format!("sha256 {} when planned, {} now", short(p), short(n)),
            (Some(_), None) => "it is gone".to_string(),
            (None, Some(_)) => "it did not exist when planned".to_string(),
            (None, None) => unreachable!("equal above"),
        };
        out.push(format!("{} ({what} of step {by}): {how}", f.path));
    }
    out
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}
