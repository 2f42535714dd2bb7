//! A schedule's cron expression as a Kubernetes CronJob can run it, and which of the
//! CronJob's firings are the schedule's own.
//!
//! Kubernetes' cron (robfig/cron's standard parser) has names, ranges, steps, `?` and the
//! `@daily` nicknames, but no `L`, `W` or `#`, and day-of-week stops at 6. An expression
//! that uses them is exported as the smallest superset Kubernetes can run (`MON#1` becomes
//! days 1-7 of the month), and the run started on a day the schedule itself does not fire
//! ends at once (`runbook run --scheduled NAME`, [`firing_for`]).

use chrono::{DateTime, Utc};

use super::check::Schedule;
use super::cron::{CronZone, NICKNAMES, parse_cron};

/// The expression a CronJob gets, and whether it fires exactly when the schedule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeCron {
    pub expr: String,
    pub exact: bool,
}

/// The days of the month on which the `n`th weekday of a month can fall (`#L`: the last).
fn nth_days(n: &str) -> Option<&'static str> {
    Some(match n {
        "1" => "1-7",
        "2" => "8-14",
        "3" => "15-21",
        "4" => "22-28",
        "5" => "29-31",
        "L" | "l" => "22-31",
        _ => return None,
    })
}

/// A day-of-week item that Kubernetes cannot read, as the days of the month it can fall on.
fn dow_item_days(item: &str) -> Option<&'static str> {
    if let Some((_, n)) = item.split_once('#') {
        return nth_days(n);
    }
    // `5L`: the last Friday.
    let upper = item.to_ascii_uppercase();
    (upper.len() > 1 && upper.ends_with('L')).then_some("22-31")
}

/// A day-of-month item with `L` or `W`, as the days it can fall on.
fn dom_item_days(item: &str) -> Option<String> {
    let upper = item.to_ascii_uppercase();
    match upper.as_str() {
        "L" => Some("28-31".into()),
        "LW" => Some("26-31".into()),
        _ => {
            let n: u32 = upper.strip_suffix('W')?.parse().ok()?;
            // The nearest weekday stays in the month: at most two days away.
            Some(format!("{}-{}", n.saturating_sub(2).max(1), (n + 2).min(31)))
        }
    }
}

fn special_dow(field: &str) -> bool {
    field.split(',').any(|i| dow_item_days(i).is_some())
}

fn special_dom(field: &str) -> bool {
    field.to_ascii_uppercase().contains(['L', 'W'])
}

/// Day-of-week `7` (Sunday, which croner reads) as Kubernetes' `0`.
fn sunday_as_zero(field: &str) -> String {
    field
        .split(',')
        .map(|item| match item.split_once('-') {
            Some(("0", "7")) => "*".to_string(),
            Some((a, "7")) => format!("{a}-6,0"),
            _ if item == "7" => "0".to_string(),
            _ => item.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The expression a CronJob runs for `expr` (a valid schedule expression).
pub fn kubernetes_cron(expr: &str) -> KubeCron {
    let trimmed = expr.trim();
    if NICKNAMES.contains(&trimmed.to_ascii_lowercase().as_str()) {
        return KubeCron {
            expr: trimmed.to_ascii_lowercase(),
            exact: true,
        };
    }
    let f: Vec<&str> = trimmed.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = f.as_slice() else {
        return KubeCron {
            expr: trimmed.to_string(),
            exact: true,
        };
    };
    let open = |s: &str| s == "*" || s == "?";
    let (new_dom, new_dow, exact) = match (special_dom(dom), special_dow(dow)) {
        (false, false) => (dom.to_string(), sunday_as_zero(dow), true),
        (false, true) if open(dom) => {
            // Every item must become days of the month, or the superset is every day.
            let days: Option<Vec<&str>> = dow.split(',').map(dow_item_days).collect();
            match days {
                Some(mut d) => {
                    d.dedup();
                    (d.join(","), "*".to_string(), false)
                }
                None => ("*".into(), "*".into(), false),
            }
        }
        (true, false) if open(dow) => {
            let days: Option<Vec<String>> = dom
                .split(',')
                .map(|i| {
                    if special_dom(i) {
                        dom_item_days(i)
                    } else {
                        Some(i.to_string())
                    }
                })
                .collect();
            match days {
                Some(d) => (d.join(","), "*".to_string(), false),
                None => ("*".into(), "*".into(), false),
            }
        }
        _ => ("*".into(), "*".into(), false),
    };
    KubeCron {
        expr: format!("{minute} {hour} {new_dom} {month} {new_dow}"),
        exact,
    }
}

/// The schedule's firing that a run started at `now` by its CronJob stands for: the latest
/// firing at or before `now`, if it is also the CronJob's latest one. `None` on a day the
/// CronJob fires and the schedule does not (an inexact [`kubernetes_cron`]).
pub fn firing_for(s: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let own = s.zone.latest_at_or_before(now)?;
    let kube = kubernetes_cron(&s.cron);
    if kube.exact {
        return Some(own);
    }
    let cron = parse_cron(&kube.expr).ok()?;
    let superset = CronZone::new(cron, s.zone.tz);
    (superset.latest_at_or_before(now) == Some(own)).then_some(own)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(expr: &str) -> (String, bool) {
        let c = kubernetes_cron(expr);
        (c.expr, c.exact)
    }

    #[test]
    fn what_kubernetes_reads_passes_unchanged() {
        assert_eq!(k("0 2 * * *"), ("0 2 * * *".into(), true));
        assert_eq!(k("0 10 * * MON"), ("0 10 * * MON".into(), true));
        assert_eq!(k("*/15 9-17 * JAN-MAR 1-5"), ("*/15 9-17 * JAN-MAR 1-5".into(), true));
        assert_eq!(k("@Daily"), ("@daily".into(), true));
        // Sunday as 7 is croner's; Kubernetes stops at 6.
        assert_eq!(k("0 0 * * 7"), ("0 0 * * 0".into(), true));
        assert_eq!(k("0 0 * * 5-7"), ("0 0 * * 5-6,0".into(), true));
    }

    #[test]
    fn nth_last_and_nearest_weekday_become_a_superset_of_days() {
        assert_eq!(k("0 10 * * MON#1"), ("0 10 1-7 * *".into(), false));
        assert_eq!(k("0 10 * * 1#3"), ("0 10 15-21 * *".into(), false));
        assert_eq!(k("0 12 * * 5#L"), ("0 12 22-31 * *".into(), false));
        assert_eq!(k("0 12 * * 5L"), ("0 12 22-31 * *".into(), false));
        assert_eq!(k("30 23 L * *"), ("30 23 28-31 * *".into(), false));
        assert_eq!(k("0 9 15W * *"), ("0 9 13-17 * *".into(), false));
        assert_eq!(k("0 9 1W * ?"), ("0 9 1-3 * *".into(), false));
        // A plain weekday beside an nth one: every day, and the guard decides.
        assert_eq!(k("0 10 * * MON#1,FRI"), ("0 10 * * *".into(), false));
        for (expr, _) in [k("0 10 * * MON#1"), k("30 23 L * *"), k("0 9 15W * *")] {
            assert!(parse_cron(&expr).is_ok(), "{expr}");
        }
    }

    fn schedule(cron: &str, tz: &str) -> Schedule {
        Schedule::for_test("s", cron, tz)
    }

    #[test]
    fn only_the_schedules_own_days_are_firings() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
        // First Monday of 2027-02 is the 1st; the CronJob also fires on the 2nd to the 7th.
        let s = schedule("0 10 * * MON#1", "America/New_York");
        assert_eq!(
            firing_for(&s, t("2027-02-01T15:02:00Z")),
            Some(t("2027-02-01T15:00:00Z"))
        );
        assert_eq!(firing_for(&s, t("2027-02-02T15:01:00Z")), None);
        assert_eq!(firing_for(&s, t("2027-02-07T15:01:00Z")), None);
        // An exact expression: the latest firing, however late the pod started.
        let s = schedule("0 2 * * *", "UTC");
        assert_eq!(
            firing_for(&s, t("2027-02-02T02:07:00Z")),
            Some(t("2027-02-02T02:00:00Z"))
        );
    }
}
