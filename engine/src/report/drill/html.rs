//! Reports as one self-contained HTML file: inline CSS and SVG, no script, nothing fetched
//! (its Content-Security-Policy forbids both, should anything slip in), readable on screen
//! and on paper. Every string from a journal or plan goes through [`html`].

use std::fmt::Write;

use super::escape::{html, status_class};
use super::history::History;
use super::markdown::measure_result;
use super::model::RunReport;
use super::svg;
use crate::report::summary::human_secs;

const STYLE: &str = r#"
:root { --ok:#1a7f37; --failed:#cf222e; --timed:#bc4c00; --skipped:#8c959f; --declined:#9a6700;
  --unfinished:#0969da; --undo:#8250df; --ink:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#fff; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
  background: var(--bg); margin: 0 auto; padding: 24px; max-width: 1040px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th { font-weight: 600; background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv th { width: 140px; background: none; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-weight: 600; font-size: 12px; }
.badge.st-ok { background: var(--ok); } .badge.st-failed, .badge.st-missed { background: var(--failed); }
.badge.st-timed_out { background: var(--timed); } .badge.st-skipped, .badge.st-not_run, .badge.st-other { background: var(--skipped); }
.badge.st-declined { background: var(--declined); } .badge.st-unfinished { background: var(--unfinished); }
.badge.st-undo { background: var(--undo); }
.warn { border-left: 4px solid var(--failed); background: #ffebe9; padding: 8px 12px; }
.muted, .note { color: var(--muted); }
.chart { overflow-x: auto; }
svg text { font: 12px -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; fill: var(--ink); }
svg .axis { fill: var(--muted); font-size: 11px; } svg .note { fill: var(--muted); font-style: italic; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .bar.st-ok, svg .box.st-ok, svg circle.st-ok { fill: var(--ok); }
svg .bar.st-failed, svg .box.st-failed, svg circle.st-failed { fill: var(--failed); }
svg .bar.st-timed_out, svg .box.st-timed_out { fill: var(--timed); }
svg .bar.st-skipped, svg .box.st-skipped, svg .bar.st-other, svg .box.st-other { fill: var(--skipped); }
svg .bar.st-declined, svg .box.st-declined { fill: var(--declined); }
svg .bar.st-unfinished, svg .box.st-unfinished { fill: var(--unfinished); }
svg .bar.st-undo { fill: var(--undo); }
svg .box.st-not_run { fill: #fff; stroke: var(--skipped); stroke-dasharray: 4 3; }
svg .box { stroke: rgba(0,0,0,.25); }
svg .node text { fill: #fff; font-weight: 600; }
svg .node .st-not_run + text { fill: var(--muted); }
svg .gate { stroke: #fff; stroke-width: 1.5; } svg .gate.st-ok { fill: #0a3d1a; } svg .gate.st-failed { fill: var(--failed); }
svg .edge { fill: none; stroke: var(--muted); stroke-width: 1.4; } svg .arrowhead { fill: var(--muted); }
svg .target { stroke: var(--failed); stroke-dasharray: 4 3; } svg .line { fill: none; stroke: var(--unfinished); stroke-width: 1.5; }
.legend span { margin-right: 14px; white-space: nowrap; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -1px; margin-right: 4px; }
.legend .st-ok { background: var(--ok); } .legend .st-failed { background: var(--failed); }
.legend .st-timed_out { background: var(--timed); } .legend .st-skipped { background: var(--skipped); }
.legend .st-declined { background: var(--declined); } .legend .st-unfinished { background: var(--unfinished); }
.legend .st-undo { background: var(--undo); }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
@page { margin: 14mm; }
@media print {
  body { padding: 0; max-width: none; font-size: 11pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .chart { overflow: visible; }
  svg { max-width: 100%; height: auto; }
  section { break-inside: avoid-page; }
  h2 { break-after: avoid; }
  tr { break-inside: avoid; }
}
"#;

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        html(title)
    );
}

/// A status as a coloured label: `class_of` picks the colour, `text` is what it says.
fn badge_as(class_of: &str, text: &str) -> String {
    format!(
        r#"<span class="badge {}">{}</span>"#,
        status_class(class_of),
        html(text)
    )
}

fn badge(status: &str) -> String {
    badge_as(status, &status.replace('_', " "))
}

fn secs(ms: u64) -> String {
    human_secs(ms as f64 / 1000.0)
}

fn legend(out: &mut String) {
    out.push_str(r#"<p class="legend">"#);
    for (class, word) in [
        ("st-ok", "ok"),
        ("st-failed", "failed"),
        ("st-timed_out", "timed out"),
        ("st-declined", "declined"),
        ("st-skipped", "skipped / not run"),
        ("st-unfinished", "unfinished"),
        ("st-undo", "rollback"),
    ] {
        let _ = write!(out, r#"<span><i class="{class}"></i>{word}</span>"#);
    }
    out.push_str("<span>◆ gate</span></p>\n");
}

pub fn run(r: &RunReport) -> String {
    let h = &r.header;
    let mut out = String::new();
    head(&mut out, &format!("Run report: {} · {}", h.playbook, h.run));
    let _ = write!(
        out,
        "<header>\n<h1>{} <span class=\"muted\">run {}</span></h1>\n<p>{} {}</p>\n</header>\n",
        html(&h.playbook),
        html(&h.run),
        badge(&h.outcome),
        html(&h.description.clone().unwrap_or_default())
    );
    if !h.journal.verified {
        let _ = writeln!(
            out,
            "<p class=\"warn\"><strong>This run's journal does not verify</strong>: {}. What follows is what the journal says, but it may have been altered.</p>",
            html(&h.journal.detail)
        );
    }

    out.push_str("<section id=\"summary\">\n<table class=\"kv\">\n");
    let row = |out: &mut String, k: &str, v: String| {
        let _ = writeln!(out, "<tr><th>{k}</th><td>{v}</td></tr>");
    };
    row(&mut out, "Playbook", html(&h.playbook));
    row(&mut out, "Environment", html(&h.env));
    row(&mut out, "Who", html(&format!("{}@{}", h.user, h.host)));
    row(
        &mut out,
        "Trigger",
        html(h.trigger.as_deref().unwrap_or("by hand (none recorded)")),
    );
    let when = match (&h.finished, h.duration_ms) {
        (Some(f), Some(d)) => format!("{} → {f} ({})", h.started, secs(d)),
        _ => format!("{} → no end recorded", h.started),
    };
    row(&mut out, "When", html(&when));
    row(
        &mut out,
        "Plan",
        format!("<span class=\"mono\">{}</span> ({})", html(&h.plan_hash), html(&h.plan)),
    );
    let mut outcome = badge(&h.outcome);
    if let Some(c) = h.exit_code {
        let _ = write!(outcome, " exit {c}");
    }
    if let Some(rb) = &h.rolled_back {
        let _ = write!(outcome, "; later rolled back ({})", html(rb));
    }
    row(&mut out, "Outcome", outcome);
    row(
        &mut out,
        "Journal",
        format!(
            "{} {}",
            if h.journal.verified {
                badge_as("ok", "verified")
            } else {
                badge_as("failed", "NOT VERIFIED")
            },
            html(&h.journal.detail)
        ),
    );
    if !h.resumed_by.is_empty() {
        row(&mut out, "Resumed by", html(&h.resumed_by.join(", ")));
    }
    if !h.params.is_empty() {
        let params: Vec<String> = h
            .params
            .iter()
            .map(|(k, v)| format!("<code>{}={}</code>", html(k), html(&v.to_string())))
            .collect();
        row(&mut out, "Params", params.join(" "));
    }
    row(&mut out, "Engine", html(&h.engine_version));
    out.push_str("</table>\n</section>\n");

    if !r.measures.is_empty() {
        out.push_str("<section id=\"measures\">\n<h2>Measures</h2>\n<table>\n<tr><th>Measure</th><th>What</th><th class=\"num\">Value</th><th class=\"num\">Target</th><th>Result</th></tr>\n");
        for m in &r.measures {
            let status = match (m.value_seconds, m.met) {
                (_, true) => "met",
                (Some(_), false) => "missed",
                (None, false) => "not_run",
            };
            let mut what = html(&m.measures);
            if let Some(d) = &m.description {
                let _ = write!(what, "<br><span class=\"muted\">{}</span>", html(d));
            }
            let result = badge_as(status, &measure_result(m));
            let _ = writeln!(
                out,
                "<tr><td><strong>{}</strong></td><td>{what}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{result}</td></tr>",
                html(&m.name),
                m.value_seconds
                    .map(human_secs)
                    .map(|v| html(&v))
                    .unwrap_or_else(|| "–".into()),
                html(&human_secs(m.target_seconds))
            );
        }
        out.push_str("</table>\n</section>\n");
    }

    out.push_str("<section id=\"timeline\">\n<h2>Timeline</h2>\n<div class=\"chart\">");
    out.push_str(&svg::gantt(r));
    out.push_str("</div>\n");
    legend(&mut out);
    out.push_str("<table>\n<tr><th>Step</th><th>Name</th><th class=\"num\">Start</th><th class=\"num\">Duration</th><th>Status</th><th class=\"num\">Attempts</th><th class=\"num\">Iterations</th></tr>\n");
    for s in &r.timeline {
        let mut status = badge(&s.status);
        if let Some(why) = s.why() {
            let _ = write!(status, " <span class=\"muted\">{}</span>", html(why));
        }
        let _ = writeln!(
            out,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{status}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            html(&s.step),
            html(s.name.as_deref().unwrap_or("")),
            s.start_ms
                .map(|v| format!("+{}", html(&secs(v))))
                .unwrap_or_else(|| "–".into()),
            s.duration_ms.map(|v| html(&secs(v))).unwrap_or_else(|| "–".into()),
            s.attempts,
            s.iterations
        );
    }
    out.push_str("</table>\n</section>\n");

    if let Some(dag) = svg::dag(r) {
        out.push_str("<section id=\"dag\">\n<h2>Plan (steps in waves)</h2>\n<div class=\"chart\">");
        out.push_str(&dag);
        out.push_str("</div>\n</section>\n");
    }

    out.push_str("<section id=\"gates\">\n<h2>Gates</h2>\n");
    if r.gates.is_empty() {
        out.push_str("<p class=\"muted\">No gate was asked.</p>\n");
    } else {
        out.push_str("<table>\n<tr><th>Step</th><th>Kind</th><th>Answer</th><th>By</th><th>How</th><th>When</th><th>Question</th></tr>\n");
        for g in &r.gates {
            let answer = if g.approved {
                badge_as("ok", "approved")
            } else {
                badge_as("failed", "not approved")
            };
            let _ = writeln!(
                out,
                "<tr><td class=\"mono\">{}</td><td>{}</td><td>{answer}</td><td>{}</td><td>{}</td><td class=\"num\">{} (+{})</td><td>{}</td></tr>",
                html(&g.step),
                html(&g.kind),
                html(&g.by),
                html(&g.how),
                html(&g.at),
                html(&secs(g.at_ms)),
                html(&g.question)
            );
        }
        out.push_str("</table>\n");
    }
    if !r.escalations.is_empty() {
        out.push_str("<h3>Escalations while gates waited</h3>\n<table>\n<tr><th>Step</th><th>Level</th><th>Notified</th><th>Via</th><th>When</th></tr>\n");
        for e in &r.escalations {
            let via = e.via();
            let _ = writeln!(
                out,
                "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{} (+{})</td></tr>",
                html(&e.step),
                html(&e.level),
                html(&e.notified.join(", ")),
                html(&via),
                html(&e.at),
                html(&secs(e.at_ms))
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n");

    out.push_str("<section id=\"rollbacks\">\n<h2>Rollbacks</h2>\n");
    if r.rollbacks.is_empty() {
        out.push_str("<p class=\"muted\">Nothing was rolled back.</p>\n");
    } else {
        out.push_str("<table>\n<tr><th>Step</th><th>Undo</th><th class=\"num\">Start</th><th class=\"num\">Duration</th><th>Result</th></tr>\n");
        for rb in &r.rollbacks {
            let result = match rb.ok {
                Some(true) => badge_as("undo", "undone"),
                Some(false) => format!(
                    "{} {}",
                    badge_as("failed", "UNDO FAILED"),
                    html(rb.error.as_deref().unwrap_or(""))
                ),
                None => badge_as("unfinished", "no end recorded"),
            };
            let _ = writeln!(
                out,
                "<tr><td class=\"mono\">{}{}</td><td><code>{}</code></td><td class=\"num\">+{}</td><td class=\"num\">{}</td><td>{result}</td></tr>",
                html(&rb.step),
                if rb.later {
                    " <span class=\"muted\">(runbook rollback)</span>"
                } else {
                    ""
                },
                html(&rb.summary),
                html(&secs(rb.start_ms)),
                rb.duration_ms.map(|d| html(&secs(d))).unwrap_or_else(|| "–".into())
            );
        }
        out.push_str("</table>\n");
    }
    if !r.remaining_undo.is_empty() {
        out.push_str("<p class=\"warn\"><strong>Still to undo by hand, in this order:</strong></p>\n<ol>\n");
        for u in &r.remaining_undo {
            let _ = writeln!(out, "<li><code>{}</code></li>", html(u));
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</section>\n");

    out.push_str("<section id=\"failures\">\n<h2>Failures</h2>\n");
    if r.failures.is_empty() {
        out.push_str("<p class=\"muted\">No step failed.</p>\n");
    }
    for f in &r.failures {
        let _ = writeln!(
            out,
            "<p><strong class=\"mono\">{}</strong> {} at +{}: {}</p>",
            html(&f.what),
            badge(&f.status),
            html(&secs(f.at_ms)),
            html(&f.message)
        );
        if !f.tail.is_empty() {
            let _ = writeln!(out, "<pre>{}</pre>", html(&f.tail.join("\n")));
        }
    }
    out.push_str("</section>\n");

    out.push_str("<section id=\"outputs\">\n<h2>Outputs</h2>\n");
    if r.outputs.is_empty() {
        out.push_str("<p class=\"muted\">No step had outputs.</p>\n");
    } else {
        out.push_str("<table>\n<tr><th>Step</th><th>Output</th><th>Value</th></tr>\n");
        for o in &r.outputs {
            let value = o.text();
            let _ = writeln!(
                out,
                "<tr><td class=\"mono\">{}</td><td>{}</td><td><code>{}</code></td></tr>",
                html(&o.step),
                html(&o.name),
                html(&value)
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n");
    let _ = write!(
        out,
        "<footer>Built by runbook from the journal and plan.json of run {} alone. Secrets were already hidden (***) when the journal was written.</footer>\n</body>\n</html>\n",
        html(&h.run)
    );
    out
}

pub fn history(h: &History) -> String {
    let mut out = String::new();
    head(&mut out, &format!("History of {}", h.playbook));
    let _ = write!(
        out,
        "<header>\n<h1>{} <span class=\"muted\">the last {} run{}</span></h1>\n</header>\n",
        html(&h.playbook),
        h.runs.len(),
        if h.runs.len() == 1 { "" } else { "s" }
    );
    if !h.trends.is_empty() {
        out.push_str("<section id=\"trend\">\n<h2>Trend</h2>\n<table>\n<tr><th>Measure</th><th class=\"num\">Target</th><th class=\"num\">Met</th><th class=\"num\">Best</th><th class=\"num\">Worst</th><th class=\"num\">Mean</th><th>Newest vs before</th><th>Runs (oldest → newest)</th></tr>\n");
        for t in &h.trends {
            let f = |v: Option<f64>| v.map(|v| html(&human_secs(v))).unwrap_or_else(|| "–".into());
            let met: Vec<bool> = h
                .runs
                .iter()
                .map(|r| r.measures.iter().any(|m| m.name == t.name && m.met))
                .collect();
            let _ = writeln!(
                out,
                "<tr><td><strong>{}</strong></td><td class=\"num\">{}</td><td class=\"num\">{}/{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                html(&t.name),
                html(&human_secs(t.target_seconds)),
                t.met,
                t.recorded,
                f(t.best),
                f(t.worst),
                f(t.mean),
                html(&t.direction),
                svg::sparkline(
                    &t.values,
                    &met,
                    t.target_seconds,
                    &format!("{} over the last runs", t.name)
                )
            );
        }
        out.push_str("</table>\n</section>\n");
    }
    out.push_str("<section id=\"runs\">\n<h2>Runs</h2>\n<table>\n<tr><th>Run</th><th>Started</th><th>Env</th><th>Who</th><th>Trigger</th><th>Outcome</th><th class=\"num\">Duration</th><th>Journal</th>");
    for t in &h.trends {
        let _ = write!(out, "<th class=\"num\">{}</th>", html(&t.name));
    }
    out.push_str("</tr>\n");
    for r in &h.runs {
        let _ = write!(
            out,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td class=\"num\">{}</td><td>{}</td>",
            html(&r.run),
            html(&r.started),
            html(&r.env),
            html(&r.user),
            html(r.trigger.as_deref().unwrap_or("–")),
            badge(&r.outcome),
            r.exit_code.map(|c| format!(" exit {c}")).unwrap_or_default(),
            r.duration_ms.map(|d| html(&secs(d))).unwrap_or_else(|| "–".into()),
            if r.verified {
                "verified"
            } else {
                "<strong>NOT VERIFIED</strong>"
            }
        );
        for t in &h.trends {
            let cell = match r.measures.iter().find(|m| m.name == t.name) {
                Some(m) => match m.value_seconds {
                    Some(v) => format!("{} {}", html(&human_secs(v)), if m.met { "✓" } else { "✗" }),
                    None => "not measured".into(),
                },
                None => "–".into(),
            };
            let _ = write!(out, "<td class=\"num\">{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n</section>\n<footer>Built by runbook from the runs index and each run's journal.</footer>\n</body>\n</html>\n");
    out
}
