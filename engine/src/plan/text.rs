//! The plan for people: waves of steps, each with its rendered action, risk, effect, gates,
//! checks, timing and rollback.

use std::fmt::Write;

use super::model::{Plan, PlanBody};
use crate::compile::{Gate, GateKind, RollbackPlan, Step};
use crate::playbook::Risk;
use crate::spec::Effect;

pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let total = plan.steps.len();
    let _ = writeln!(
        out,
        "plan {} · env {} · {total} step{} in {} wave{}",
        plan.playbook.name,
        plan.env.name,
        plural(total),
        plan.waves.len(),
        plural(plan.waves.len())
    );
    if let Some(d) = &plan.playbook.description {
        let _ = writeln!(out, "  {d}");
    }
    let _ = writeln!(out, "hash {}", plan.hash);
    if !plan.params.is_empty() {
        let params: Vec<String> = plan.params.iter().map(|(k, v)| format!("{k}={}", scalar(v))).collect();
        let _ = writeln!(out, "params {}", params.join(" "));
    }
    let _ = writeln!(out, "lock {} · concurrency {}", plan.lock, plan.concurrency);
    if let Some(e) = &plan.escalate {
        let announce = e
            .channel
            .as_ref()
            .map(|c| format!("announced in #{c}; "))
            .unwrap_or_default();
        let after = e.after.map(|a| format!("after {a}: ")).unwrap_or_default();
        let _ = writeln!(
            out,
            "incident: {announce}waiting steps escalate {after}{}",
            e.levels_text()
        );
    }
    for g in &plan.guards {
        let _ = writeln!(
            out,
            "guard {}: {} every {}, aborts if {}",
            g.name, g.action.summary, g.every, g.abort_if
        );
    }
    for (i, wave) in plan.waves.iter().enumerate() {
        let _ = writeln!(
            out,
            "\nwave {}{}",
            i + 1,
            if wave.len() > 1 {
                format!(" ({} in parallel)", wave.len())
            } else {
                String::new()
            }
        );
        for id in wave {
            if let Some(step) = plan.steps.iter().find(|s| &s.id == id) {
                step_with_sub(&mut out, &plan.body, step, 0);
            }
        }
    }
    for (title, steps) in [
        ("on failure (after rollback)", &plan.on_failure),
        ("finally (every run)", &plan.finally),
    ] {
        if !steps.is_empty() {
            let _ = writeln!(out, "\n{title}");
            for step in steps {
                step_with_sub(&mut out, &plan.body, step, 0);
            }
        }
    }
    if !plan.measures.is_empty() {
        let _ = writeln!(out, "\nmeasures (when the run ends)");
        for m in &plan.measures {
            let _ = writeln!(
                out,
                "  {}: {}, target {}{}",
                m.name,
                m.measures.text(),
                m.target,
                match m.on_miss {
                    crate::playbook::OnMiss::Warn => "",
                    crate::playbook::OnMiss::Fail => " (a miss fails the run)",
                }
            );
            if let Some(d) = &m.description {
                let _ = writeln!(out, "    {d}");
            }
        }
    }
    let _ = writeln!(out, "\n{}", summary(plan));
    out
}

/// A step, and under it the steps of the sub-playbook it runs, indented one level deeper.
fn step_with_sub(out: &mut String, body: &PlanBody, step: &Step, depth: usize) {
    let mut block = String::new();
    step_block(&mut block, step);
    indent(out, &block, depth);
    let Some(sub) = body.subplans.get(&step.id) else {
        return;
    };
    let child = &sub.plan;
    let mut head = String::new();
    let _ = writeln!(
        head,
        "      ┆ playbook {} · {} step{} in {} wave{} · lock {}{}",
        sub.playbook,
        child.steps.len(),
        plural(child.steps.len()),
        child.waves.len(),
        plural(child.waves.len()),
        child.lock,
        if sub.complete {
            ""
        } else {
            " · params known only at run time are shown as <params.…>"
        }
    );
    indent(out, &head, depth);
    for (i, wave) in child.waves.iter().enumerate() {
        indent(out, &format!("      ┆ wave {}\n", i + 1), depth);
        for id in wave {
            if let Some(s) = child.steps.iter().find(|s| &s.id == id) {
                step_with_sub(out, child, s, depth + 1);
            }
        }
    }
    for (title, steps) in [("on failure", &child.on_failure), ("finally", &child.finally)] {
        if !steps.is_empty() {
            indent(out, &format!("      ┆ {title}\n"), depth);
            for s in steps {
                step_with_sub(out, child, s, depth + 1);
            }
        }
    }
}

fn indent(out: &mut String, text: &str, depth: usize) {
    let pad = "    ".repeat(depth);
    for line in text.lines() {
        let _ = writeln!(out, "{pad}{line}");
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn mark(step: &Step) -> &'static str {
    if !step.gates.is_empty() {
        "◆"
    } else if step.risk >= Risk::High || step.effect == Effect::Irreversible {
        "▲"
    } else {
        "●"
    }
}

fn step_block(out: &mut String, step: &Step) {
    let title = match &step.name {
        Some(n) => format!("{} · {n}", step.id),
        None => step.id.clone(),
    };
    let _ = writeln!(out, "  {} {title}", mark(step));
    let mut facts = vec![format!("risk {}", step.risk.as_str()), step.effect.as_str().to_string()];
    facts.push(format!("timeout {}", step.timeout));
    if !step.needs.is_empty() {
        facts.push(format!("needs {}", step.needs.join(", ")));
    }
    if step.idempotent {
        facts.push("idempotent".into());
    }
    if step.on_failure != crate::playbook::OnFailure::Rollback {
        facts.push(format!(
            "on failure {}",
            format!("{:?}", step.on_failure).to_lowercase()
        ));
    }
    let _ = writeln!(out, "      {}", facts.join(" · "));
    if let Some(w) = &step.when {
        let v = match w.value {
            Some(true) => " (true: runs)",
            Some(false) => " (false: skipped)",
            None => " (decided at run time)",
        };
        field(out, "when", &format!("{}{v}", w.expr));
    }
    if let Some(f) = &step.for_each {
        field(
            out,
            "for each",
            &format!("{} in {} (at most {} at once)", f.as_, f.items, f.max_parallel),
        );
    }
    for (i, c) in step.preconditions.iter().enumerate() {
        let action = format!("{}: {}", c.action.spec.key(), c.action.summary);
        let text = if c.name == c.action.summary {
            action
        } else {
            format!("{} ({action})", c.name)
        };
        field(out, if i == 0 { "checks" } else { "" }, &text);
    }
    for (i, g) in step.gates.iter().enumerate() {
        field(out, if i == 0 { "gates" } else { "" }, &gate(g));
    }
    if let Some(e) = &step.escalate {
        field(out, "escalates", &e.chain());
    }
    if let Some(a) = &step.action {
        field(out, "action", &format!("{}: {}", a.spec.key(), a.summary));
    } else {
        field(out, "action", "none (a gate)");
    }
    if let Some(r) = &step.retry {
        let mut t = format!("{} attempts", r.attempts);
        if let Some(d) = r.delay {
            t.push_str(&format!(", delay {d}"));
        }
        if let Some(b) = r.backoff {
            t.push_str(&format!(", backoff ×{b}"));
        }
        field(out, "retry", &t);
    }
    if let Some(u) = &step.until {
        let every = step.interval.map(|i| format!(" (every {i})")).unwrap_or_default();
        field(out, "until", &format!("{u}{every}"));
    }
    if !step.outputs.is_empty() {
        let names: Vec<&str> = step.outputs.keys().map(String::as_str).collect();
        field(out, "outputs", &names.join(", "));
    }
    match &step.rollback {
        Some(RollbackPlan::Auto { description }) => field(out, "rollback", &format!("auto: {description}")),
        Some(RollbackPlan::Steps(steps)) => {
            for (i, r) in steps.iter().enumerate() {
                field(
                    out,
                    if i == 0 { "rollback" } else { "" },
                    &format!("{}: {}", r.action.spec.key(), r.action.summary),
                );
            }
        }
        None => {}
    }
}

fn gate(g: &Gate) -> String {
    let why = g.reasons.join("; ");
    match g.kind {
        GateKind::Confirm => match &g.question {
            Some(q) => format!("confirm \"{q}\" ({why})"),
            None => format!("confirm ({why})"),
        },
        GateKind::Approval => {
            let mut t = match &g.approval {
                Some(a) => format!(
                    "approval by {} (min {}{})",
                    a.approvers.join(", "),
                    a.min.unwrap_or(1),
                    a.timeout.map(|t| format!(", timeout {t}")).unwrap_or_default()
                ),
                None => "approval by another person".to_string(),
            };
            if g.two_person && g.approval.is_some() {
                t.push_str(", not the runner");
            }
            if g.signed {
                t.push_str(", signed");
            }
            format!("{t} ({why})")
        }
    }
}

/// A labelled line; multi-line values continue under the value column.
fn field(out: &mut String, label: &str, value: &str) {
    let mut lines = value.lines();
    let first = lines.next().unwrap_or("");
    let _ = writeln!(out, "      {label:<10}{first}");
    for l in lines {
        let _ = writeln!(out, "      {:<10}{l}", "");
    }
}

fn summary(plan: &Plan) -> String {
    let all = || plan.steps.iter();
    let count = |e: Effect| all().filter(|s| s.effect == e).count();
    let confirms = all()
        .filter(|s| s.gates.iter().any(|g| g.kind == GateKind::Confirm))
        .count();
    let approvals = all()
        .filter(|s| s.gates.iter().any(|g| g.kind == GateKind::Approval))
        .count();
    let rollbacks = all().filter(|s| s.rollback.is_some()).count();
    format!(
        "{} read-only · {} mutating · {} irreversible · {} external | {confirms} to confirm · {approvals} to approve | {rollbacks} with rollback",
        count(Effect::ReadOnly),
        count(Effect::Mutating),
        count(Effect::Irreversible),
        count(Effect::External),
    )
}
