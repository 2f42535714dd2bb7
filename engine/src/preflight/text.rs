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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::model::{CheckLine, How, StepCheck};
    use crate::spec::Effect;

    fn step(id: &str, section: Section, verdict: Verdict) -> StepCheck {
        StepCheck {
            id: id.into(),
            section,
            action: Some("k8s scale".into()),
            effect: Effect::Mutating,
            verdict,
            preconditions: vec![],
        }
    }

    #[test]
    fn one_line_per_step_with_its_glyph_and_a_last_line_that_decides() {
        let mut scale = step("scale", Section::Steps, Verdict::ready(How::DryRun, "dry run admitted"));
        scale.preconditions.push(CheckLine {
            name: "nodes ready".into(),
            verdict: Verdict::fail(Some(How::Ran), "node-2 is NotReady"),
        });
        let p = Preflight {
            format: 1,
            playbook: "scale".into(),
            env: "prod".into(),
            plan_hash: "sha256:0".into(),
            ok: false,
            interrupted: false,
            blockers: vec![],
            steps: vec![
                scale,
                step(
                    "rollout",
                    Section::Steps,
                    Verdict::unknown("scale", "it reads what scale changes"),
                ),
                step("tell", Section::Finally, Verdict::not_checked("external")),
            ],
        };
        let text = render(&p);
        assert_eq!(
            text,
            "check scale · env prod · plan sha256:0
✓ scale    ready: dry run admitted
  ✗ precondition `nodes ready`: would fail: node-2 is NotReady
? rollout  unknown until scale runs: it reads what scale changes
finally
· tell     not checked: external
the run would fail (1 ready, 1 unknown, 1 not checked)
"
        );
    }

    #[test]
    fn a_failure_outranks_an_unknown() {
        let v = Verdict::unknown("a", "x").worst(Verdict::fail(None, "y"));
        assert_eq!(v.status, Status::WouldFail);
        let v = Verdict::fail(None, "y").worst(Verdict::ready(How::Ran, "z"));
        assert_eq!(v.status, Status::WouldFail);
    }
}
