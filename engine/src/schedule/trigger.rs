//! What started a run when no person did: `schedule:NAME@FIRING`, the firing in UTC
//! (RFC 3339, whole seconds). It is journaled in `run_started` and kept in the runs index.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub schedule: String,
    pub firing: DateTime<Utc>,
}

impl Trigger {
    pub fn parse(s: &str) -> Result<Trigger, String> {
        let bad = || format!("`{s}` is not a trigger: write schedule:NAME@TIME (TIME in RFC 3339)");
        let rest = s.strip_prefix("schedule:").ok_or_else(bad)?;
        let (name, at) = rest.rsplit_once('@').ok_or_else(bad)?;
        if name.is_empty() {
            return Err(bad());
        }
        let firing = DateTime::parse_from_rfc3339(at).map_err(|_| bad())?.with_timezone(&Utc);
        Ok(Trigger {
            schedule: name.to_string(),
            firing,
        })
    }

    /// Whether a run's trigger (as the index keeps it) is a firing of `schedule`.
    pub fn of_schedule(trigger: &str, schedule: &str) -> bool {
        Trigger::parse(trigger).is_ok_and(|t| t.schedule == schedule)
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "schedule:{}@{}", self.schedule, utc(self.firing))
    }
}

/// An instant as firing records and triggers write it: UTC, whole seconds, `Z`.
pub fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_reads_back_as_written() {
        let t = Trigger::parse("schedule:nightly@2027-03-28T03:00:00+02:00").expect("a trigger");
        assert_eq!(t.to_string(), "schedule:nightly@2027-03-28T01:00:00Z");
        assert!(Trigger::of_schedule(&t.to_string(), "nightly"));
        assert!(!Trigger::of_schedule(&t.to_string(), "night"));
        for bad in [
            "nightly@2027-03-28T01:00:00Z",
            "schedule:@2027-03-28T01:00:00Z",
            "schedule:x@tomorrow",
        ] {
            assert!(Trigger::parse(bad).is_err(), "{bad}");
        }
    }
}
