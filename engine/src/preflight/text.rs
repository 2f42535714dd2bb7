//! The preflight for people: one line per step (`✓`, `✗`, `?`, `·`), its preconditions
//! under it, and a last line that says whether the run would fail.

use std::fmt::Write;

use super::model::{Preflight, Section, Status, Verdict};

/// What a verdict says, status first: `would fail: …`, `unknown until scale runs: …`.
fn said(v: &Verdict) -> String {
    let head = match v.status {
        Status::Ready => "ready".to_string(),
        Status::WouldFail => "would fail".to_string(),
        Status::Unknown => format!("unknown until {} runs", v.until.as_deref().unwrap_or("an earlier step")),
        Status::Skipped => "skipped".to_string(),
        Status::NotChecked => "not checked".to_string(),
    };
    if v.message.is_empty() {
        head
    } else {
        format!("{head}: {}", v.message)
    }
}

pub fn render(p: &Preflight) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "check {} · env {} · plan {}", p.playbook, p.env, p.plan_hash);
    for b in &p.blockers {
        let _ = writeln!(out, "✗ {b}");
    }
    let width = p.steps.iter().map(|s| s.id.chars().count()).max().unwrap_or(0);
    let mut section = Section::Steps;
    for s in &p.steps {
        if s.section != section {
            section = s.section;
            let _ = writeln!(
                out,
                "{}",
                match section {
                    Section::OnFailure => "on failure",
                    _ => "finally",
                }
            );
        }
        let _ = writeln!(out, "{} {:width$}  {}", s.status.glyph(), s.id, said(&s.verdict));
        for c in &s.preconditions {
            let _ = writeln!(
                out,
                "  {} precondition `{}`: {}",
                c.status.glyph(),
                c.name,
                said(&c.verdict)
            );
        }
    }
    let counts: Vec<String> = [
        (Status::Ready, "ready"),
        (Status::WouldFail, "would fail"),
        (Status::Unknown, "unknown"),
        (Status::Skipped, "skipped"),
        (Status::NotChecked, "not checked"),
    ]
    .iter()
    .filter_map(|(st, word)| {
        let n = p.count(*st);
        (n > 0).then(|| format!("{n} {word}"))
    })
    .collect();
    let verdict = if p.interrupted {
        "interrupted: the check did not finish"
    } else if p.ok {
        "nothing would fail"
    } else {
        "the run would fail"
    };
    let _ = writeln!(out, "{verdict} ({})", counts.join(", "));
    out
}
