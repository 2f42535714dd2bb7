//! Reports as Markdown: tables a person reads in a terminal, a pull request or a wiki. Every
//! cell goes through [`md_cell`], so a journal's text stays text.

use std::fmt::Write;

use super::escape::md_cell;
use super::history::History;
use super::model::{MeasureRow, RunReport};
use crate::report::summary::human_secs;

fn ms(v: u64) -> String {
    human_secs(v as f64 / 1000.0)
}

fn opt_ms(v: Option<u64>) -> String {
    v.map(ms).unwrap_or_else(|| "-".into())
}

/// A fence longer than any run of backticks in the text, so it cannot be closed from inside.
fn fenced(out: &mut String, lines: &[String]) {
    let longest = lines
        .iter()
        .flat_map(|l| l.split(|c| c != '`').map(str::len))
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(out, "{fence}text");
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    let _ = writeln!(out, "{fence}");
}

/// How a measure went, in words: `met`, `MISSED (on_miss: fail)`, or why it was not
/// measured.
pub fn measure_result(m: &MeasureRow) -> String {
    match (m.value_seconds, m.met) {
        (_, true) => "met".into(),
        (Some(_), false) => format!("MISSED (on_miss: {})", m.on_miss),
        (None, false) => format!(
            "{} (on_miss: {})",
            m.reason.as_deref().unwrap_or("not measured"),
            m.on_miss
        ),
    }
}

pub fn run(r: &RunReport) -> String {
    let h = &r.header;
    let mut out = String::new();
    let _ = writeln!(out, "# Run report: {} · {}\n", md_cell(&h.playbook), md_cell(&h.run));
    let _ = writeln!(out, "| | |\n|---|---|");
    let row = |out: &mut String, k: &str, v: String| {
        let _ = writeln!(out, "| {k} | {v} |");
    };
    let playbook = match &h.description {
        Some(d) => format!("{} — {}", md_cell(&h.playbook), md_cell(d)),
        None => md_cell(&h.playbook),
    };
    row(&mut out, "Playbook", playbook);
    row(&mut out, "Environment", md_cell(&h.env));
    row(&mut out, "Who", md_cell(&format!("{}@{}", h.user, h.host)));
    row(
        &mut out,
        "Trigger",
        md_cell(h.trigger.as_deref().unwrap_or("by hand (none recorded)")),
    );
    let when = match &h.finished {
        Some(f) => format!("{} → {} ({})", h.started, f, opt_ms(h.duration_ms)),
        None => format!("{} → (no end recorded)", h.started),
    };
    row(&mut out, "When", md_cell(&when));
    row(&mut out, "Plan", md_cell(&format!("{} ({})", h.plan_hash, h.plan)));
    let exit = h.exit_code.map(|c| format!(" (exit {c})")).unwrap_or_default();
    let later = h
        .rolled_back
        .as_ref()
        .map(|r| format!("; later rolled back: {r}"))
        .unwrap_or_default();
    row(
        &mut out,
        "Outcome",
        format!("**{}**{exit}{}", md_cell(&h.outcome), md_cell(&later)),
    );
    let verdict = if h.journal.verified {
        "verified"
    } else {
        "**NOT VERIFIED**"
    };
    row(
        &mut out,
        "Journal",
        format!("{verdict}: {}", md_cell(&h.journal.detail)),
    );
    if !h.resumed_by.is_empty() {
        row(&mut out, "Resumed by", md_cell(&h.resumed_by.join(", ")));
    }
    if !h.params.is_empty() {
        let params: Vec<String> = h.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        row(&mut out, "Params", md_cell(&params.join(" ")));
    }

    if !r.measures.is_empty() {
        let _ = writeln!(out, "\n## Measures\n");
        let _ = writeln!(
            out,
            "| Measure | What | Value | Target | Result |\n|---|---|---:|---:|---|"
        );
        for m in &r.measures {
            let what = match &m.description {
                Some(d) => format!("{} ({})", m.measures, d),
                None => m.measures.clone(),
            };
            let value = m.value_seconds.map(human_secs).unwrap_or_else(|| "-".into());
            let result = measure_result(m);
            let _ = writeln!(
                out,
                "| {} | {} | {value} | {} | {} |",
                md_cell(&m.name),
                md_cell(&what),
                human_secs(m.target_seconds),
                md_cell(&result)
            );
        }
    }

    let _ = writeln!(out, "\n## Timeline\n");
    let _ = writeln!(
        out,
        "| Step | Name | Start | Duration | Status | Attempts | Iterations |\n|---|---|---:|---:|---|---:|---:|"
    );
    for s in &r.timeline {
        let mut status = s.status.clone();
        if let Some(why) = s.why() {
            status.push_str(&format!(": {why}"));
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            md_cell(&s.step),
            md_cell(s.name.as_deref().unwrap_or("")),
            s.start_ms.map(|v| format!("+{}", ms(v))).unwrap_or_else(|| "-".into()),
            opt_ms(s.duration_ms),
            md_cell(&status),
            s.attempts,
            s.iterations
        );
    }

    let _ = writeln!(out, "\n## Gates\n");
    if r.gates.is_empty() {
        let _ = writeln!(out, "No gate was asked.");
    } else {
        let _ = writeln!(
            out,
            "| Step | Kind | Answer | By | How | When | Question |\n|---|---|---|---|---|---|---|"
        );
        for g in &r.gates {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} (+{}) | {} |",
                md_cell(&g.step),
                md_cell(&g.kind),
                if g.approved { "approved" } else { "**not approved**" },
                md_cell(&g.by),
                md_cell(&g.how),
                md_cell(&g.at),
                ms(g.at_ms),
                md_cell(&g.question)
            );
        }
    }

    if !r.escalations.is_empty() {
        let _ = writeln!(
            out,
            "\nEscalations while gates waited:\n\n| Step | Level | Notified | Via | When |\n|---|---|---|---|---|"
        );
        for e in &r.escalations {
            let via = e.via();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} (+{}) |",
                md_cell(&e.step),
                md_cell(&e.level),
                md_cell(&e.notified.join(", ")),
                md_cell(&via),
                md_cell(&e.at),
                ms(e.at_ms)
            );
        }
    }

    let _ = writeln!(out, "\n## Rollbacks\n");
    if r.rollbacks.is_empty() {
        let _ = writeln!(out, "Nothing was rolled back.");
    } else {
        let _ = writeln!(
            out,
            "| Step | Undo | Start | Duration | Result |\n|---|---|---:|---:|---|"
        );
        for rb in &r.rollbacks {
            let result = match (rb.ok, &rb.error) {
                (Some(true), _) => "undone".to_string(),
                (Some(false), e) => format!("**FAILED**: {}", md_cell(e.as_deref().unwrap_or(""))),
                (None, _) => "no end recorded".to_string(),
            };
            let by = if rb.later { " (runbook rollback)" } else { "" };
            let _ = writeln!(
                out,
                "| {}{by} | {} | +{} | {} | {result} |",
                md_cell(&rb.step),
                md_cell(&rb.summary),
                ms(rb.start_ms),
                opt_ms(rb.duration_ms)
            );
        }
    }
    if !r.remaining_undo.is_empty() {
        let _ = writeln!(out, "\n**Still to undo by hand, in this order:**\n");
        for u in &r.remaining_undo {
            let _ = writeln!(out, "1. {}", md_cell(u));
        }
    }

    let _ = writeln!(out, "\n## Failures\n");
    if r.failures.is_empty() {
        let _ = writeln!(out, "No step failed.");
    }
    for f in &r.failures {
        let _ = writeln!(
            out,
            "- **{}** {} at +{}: {}",
            md_cell(&f.what),
            md_cell(&f.status),
            ms(f.at_ms),
            md_cell(&f.message)
        );
        if !f.tail.is_empty() {
            let _ = writeln!(out);
            fenced(&mut out, &f.tail);
        }
    }

    let _ = writeln!(out, "\n## Outputs\n");
    if r.outputs.is_empty() {
        let _ = writeln!(out, "No step had outputs.");
    } else {
        let _ = writeln!(out, "| Step | Output | Value |\n|---|---|---|");
        for o in &r.outputs {
            let value = o.text();
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                md_cell(&o.step),
                md_cell(&o.name),
                md_cell(&value)
            );
        }
    }
    out
}

/// A sparkline of values in block characters (` ` where a run did not measure it).
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    let (lo, hi) = match (
        known.iter().copied().reduce(f64::min),
        known.iter().copied().reduce(f64::max),
    ) {
        (Some(lo), Some(hi)) => (lo, hi),
        _ => return "·".repeat(values.len()),
    };
    values
        .iter()
        .map(|v| match v {
            None => '·',
            Some(_) if hi == lo => BARS[3],
            Some(v) => BARS[(((v - lo) / (hi - lo)) * 7.0).round().clamp(0.0, 7.0) as usize],
        })
        .collect()
}

pub fn history(h: &History) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# History of {}: the last {} run{}\n",
        md_cell(&h.playbook),
        h.runs.len(),
        if h.runs.len() == 1 { "" } else { "s" }
    );
    let names: Vec<&str> = h.trends.iter().map(|t| t.name.as_str()).collect();
    let mut head = "| Run | Started | Env | Who | Trigger | Outcome | Duration | Journal |".to_string();
    let mut rule = "|---|---|---|---|---|---|---:|---|".to_string();
    for n in &names {
        head.push_str(&format!(" {} |", md_cell(n)));
        rule.push_str("---:|");
    }
    let _ = writeln!(out, "{head}\n{rule}");
    for r in &h.runs {
        let exit = r.exit_code.map(|c| format!(" (exit {c})")).unwrap_or_default();
        let mut line = format!(
            "| {} | {} | {} | {} | {} | {}{exit} | {} | {} |",
            md_cell(&r.run),
            md_cell(&r.started),
            md_cell(&r.env),
            md_cell(&r.user),
            md_cell(r.trigger.as_deref().unwrap_or("-")),
            md_cell(&r.outcome),
            opt_ms(r.duration_ms),
            if r.verified { "verified" } else { "**NOT VERIFIED**" }
        );
        for n in &names {
            let cell = match r.measures.iter().find(|m| m.name == *n) {
                Some(m) => match (m.value_seconds, m.met) {
                    (Some(v), true) => format!("{} ✓", human_secs(v)),
                    (Some(v), false) => format!("{} ✗", human_secs(v)),
                    (None, _) => "not measured".into(),
                },
                None => "-".into(),
            };
            line.push_str(&format!(" {cell} |"));
        }
        let _ = writeln!(out, "{line}");
    }
    if !h.trends.is_empty() {
        let _ = writeln!(out, "\n## Trend\n");
        let _ = writeln!(
            out,
            "| Measure | Target | Met | Best | Worst | Mean | Newest vs before | Runs |\n|---|---:|---:|---:|---:|---:|---|---|"
        );
        for t in &h.trends {
            let f = |v: Option<f64>| v.map(human_secs).unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "| {} | {} | {}/{} | {} | {} | {} | {} | {} |",
                md_cell(&t.name),
                human_secs(t.target_seconds),
                t.met,
                t.recorded,
                f(t.best),
                f(t.worst),
                f(t.mean),
                t.direction,
                sparkline(&t.values)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_spans_the_values() {
        assert_eq!(sparkline(&[Some(1.0), Some(8.0), None, Some(4.5)]), "▁█·▅");
        assert_eq!(sparkline(&[Some(2.0), Some(2.0)]), "▄▄");
        assert_eq!(sparkline(&[None]), "·");
    }

    #[test]
    fn a_fence_outlasts_the_backticks_inside() {
        let mut out = String::new();
        fenced(&mut out, &["````".to_string()]);
        assert!(out.starts_with("`````text\n"), "{out}");
    }
}
