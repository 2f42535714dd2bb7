//! Cron expressions in a time zone: parsing (croner: 5 fields, names, `L`, `#`, `W`, the
//! `@daily` nicknames) and the firings they give, across daylight-saving changes.
//!
//! The daylight-saving rules are croner's, which are Vixie cron's: a time that a clock
//! skips (02:30 on a spring-forward night) fires once, at the first minute after the gap
//! (03:00); a time that happens twice (01:30 on a fall-back night) fires once, at its first
//! occurrence. A pattern with a wildcard or step in its minute or hour (`*/15 * * * *`)
//! fires at every real instant that matches: none in the skipped hour, both in the repeated.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};

/// The nicknames accepted for a whole expression (`@reboot` means nothing to a schedule).
pub const NICKNAMES: [&str; 6] = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly"];

/// A parsed cron expression and the zone its wall times are in.
#[derive(Debug, Clone)]
pub struct CronZone {
    cron: croner::Cron,
    pub tz: Tz,
}

/// Parses a five-field cron expression (or a nickname), saying what is wrong in words that
/// read after "cron `…`: ".
pub fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    let fields = expr.split_whitespace().count();
    let nickname = NICKNAMES.contains(&expr.trim().to_ascii_lowercase().as_str());
    if fields != 5 && !nickname {
        return Err(format!(
            "has {fields} field{}; write 5 (minute hour day-of-month month day-of-week)",
            if fields == 1 { "" } else { "s" }
        ));
    }
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build();
    let cron = parser
        .parse(expr)
        .map_err(|e| format!("is not valid: {}", croner_message(&e)))?;
    Ok(cron)
}

/// croner's messages, without its type names.
fn croner_message(e: &croner::errors::CronError) -> String {
    use croner::errors::CronError as E;
    match e {
        E::EmptyPattern => "is empty".into(),
        E::InvalidPattern(m) | E::IllegalCharacters(m) | E::ComponentError(m) => {
            let m = m.trim_end_matches('.').trim_start_matches("CronPattern ");
            let mut c = m.chars();
            match c.next() {
                Some(first) => first.to_lowercase().chain(c).collect(),
                None => "is not a cron expression".into(),
            }
        }
        other => other.to_string(),
    }
}

/// An IANA time zone name (`Europe/Berlin`, `UTC`), exactly as the tz database spells it.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    Tz::from_str(name).map_err(|_| format!("`{name}` is not an IANA time zone"))
}

/// Every zone name, for a did-you-mean.
pub fn zone_names() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect()
}

impl CronZone {
    pub fn new(cron: croner::Cron, tz: Tz) -> Self {
        CronZone { cron, tz }
    }

    /// The first firing strictly after `t`, if the expression ever fires again.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The `n` firings after `t`, in order.
    pub fn next_n(&self, t: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut at = t;
        while out.len() < n {
            match self.next_after(at) {
                Some(next) => {
                    out.push(next);
                    at = next;
                }
                None => break,
            }
        }
        out
    }

    /// The latest firing at or before `t`.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.previous(t, true)
    }

    /// The latest firing strictly before `t`.
    pub fn before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.previous(t, false)
    }

    fn previous(&self, t: DateTime<Utc>, inclusive: bool) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz);
        let found = self
            .cron
            .find_previous_occurrence(&local, inclusive)
            .ok()?
            .with_timezone(&Utc);
        // Firings are whole minutes; croner may answer the instant of `t` itself when
        // inclusive, which must not be later than `t`.
        (found <= t).then_some(found)
    }

    /// A firing as a wall time in the schedule's zone.
    pub fn local(&self, t: DateTime<Utc>) -> DateTime<Tz> {
        t.with_timezone(&self.tz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("a test time")
            .with_timezone(&Utc)
    }

    fn zoned(expr: &str, tz: &str) -> CronZone {
        CronZone::new(parse_cron(expr).expect("a valid cron"), parse_zone(tz).expect("a zone"))
    }

    fn rfc(c: &CronZone, ts: &[DateTime<Utc>]) -> Vec<String> {
        ts.iter().map(|t| c.local(*t).to_rfc3339()).collect()
    }

    #[test]
    fn five_fields_names_last_and_nth() {
        // The first Monday of the month, 03:00 in Berlin.
        let c = zoned("0 3 * * MON#1", "Europe/Berlin");
        assert_eq!(
            rfc(&c, &c.next_n(utc("2027-01-01T00:00:00Z"), 3)),
            [
                "2027-01-04T03:00:00+01:00",
                "2027-02-01T03:00:00+01:00",
                "2027-03-01T03:00:00+01:00"
            ]
        );
        // The last day of the month, and month names.
        let c = zoned("30 23 L FEB,APR *", "UTC");
        assert_eq!(
            rfc(&c, &c.next_n(utc("2028-01-01T00:00:00Z"), 2)),
            ["2028-02-29T23:30:00+00:00", "2028-04-30T23:30:00+00:00"]
        );
        // The last Friday.
        let c = zoned("0 12 * * 5#L", "UTC");
        assert_eq!(
            rfc(&c, &c.next_n(utc("2027-01-01T00:00:00Z"), 1)),
            ["2027-01-29T12:00:00+00:00"]
        );
        // Vixie cron: day-of-month OR day-of-week when both are restricted.
        let c = zoned("0 0 1 * MON", "UTC");
        assert_eq!(
            rfc(&c, &c.next_n(utc("2027-02-26T00:00:00Z"), 2)),
            ["2027-03-01T00:00:00+00:00", "2027-03-08T00:00:00+00:00"]
        );
        assert!(zoned("@daily", "UTC").next_after(utc("2027-01-01T12:00:00Z")).is_some());
    }

    #[test]
    fn bad_expressions_say_why() {
        assert_eq!(
            parse_cron("0 3 * *").unwrap_err(),
            "has 4 fields; write 5 (minute hour day-of-month month day-of-week)"
        );
        assert!(parse_cron("0 0 3 * * *").unwrap_err().starts_with("has 6 fields"));
        assert!(parse_cron("61 3 * * *").is_err());
        assert!(parse_cron("0 3 * * FUNDAY").is_err());
        assert!(parse_cron("@reboot").is_err());
        assert!(parse_zone("Europe/Berln").is_err());
        assert!(
            parse_zone("europe/berlin").is_err(),
            "names are spelled as the tz database does"
        );
    }

    #[test]
    fn berlin_spring_forward_runs_a_skipped_time_once_right_after_the_gap() {
        // 2027-03-28: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that night.
        let c = zoned("30 2 * * *", "Europe/Berlin");
        let next = c.next_n(utc("2027-03-27T00:00:00Z"), 3);
        assert_eq!(
            rfc(&c, &next),
            [
                "2027-03-27T02:30:00+01:00",
                "2027-03-28T03:00:00+02:00",
                "2027-03-29T02:30:00+02:00"
            ]
        );
        assert_eq!(next[1], utc("2027-03-28T01:00:00Z"));
        // Looking back from after the gap finds the same firing.
        assert_eq!(c.latest_at_or_before(utc("2027-03-28T01:10:00Z")), Some(next[1]));
        assert_eq!(c.latest_at_or_before(utc("2027-03-28T01:00:00Z")), Some(next[1]));
        assert_eq!(c.before(utc("2027-03-28T01:00:00Z")), Some(next[0]));
        // An interval pattern has nothing to fire in the hour that does not exist.
        let c = zoned("*/30 * * * *", "Europe/Berlin");
        assert_eq!(
            rfc(&c, &c.next_n(utc("2027-03-28T00:00:00Z"), 3)),
            [
                "2027-03-28T01:30:00+01:00",
                "2027-03-28T03:00:00+02:00",
                "2027-03-28T03:30:00+02:00"
            ]
        );
    }

    #[test]
    fn berlin_fall_back_runs_a_repeated_time_once_at_its_first_occurrence() {
        // 2027-10-31: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
        let c = zoned("30 2 * * *", "Europe/Berlin");
        let next = c.next_n(utc("2027-10-30T12:00:00Z"), 2);
        assert_eq!(
            rfc(&c, &next),
            ["2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00"]
        );
        assert_eq!(next[0], utc("2027-10-31T00:30:00Z"));
        // From the second 02:30 (CET), the first one is the latest firing, not the second.
        assert_eq!(c.latest_at_or_before(utc("2027-10-31T01:35:00Z")), Some(next[0]));
        // An interval pattern fires at both instants of the repeated hour.
        let c = zoned("*/30 * * * *", "Europe/Berlin");
        assert_eq!(
            rfc(&c, &c.next_n(utc("2027-10-30T23:45:00Z"), 4)),
            [
                "2027-10-31T02:00:00+02:00",
                "2027-10-31T02:30:00+02:00",
                "2027-10-31T02:00:00+01:00",
                "2027-10-31T02:30:00+01:00"
            ]
        );
    }

    #[test]
    fn new_york_spring_forward_and_fall_back() {
        // 2027-03-14: 02:00 EST becomes 03:00 EDT.
        let c = zoned("30 2 * * *", "America/New_York");
        let next = c.next_n(utc("2027-03-13T12:00:00Z"), 3);
        assert_eq!(
            rfc(&c, &next),
            [
                "2027-03-14T03:00:00-04:00",
                "2027-03-15T02:30:00-04:00",
                "2027-03-16T02:30:00-04:00"
            ]
        );
        assert_eq!(next[0], utc("2027-03-14T07:00:00Z"));
        // 2027-11-07: 02:00 EDT becomes 01:00 EST; 01:30 happens twice.
        let c = zoned("30 1 * * *", "America/New_York");
        let next = c.next_n(utc("2027-11-06T12:00:00Z"), 2);
        assert_eq!(
            rfc(&c, &next),
            ["2027-11-07T01:30:00-04:00", "2027-11-08T01:30:00-05:00"]
        );
        assert_eq!(next[0], utc("2027-11-07T05:30:00Z"));
        assert_eq!(c.latest_at_or_before(utc("2027-11-07T06:45:00Z")), Some(next[0]));
    }

    #[test]
    fn an_expression_that_never_fires_has_no_next_firing() {
        let c = zoned("0 0 30 2 *", "UTC");
        assert_eq!(c.next_after(utc("2027-01-01T00:00:00Z")), None);
    }
}
