//! `runbook resume RUN_ID`: continues a run that stopped (a crash, a kill) from its journal.

use std::collections::{HashMap, HashSet};

use super::common::Global;
use super::session::{self, Session};
use crate::approve::Gatekeeper;
use crate::error;
use crate::exec::{Engine, Resume, RunEvent, RunInfo, RunOptions};
use crate::lock::Holder;
use crate::plan::Plan;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run (`runbook runs`); a unique prefix will do.
    pub run: String,
    /// Go on although the playbook, params or environment now compile to a different plan
    /// (what changed is shown).
    #[arg(long)]
    pub accept_changes: bool,
    /// A step that started but never finished: run it again.
    #[arg(long = "rerun", value_name = "STEP")]
    pub rerun: Vec<String>,
    /// A step that started but never finished: it did its work; do not run it again.
    #[arg(long = "assume-done", value_name = "STEP")]
    pub assume_done: Vec<String>,
    #[command(flatten)]
    pub flags: session::RunFlags,
}

pub fn exec(g: &Global, a: Args) -> i32 {
    let (ws, state, id, past) = match session::stopped_run(g, &a.run) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if let Some(status) = &past.finished {
        eprintln!("error: run {id} finished ({status}); there is nothing to resume");
        return error::INVALID;
    }
    if past.rolled_back {
        eprintln!("error: run {id} was rolled back with `runbook rollback`; there is nothing to resume");
        return error::INVALID;
    }
    if !past.rolling_back.is_empty() {
        eprintln!(
            "error: run {id} stopped while rolling back ({}); resume cannot know what was undone: finish by hand (see `runbook audit show {id}`)",
            past.rolling_back.join(", ")
        );
        return error::ROLLBACK_FAILED;
    }

    // The plan again, from today's playbook with the run's params and environment.
    let params = session::as_given(&past.params);
    let (plan, _) = match super::plan::build(g, Some(&past.playbook), None, Some(&past.env), &params) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let secrets = match session::read_secrets(&plan, &ws.root) {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("error: {msg}");
            return error::INVALID;
        }
    };
    // A step still running from before the crash would race its own re-run, and makes
    // "did it finish?" unanswerable: wait until nothing of the run is left.
    if let Err(code) = no_leftovers(&id, &secrets, "resume") {
        return code;
    }
    if plan.hash != past.plan_hash {
        let old: Option<Plan> = std::fs::read_to_string(state.run_dir(&id).join("plan.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        let diff = old
            .map(|o| {
                let mut d = diff(&o, &plan);
                d.extend(file_diffs(&o, &state.run_dir(&id).join("files"), &ws.root));
                d
            })
            .unwrap_or_else(|| vec!["(the run's original plan was not kept)".into()]);
        if !a.accept_changes {
            eprintln!(
                "error: the plan changed since run {id} started ({} → {}):",
                past.plan_hash, plan.hash
            );
            for d in &diff {
                eprintln!("  {d}");
            }
            eprintln!("resume with --accept-changes to go on with the new plan");
            return error::INVALID;
        }
        eprintln!("accepting plan changes since run {id} started:");
        for d in &diff {
            eprintln!("  {d}");
        }
    }

    // Steps whose outcome is unknown: idempotent and read-only ones run again (running
    // them twice is harmless by definition); the others are the operator's call.
    let step_of = |label: &str| plan.step(label).cloned();
    let flags: Vec<&String> = a.rerun.iter().chain(&a.assume_done).collect();
    for f in &flags {
        if !past.in_doubt.contains(f) {
            eprintln!(
                "error: `{f}` is not a step whose outcome is unknown (those are: {})",
                if past.in_doubt.is_empty() {
                    "none".to_string()
                } else {
                    past.in_doubt.join(", ")
                }
            );
            return error::INVALID;
        }
    }
    let session = match Session::start(a.flags.grace) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (progress, json) = session::display(a.flags.output == session::Output::Json);
    let prompter = session::prompter(a.flags.non_interactive, &progress);
    let (mut rerun, mut assume_done) = (Vec::new(), Vec::new());
    for label in &past.in_doubt {
        let idempotent = step_of(label).is_some_and(|s| s.idempotent || s.effect == crate::spec::Effect::ReadOnly);
        if a.rerun.contains(label) || (idempotent && !a.assume_done.contains(label)) {
            rerun.push(label.clone());
        } else if a.assume_done.contains(label) {
            assume_done.push(label.clone());
        } else {
            let question = format!(
                "Step `{label}` started but its end was not recorded. Did it do its work (do not run it again)?"
            );
            let waits = session.signals.outside();
            let asked = prompter.confirm(&question, "If unsure, check the system, then answer.", &waits);
            match session.rt.block_on(asked) {
                Ok(true) => assume_done.push(label.clone()),
                Ok(false) => rerun.push(label.clone()),
                Err(_) => {
                    eprintln!(
                        "error: step `{label}` of run {id} started but never finished, and it is not idempotent: say what to do with --rerun {label} or --assume-done {label}"
                    );
                    return error::REFUSED;
                }
            }
        }
    }

    let by = session::user();
    let host = session::host();
    let run = RunInfo {
        id: id.clone(),
        user: past.user.clone(),
        host: host.clone(),
        started_at: past.started.clone(),
        playbook: past.playbook.clone(),
        env: past.env.clone(),
        file_sha256: String::new(),
        trigger: None,
    };
    let holder = Holder::now(id.clone(), by.clone(), host);
    let _lock = match session.take_lock(&ws, &plan, &state, &holder, a.flags.lock_wait) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let journal = match session::continue_journal(&state, &id, &past, "nothing was run", error::INVALID) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let _ = session::save_plan(&state, &id, &plan, &ws.root);
    let webhooks = session::contact_webhooks(&plan);
    let values: Vec<&str> = secrets.values().chain(webhooks.values()).map(String::as_str).collect();
    let emitter = session::emitter(journal, progress, json, &values);
    let mut done = past.done.clone();
    done.extend(assume_done.iter().map(|l| (l.clone(), serde_json::Map::new())));
    let resume = Resume {
        event: RunEvent::Resumed {
            run: id.clone(),
            by: by.clone(),
            plan_hash: plan.hash.clone(),
            accepted_changes: plan.hash != past.plan_hash,
            rerun,
            assume_done,
        },
        done,
        skipped: past.skipped.iter().cloned().collect::<HashSet<_>>(),
        undos: past.undos.clone(),
    };
    let gates = Gatekeeper {
        approved: a.flags.approve.iter().cloned().collect(),
        prompter,
        user: by,
        saved: None,
        live: Some((state.clone(), id.clone())),
        policy: std::sync::Arc::new(crate::approve::ApprovalPolicy::load(&ws)),
    };
    let opts = RunOptions {
        workdir: ws.root.clone(),
        inputs: a.flags.inputs.iter().cloned().collect::<HashMap<_, _>>(),
        signals: session.signals.clone(),
        webhooks: std::sync::Arc::new(webhooks),
    };
    let engine = Engine::new(plan, &run, secrets, gates, opts, emitter.clone()).resuming(resume);
    session.drive(engine, &emitter, &id)
}

/// Refuses (exit 5) while processes of a killed run still live, naming them (their command
/// lines redacted: a rendered command may hold a secret).
pub fn no_leftovers(id: &str, secrets: &indexmap::IndexMap<String, String>, what: &str) -> Result<(), i32> {
    let left = crate::exec::leftovers(id);
    if left.is_empty() {
        return Ok(());
    }
    let redactor = crate::redact::Redactor::new(secrets.values().map(String::as_str));
    eprintln!("error: run {id} still has processes running from before it stopped; {what} when they have ended:");
    for l in &left {
        eprintln!(
            "  step `{}`: pid {} (group {}): {}",
            l.step,
            l.pid,
            l.pgid,
            redactor.redact(&l.command)
        );
    }
    eprintln!("wait for them, or stop them: kill -- -GROUP");
    Err(error::LOCKED)
}

/// What differs between two plans, step by step (sub-playbooks' steps as `caller/step`).
fn diff(old: &Plan, new: &Plan) -> Vec<String> {
    let mut out = diff_steps(&old.body, &new.body, "");
    if old.params != new.params || old.vars != new.vars || old.env != new.env {
        out.push("~ params, vars or the environment changed".into());
    }
    if out.is_empty() {
        out.push("(no step changed; the plan's details did)".into());
    }
    out
}

/// The files the run sealed that are no longer as they were, each with a unified diff from
/// the copy the run kept (`kept`: its `files/` dir).
fn file_diffs(old: &Plan, kept: &std::path::Path, root: &std::path::Path) -> Vec<String> {
    const MOST: usize = 60;
    let mut out = Vec::new();
    for line in crate::compile::changed_files(root, &old.files) {
        out.push(format!("~ file {line}"));
        let Some(f) = old.files.iter().find(|f| line.starts_with(&format!("{} (", f.path))) else {
            continue;
        };
        let before = f
            .sha256
            .as_ref()
            .and_then(|sha| std::fs::read_to_string(kept.join(sha)).ok());
        let after = std::fs::read_to_string(root.join(&f.path)).unwrap_or_default();
        let Some(before) = before else {
            out.push("    (its content when the run started was not kept)".into());
            continue;
        };
        let text = similar::TextDiff::from_lines(&before, &after);
        let unified = text
            .unified_diff()
            .context_radius(2)
            .header(&format!("{} (run start)", f.path), &format!("{} (now)", f.path))
            .to_string();
        let lines: Vec<&str> = unified.lines().collect();
        for l in lines.iter().take(MOST) {
            out.push(format!("    {l}"));
        }
        if lines.len() > MOST {
            out.push(format!("    … {} more lines", lines.len() - MOST));
        }
    }
    out
}

fn diff_steps(old: &crate::plan::PlanBody, new: &crate::plan::PlanBody, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for s in &new.steps {
        match old.steps.iter().find(|o| o.id == s.id) {
            None => out.push(format!("+ step `{prefix}{}` is new", s.id)),
            Some(o) if o != s => {
                let what = match (&o.action, &s.action) {
                    (Some(a), Some(b)) if a.summary != b.summary => format!(": {} → {}", a.summary, b.summary),
                    _ => " (gates, checks, rollback or options)".into(),
                };
                out.push(format!("~ step `{prefix}{}` changed{what}", s.id));
            }
            _ => {}
        }
        if let (Some(o), Some(n)) = (old.subplans.get(&s.id), new.subplans.get(&s.id)) {
            out.extend(diff_steps(&o.plan, &n.plan, &format!("{prefix}{}/", s.id)));
        }
    }
    for o in &old.steps {
        if !new.steps.iter().any(|s| s.id == o.id) {
            out.push(format!("- step `{prefix}{}` is gone", o.id));
        }
    }
    out
}
