//! The drawings of the HTML reports, as inline SVG: the timeline (a Gantt chart of steps,
//! rollbacks and gates, coloured by status), the DAG from the plan's waves, and a measure's
//! sparkline. Plain shapes and text, styled by the document's CSS classes; every label is
//! escaped, and each shape carries a `<title>` that a browser shows on hover, without script.

use std::fmt::Write;

use super::escape::{html, status_class};
use super::model::RunReport;
use crate::report::summary::human_secs;

const WIDTH: f64 = 960.0;
const LABEL_W: f64 = 230.0;
const RIGHT_PAD: f64 = 24.0;
const ROW_H: f64 = 22.0;
const TOP: f64 = 28.0;

/// At most this many characters of a label are drawn; the whole of it is in its `<title>`.
const LABEL_CHARS: usize = 30;

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn secs(ms: u64) -> String {
    human_secs(ms as f64 / 1000.0)
}

/// A "nice" tick interval (1, 2 or 5 × 10^k ms) giving about six ticks over `span` ms.
fn tick(span: u64) -> u64 {
    let rough = (span as f64 / 6.0).max(1.0);
    let mag = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * mag);
    step.max(1.0) as u64
}

/// The timeline as a Gantt chart: one row per step (iterations folded into their step), one
/// per rollback, gates as diamonds on their step's row, and a time axis.
pub fn gantt(r: &RunReport) -> String {
    let span = r.span_ms().max(1);
    let chart_w = WIDTH - LABEL_W - RIGHT_PAD;
    let x = |t: u64| LABEL_W + (t as f64 / span as f64) * chart_w;
    let rows = r.timeline.len() + r.rollbacks.len();
    let height = TOP + rows as f64 * ROW_H + 16.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="gantt" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="gantt-title"><title id="gantt-title">Timeline of run {}</title>"#,
        html(&r.header.run)
    );
    // The axis: ticks and their times, and faint lines down the chart.
    let step = tick(span);
    let mut t = 0;
    while t <= span {
        let tx = x(t);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{:.1}"/><text class="axis" x="{tx:.1}" y="14" text-anchor="middle">{}</text>"#,
            TOP - 6.0,
            height - 12.0,
            html(&format!("+{}", secs(t)))
        );
        t += step;
    }
    let mut y = TOP;
    for row in &r.timeline {
        let label = match &row.name {
            Some(n) if n != &row.step => format!("{} · {n}", row.step),
            _ => row.step.clone(),
        };
        row_label(&mut s, y, &label);
        match (row.start_ms, row.duration_ms) {
            (Some(start), Some(d)) => {
                let (x0, w) = (x(start), (x(start + d) - x(start)).max(2.0));
                let mut tip = format!("{}: {} at +{} for {}", row.step, row.status, secs(start), secs(d));
                if row.attempts > 1 {
                    tip.push_str(&format!(", {} attempts", row.attempts));
                }
                if row.iterations > 0 {
                    tip.push_str(&format!(", {} iterations", row.iterations));
                }
                if let Some(e) = row.error.as_ref().or(row.reason.as_ref()) {
                    tip.push_str(&format!(": {e}"));
                }
                let _ = write!(
                    s,
                    r#"<rect class="bar {}" x="{x0:.1}" y="{:.1}" width="{w:.1}" height="14" rx="2"><title>{}</title></rect>"#,
                    status_class(&row.status),
                    y + 4.0,
                    html(&tip)
                );
            }
            _ => {
                let _ = write!(
                    s,
                    r#"<text class="note" x="{:.1}" y="{:.1}">{}</text>"#,
                    LABEL_W + 4.0,
                    y + 15.0,
                    html(&row.status.replace('_', " "))
                );
            }
        }
        for g in r
            .gates
            .iter()
            .filter(|g| g.step == row.step || g.step.starts_with(&format!("{}[", row.step)))
        {
            let (gx, gy) = (x(g.at_ms), y + 11.0);
            let answer = if g.approved { "approved" } else { "not approved" };
            let _ = write!(
                s,
                r#"<path class="gate {}" d="M{gx:.1} {:.1} L{:.1} {gy:.1} L{gx:.1} {:.1} L{:.1} {gy:.1} Z"><title>{}</title></path>"#,
                if g.approved { "st-ok" } else { "st-failed" },
                gy - 7.0,
                gx + 7.0,
                gy + 7.0,
                gx - 7.0,
                html(&format!(
                    "{} {}: {answer} by {} ({}) at +{}",
                    g.step,
                    g.kind,
                    g.by,
                    g.how,
                    secs(g.at_ms)
                ))
            );
        }
        y += ROW_H;
    }
    for rb in &r.rollbacks {
        let label = format!("↺ {}", rb.step);
        row_label(&mut s, y, &label);
        let d = rb.duration_ms.unwrap_or(0);
        let result = match rb.ok {
            Some(true) => "undone",
            Some(false) => "UNDO FAILED",
            None => "no end recorded",
        };
        let _ = write!(
            s,
            r#"<rect class="bar {}" x="{:.1}" y="{:.1}" width="{:.1}" height="14" rx="2"><title>{}</title></rect>"#,
            if rb.ok == Some(false) { "st-failed" } else { "st-undo" },
            x(rb.start_ms),
            y + 4.0,
            (x(rb.start_ms + d) - x(rb.start_ms)).max(2.0),
            html(&format!(
                "rollback of {}: {result} at +{}: {}",
                rb.step,
                secs(rb.start_ms),
                rb.summary
            ))
        );
        y += ROW_H;
    }
    s.push_str("</svg>");
    s
}

const NODE_W: f64 = 168.0;
const NODE_H: f64 = 34.0;
const COL_W: f64 = 214.0;
const NODE_GAP: f64 = 18.0;

const ROW_GAP: f64 = 40.0;

/// The plan's DAG: a box per step coloured by how it went, an arrow from each step to each
/// step that needs it, a column per wave (left to right) or, when the waves outnumber the
/// steps of the widest one, a row per wave (top to bottom): whichever is narrower, so a long
/// chain of steps fits the page without shrinking its text.
pub fn dag(r: &RunReport) -> Option<String> {
    let d = r.dag.as_ref()?;
    if d.waves.is_empty() {
        return None;
    }
    let most = d.waves.iter().map(Vec::len).max().unwrap_or(1) as f64;
    let waves = d.waves.len() as f64;
    let down = waves > most;
    let (width, height) = if down {
        (
            most * (NODE_W + NODE_GAP) + NODE_GAP + 20.0,
            waves * (NODE_H + ROW_GAP) + 10.0,
        )
    } else {
        (waves * COL_W + 20.0, most * (NODE_H + NODE_GAP) + NODE_GAP + 10.0)
    };
    let mut at = std::collections::HashMap::new();
    for (w, wave) in d.waves.iter().enumerate() {
        let n = wave.len() as f64;
        for (i, id) in wave.iter().enumerate() {
            let i = i as f64;
            // Each wave centred across the drawing, so a lone step sits level with the others.
            let xy = if down {
                let left = (width - n * (NODE_W + NODE_GAP) + NODE_GAP) / 2.0;
                (left + i * (NODE_W + NODE_GAP), 10.0 + w as f64 * (NODE_H + ROW_GAP))
            } else {
                let top = (height - n * (NODE_H + NODE_GAP) + NODE_GAP) / 2.0;
                (20.0 + w as f64 * COL_W, top + i * (NODE_H + NODE_GAP))
            };
            at.insert(id.as_str(), xy);
        }
    }
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="dag" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-labelledby="dag-title"><title id="dag-title">The plan's steps in waves</title><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" class="arrowhead"/></marker></defs>"#
    );
    for (from, to) in &d.edges {
        let (Some(&(fx, fy)), Some(&(tx, ty))) = (at.get(from.as_str()), at.get(to.as_str())) else {
            continue;
        };
        let path = if down {
            let (x1, y1, x2, y2) = (fx + NODE_W / 2.0, fy + NODE_H, tx + NODE_W / 2.0, ty - 2.0);
            let bend = (y2 - y1) / 2.0;
            format!(
                "M{x1:.1} {y1:.1} C{x1:.1} {:.1}, {x2:.1} {:.1}, {x2:.1} {y2:.1}",
                y1 + bend,
                y2 - bend
            )
        } else {
            let (x1, y1, x2, y2) = (fx + NODE_W, fy + NODE_H / 2.0, tx - 2.0, ty + NODE_H / 2.0);
            let bend = (x2 - x1) / 2.0;
            format!(
                "M{x1:.1} {y1:.1} C{:.1} {y1:.1}, {:.1} {y2:.1}, {x2:.1} {y2:.1}",
                x1 + bend,
                x2 - bend
            )
        };
        let _ = write!(
            s,
            r#"<path class="edge" d="{path}" marker-end="url(#arrow)"><title>{}</title></path>"#,
            html(&format!("{to} needs {from}"))
        );
    }
    for wave in &d.waves {
        for id in wave {
            let Some(&(nx, ny)) = at.get(id.as_str()) else { continue };
            let row = r.step(id);
            let status = row.map(|r| r.status.as_str()).unwrap_or("not_run");
            let name = row.and_then(|r| r.name.clone()).unwrap_or_default();
            let _ = write!(
                s,
                r#"<g class="node"><rect class="box {}" x="{nx:.1}" y="{ny:.1}" width="{NODE_W}" height="{NODE_H}" rx="6"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><title>{}</title></g>"#,
                status_class(status),
                nx + NODE_W / 2.0,
                ny + NODE_H / 2.0 + 4.5,
                html(&short(id, 22)),
                html(&format!(
                    "{id}{}: {}",
                    if name.is_empty() {
                        String::new()
                    } else {
                        format!(" · {name}")
                    },
                    status.replace('_', " ")
                ))
            );
        }
    }
    s.push_str("</svg>");
    Some(s)
}

/// A measure across runs: a line through its values (oldest first), its target dashed,
/// each point coloured by whether that run met it.
pub fn sparkline(values: &[Option<f64>], met: &[bool], target: f64, title: &str) -> String {
    let (w, h, pad) = (180.0, 40.0, 5.0);
    let known: Vec<f64> = values.iter().flatten().copied().chain([target]).collect();
    let lo = known.iter().copied().fold(f64::INFINITY, f64::min).min(0.0);
    let hi = known.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = if hi > lo { hi - lo } else { 1.0 };
    let n = values.len().max(2) - 1;
    let px = |i: usize| pad + i as f64 * (w - 2.0 * pad) / n as f64;
    let py = |v: f64| h - pad - (v - lo) / range * (h - 2.0 * pad);
    let mut s = format!(
        r#"<svg class="spark" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img"><title>{}</title>"#,
        html(title)
    );
    let ty = py(target);
    let _ = write!(
        s,
        r#"<line class="target" x1="{pad}" y1="{ty:.1}" x2="{:.1}" y2="{ty:.1}"><title>{}</title></line>"#,
        w - pad,
        html(&format!("target {}", human_secs(target)))
    );
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", px(i), py(v))))
        .collect();
    if points.len() > 1 {
        let _ = write!(s, r#"<polyline class="line" points="{}"/>"#, points.join(" "));
    }
    for (i, v) in values.iter().enumerate() {
        if let Some(v) = v {
            let ok = met.get(i).copied().unwrap_or(false);
            let _ = write!(
                s,
                r#"<circle class="{}" cx="{:.1}" cy="{:.1}" r="3"><title>{}</title></circle>"#,
                if ok { "st-ok" } else { "st-failed" },
                px(i),
                py(*v),
                html(&human_secs(*v))
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A row's label in the left column, cut to fit, whole in its tooltip.
fn row_label(s: &mut String, y: f64, label: &str) {
    let _ = write!(
        s,
        r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}<title>{}</title></text>"#,
        LABEL_W - 8.0,
        y + 15.0,
        html(&short(label, LABEL_CHARS)),
        html(label)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(tick(6_000), 1_000);
        assert_eq!(tick(10_000), 2_000);
        assert_eq!(tick(25_000), 5_000);
        assert_eq!(tick(1), 1);
    }

    #[test]
    fn long_labels_are_cut_with_an_ellipsis() {
        assert_eq!(short("abcdef", 4), "abc…");
        assert_eq!(short("abc", 4), "abc");
    }
}
