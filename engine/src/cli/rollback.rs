//! `runbook rollback RUN_ID`: undoes, newest first, the finished steps of a run that was
//! interrupted, killed, refused, or ended with its rollback unfinished, using the undos its
//! journal recorded and the plan it ran (checked against the journal's plan hash). A
//! second call finds nothing left to undo.

use std::collections::HashMap;

use super::common::Global;
use super::session::{self, Session};
use crate::approve::Gatekeeper;
use crate::compile::RollbackPlan;
use crate::error;
use crate::exec::{Emitter, Engine, RunInfo, RunOptions, Unit};
use crate::journal::Past;
use crate::lock::Holder;
use crate::plan::Plan;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run (`runbook runs`); a unique prefix will do.
    pub run: String,
    /// List what would be undone, in order, and undo nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub flags: session::RunFlags,
}

pub fn exec(g: &Global, a: Args) -> i32 {
    let (ws, state, id, past) = match session::stopped_run(g, &a.run) {
        Ok(r) => r,
        Err(code) => return code,
    };
    // A missed measure is no failure of a step: every step went as planned.
    if matches!(past.finished.as_deref(), Some("succeeded" | "measure_missed")) {
        eprintln!(
            "error: run {id} succeeded; there is nothing to roll back (undoing a finished change is a change of its own: run the playbook that makes it)"
        );
        return error::INVALID;
    }
    // Exactly what ran is undone: the plan kept beside the journal, as the journal knows it.
    let plan = match session::read_plan(&state.run_dir(&id).join("plan.json")) {
        Ok(p) if p.hash == past.plan_hash => p,
        Ok(p) => {
            eprintln!(
                "error: run {id}'s plan file is {}, but its journal ran {}; nothing was undone",
                p.hash, past.plan_hash
            );
            return error::INVALID;
        }
        Err(e) => {
            eprintln!("error: run {id}: {e}; nothing was undone");
            return error::INVALID;
        }
    };
    let (todo, by_hand) = what_to_undo(&plan, &past);
    for label in &by_hand {
        eprintln!("note: step `{label}` ran in a sub-playbook; its caller's rollback covers it, or undo it by hand");
    }
    if todo.is_empty() {
        eprintln!("nothing to undo for run {id}: every finished step with a rollback is undone");
        return error::SUCCESS;
    }
    let secrets = match session::read_secrets(&plan, &ws.root) {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("error: {msg}");
            return error::INVALID;
        }
    };
    let by = session::user();
    let run = RunInfo {
        id: id.clone(),
        user: by.clone(),
        host: session::host(),
        started_at: past.started.clone(),
        playbook: past.playbook.clone(),
        env: past.env.clone(),
        file_sha256: String::new(),
        trigger: None,
    };
    let session = match Session::start(a.flags.grace) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let done = past.done.clone();
    if a.dry_run {
        let values: Vec<&str> = secrets.values().map(String::as_str).collect();
        let emitter = Emitter::new(Vec::new(), std::sync::Arc::new(crate::redact::Redactor::new(values)));
        let engine = engine(
            &ws.root,
            plan,
            &run,
            secrets,
            gates_for(&a, &by, None),
            emitter,
            &session,
        )
        .knowing(&done);
        println!("run {id}: would undo, in this order:");
        for line in engine.undo_list(&todo) {
            println!("  - {line}");
        }
        return error::SUCCESS;
    }
    if let Err(code) = super::resume::no_leftovers(&id, &secrets, "roll back") {
        return code;
    }
    let holder = Holder::now(format!("{id} (rollback)"), by.clone(), run.host.clone());
    let _lock = match session.take_lock(&ws, &plan, &state, &holder, a.flags.lock_wait) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let journal = match session::continue_journal(&state, &id, &past, "nothing was undone", error::ROLLBACK_FAILED) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let (progress, json) = session::display(a.flags.output == session::Output::Json);
    let prompter = session::prompter(a.flags.non_interactive, &progress);
    let values: Vec<&str> = secrets.values().map(String::as_str).collect();
    let emitter = session::emitter(journal, progress, json, &values);
    let engine = engine(
        &ws.root,
        plan,
        &run,
        secrets,
        gates_for(&a, &by, Some(prompter)),
        emitter.clone(),
        &session,
    )
    .knowing(&done);
    let (status, _) = session.rt.block_on(engine.undo(todo, &by));
    session::journal_failure(&emitter, &id);
    status.exit_code()
}

fn gates_for(a: &Args, by: &str, prompter: Option<std::sync::Arc<crate::approve::Prompter>>) -> Gatekeeper {
    Gatekeeper {
        approved: a.flags.approve.iter().cloned().collect(),
        prompter: prompter.unwrap_or_else(|| std::sync::Arc::new(crate::approve::Prompter::nobody())),
        user: by.to_string(),
        saved: None,
        live: None,
        // An undo's gates are confirmations at the terminal or `--approve`: no approvals.
        policy: std::sync::Arc::new(crate::approve::ApprovalPolicy::empty()),
    }
}

fn engine(
    root: &std::path::Path,
    plan: Plan,
    run: &RunInfo,
    secrets: indexmap::IndexMap<String, String>,
    gates: Gatekeeper,
    emitter: Emitter,
    session: &Session,
) -> Engine {
    let opts = RunOptions {
        workdir: root.to_path_buf(),
        inputs: HashMap::new(),
        signals: session.signals.clone(),
        webhooks: Default::default(),
    };
    Engine::new(plan, run, secrets, gates, opts, emitter)
}

/// What remains to undo, in order: steps whose action began and did not finish well (their
/// effect may be partial) first, then finished steps newest first; never what a rollback
/// already undid, nor what has no rollback. Steps of sub-playbooks are returned apart.
fn what_to_undo(plan: &Plan, past: &Past) -> (Vec<(usize, Unit)>, Vec<String>) {
    let index: HashMap<&str, usize> = plan.steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    let mut todo = Vec::new();
    let mut by_hand = Vec::new();
    let partial = past.in_doubt.iter().chain(&past.failed_started);
    let finished = past.done.iter().rev().map(|(label, _)| label);
    for label in partial.chain(finished) {
        if past.undone.contains(label) || todo.iter().any(|(_, u): &(usize, Unit)| u.label == *label) {
            continue;
        }
        if label.contains('/') {
            by_hand.push(label.clone());
            continue;
        }
        let id = label.split('[').next().unwrap_or(label);
        let Some(&i) = index.get(id) else { continue };
        let step = &plan.steps[i];
        let undo = past.undos.get(label).cloned();
        match (&step.rollback, &undo) {
            (None, _) => continue,
            // The action saw that it changed nothing.
            (Some(RollbackPlan::Auto { .. }), Some(crate::spec::Undo::Nothing)) => continue,
            _ => {}
        }
        let binding = match (&step.for_each, past.items.get(label)) {
            (Some(fe), Some(item)) => Some((fe.as_.clone(), item.clone())),
            _ => None,
        };
        todo.push((
            i,
            Unit {
                label: label.clone(),
                binding,
                undo,
            },
        ));
    }
    (todo, by_hand)
}
