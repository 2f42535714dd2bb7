//! The run-due decision, a pure function of the schedule's cron, its catchup window, the
//! newest firing already handled, and now: which firing (if any) to start, and which came
//! and went unhandled. At most one firing is ever due, so a call starts at most one run per
//! schedule; an older firing is missed, never replayed.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::cron::CronZone;

/// How many missed firings one decision lists (the newest); older ones are flagged.
pub const MAX_MISSED: usize = 100;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// The firing to start now.
    pub due: Option<DateTime<Utc>>,
    /// Firings that came unhandled and are too old (or not the latest): oldest first.
    pub missed: Vec<DateTime<Utc>>,
    /// More firings were missed before the first one listed.
    pub earlier_missed: bool,
}

/// Decides at `now`. `last_handled` is the newest firing that has a record (started,
/// skipped, missed, …); `None` for a schedule that has none, whose history begins with its
/// latest firing (its whole past is not listed as missed).
pub fn decide(zone: &CronZone, catchup: Duration, last_handled: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Decision {
    let Some(latest) = zone.latest_at_or_before(now) else {
        return Decision::default();
    };
    if last_handled.is_some_and(|h| h >= latest) {
        return Decision::default();
    }
    // Unhandled firings, newest first, down to the last handled one.
    let mut unhandled = vec![latest];
    let mut earlier_missed = false;
    if let Some(handled) = last_handled {
        let mut at = latest;
        while let Some(before) = zone.before(at).filter(|b| *b > handled) {
            if unhandled.len() > MAX_MISSED {
                earlier_missed = true;
                break;
            }
            unhandled.push(before);
            at = before;
        }
    }
    unhandled.reverse();
    let late = (now - latest).to_std().unwrap_or_default();
    let due = (late <= catchup).then(|| unhandled.pop()).flatten();
    Decision {
        due,
        missed: unhandled,
        earlier_missed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{parse_cron, parse_zone};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("a test time")
            .with_timezone(&Utc)
    }

    fn hourly() -> CronZone {
        CronZone::new(parse_cron("0 * * * *").expect("cron"), parse_zone("UTC").expect("zone"))
    }

    const FIVE_MIN: Duration = Duration::from_secs(300);

    #[test]
    fn the_latest_firing_within_catchup_is_due() {
        let d = decide(&hourly(), FIVE_MIN, None, utc("2027-01-01T10:03:00Z"));
        assert_eq!(d.due, Some(utc("2027-01-01T10:00:00Z")));
        assert!(d.missed.is_empty());
        // Exactly on the firing, and at the edge of the window, too.
        let d = decide(&hourly(), FIVE_MIN, None, utc("2027-01-01T10:00:00Z"));
        assert_eq!(d.due, Some(utc("2027-01-01T10:00:00Z")));
        let d = decide(&hourly(), FIVE_MIN, None, utc("2027-01-01T10:05:00Z"));
        assert_eq!(d.due, Some(utc("2027-01-01T10:00:00Z")));
    }

    #[test]
    fn a_firing_past_catchup_is_missed_not_run() {
        let d = decide(&hourly(), FIVE_MIN, None, utc("2027-01-01T10:05:01Z"));
        assert_eq!(d.due, None);
        assert_eq!(d.missed, [utc("2027-01-01T10:00:00Z")]);
        // A longer window still catches it.
        let d = decide(&hourly(), Duration::from_secs(3600), None, utc("2027-01-01T10:59:00Z"));
        assert_eq!(d.due, Some(utc("2027-01-01T10:00:00Z")));
    }

    #[test]
    fn a_handled_firing_is_not_due_again() {
        let handled = Some(utc("2027-01-01T10:00:00Z"));
        assert_eq!(
            decide(&hourly(), FIVE_MIN, handled, utc("2027-01-01T10:02:00Z")),
            Decision::default()
        );
        assert_eq!(
            decide(&hourly(), FIVE_MIN, handled, utc("2027-01-01T10:59:59Z")),
            Decision::default()
        );
        // The next firing is.
        let d = decide(&hourly(), FIVE_MIN, handled, utc("2027-01-01T11:00:30Z"));
        assert_eq!(d.due, Some(utc("2027-01-01T11:00:00Z")));
    }

    #[test]
    fn one_run_per_call_and_the_firings_in_between_are_missed() {
        // The last call handled 07:00; three firings went by since, and 10:00 is fresh.
        let handled = Some(utc("2027-01-01T07:00:00Z"));
        let d = decide(
            &hourly(),
            Duration::from_secs(4 * 3600),
            handled,
            utc("2027-01-01T10:01:00Z"),
        );
        assert_eq!(d.due, Some(utc("2027-01-01T10:00:00Z")), "only the latest runs");
        assert_eq!(d.missed, [utc("2027-01-01T08:00:00Z"), utc("2027-01-01T09:00:00Z")]);
        assert!(!d.earlier_missed);
        // Nothing in the window: all of them are missed.
        let d = decide(&hourly(), FIVE_MIN, handled, utc("2027-01-01T10:30:00Z"));
        assert_eq!(d.due, None);
        assert_eq!(d.missed.len(), 3);
    }

    #[test]
    fn a_long_outage_lists_the_newest_missed_firings() {
        let every_minute = CronZone::new(parse_cron("* * * * *").expect("cron"), parse_zone("UTC").expect("zone"));
        let handled = Some(utc("2027-01-01T00:00:00Z"));
        let d = decide(&every_minute, FIVE_MIN, handled, utc("2027-01-02T00:00:00Z"));
        assert_eq!(d.due, Some(utc("2027-01-02T00:00:00Z")));
        assert_eq!(d.missed.len(), MAX_MISSED);
        assert_eq!(d.missed.last(), Some(&utc("2027-01-01T23:59:00Z")));
        assert!(d.earlier_missed);
    }

    #[test]
    fn before_the_first_firing_nothing_is_due() {
        let yearly = CronZone::new(parse_cron("0 0 1 1 *").expect("cron"), parse_zone("UTC").expect("zone"));
        let d = decide(
            &yearly,
            FIVE_MIN,
            Some(utc("2027-01-01T00:00:00Z")),
            utc("2027-06-01T00:00:00Z"),
        );
        assert_eq!(d, Decision::default());
    }

    #[test]
    fn a_skipped_wall_time_is_due_right_after_the_gap() {
        // Berlin, 2027-03-28: 02:30 does not exist; the firing is at 03:00 CEST (01:00Z).
        let c = CronZone::new(
            parse_cron("30 2 * * *").expect("cron"),
            parse_zone("Europe/Berlin").expect("zone"),
        );
        let d = decide(
            &c,
            FIVE_MIN,
            Some(utc("2027-03-27T01:30:00Z")),
            utc("2027-03-28T01:01:00Z"),
        );
        assert_eq!(d.due, Some(utc("2027-03-28T01:00:00Z")));
        assert!(d.missed.is_empty());
    }
}
