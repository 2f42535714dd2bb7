//! The checked contacts, and who is on call at a given moment.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use indexmap::IndexMap;
use serde::Serialize;

use crate::playbook::raw::Risk;
use crate::spec::Duration;

/// The checked contacts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contacts {
    /// runbook.yaml, or the file it names: where to look.
    pub origin: String,
    pub timezone: String,
    #[serde(skip)]
    pub zone: chrono_tz::Tz,
    pub people: IndexMap<String, Person>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<Rotation>,
    pub levels: Vec<Level>,
    /// Channel name → the environment variable holding its webhook.
    pub channels: IndexMap<String, String>,
    /// The environment variable holding the paging webhook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pager: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Person {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl Person {
    /// `John Smith (@jsmith, +1-555-0101)`.
    pub fn describe(&self) -> String {
        let how: Vec<&str> = [self.slack.as_deref(), self.phone.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if how.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, how.join(", "))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rotation {
    /// The first shift's start, in the contacts' zone, as written.
    pub start: NaiveDateTime,
    pub every: Duration,
    pub shifts: Vec<Shift>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shift {
    pub primary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Level {
    pub name: String,
    /// Person ids and `oncall:ROLE`s, as written.
    pub notify: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within: Option<Duration>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<Risk>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The roles of a shift that `oncall:ROLE` names.
pub const ROLES: [&str; 3] = ["primary", "secondary", "manager"];

/// The shift on call at a moment.
#[derive(Debug, Clone, PartialEq)]
pub struct OnCall<'c> {
    /// Its place in the rotation, from 0.
    pub index: usize,
    pub shift: &'c Shift,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl Contacts {
    /// The shift on call at `t` (the rotation repeats both ways from its start). Shifts
    /// change at the wall-clock `handover` in the zone, so a daylight-saving change moves no
    /// handover.
    pub fn on_call(&self, t: DateTime<Utc>) -> Option<OnCall<'_>> {
        let r = self.rotation.as_ref().filter(|r| !r.shifts.is_empty())?;
        let every = chrono::Duration::from_std(r.every.std()).ok()?;
        let local = t.with_timezone(&self.zone).naive_local();
        let since = (local - r.start).num_seconds();
        let len = every.num_seconds().max(1);
        let n = since.div_euclid(len);
        // Checked: `--at` may name any moment chrono can read.
        let from = r
            .start
            .checked_add_signed(chrono::Duration::seconds(n.checked_mul(len)?))?;
        let until = from.checked_add_signed(every)?;
        let index = n.rem_euclid(r.shifts.len() as i64) as usize;
        let instant = |naive: NaiveDateTime| {
            self.zone
                .from_local_datetime(&naive)
                .earliest()
                .map(|d| d.with_timezone(&Utc))
                // A handover inside a daylight-saving gap: the hour after it.
                .or_else(|| {
                    self.zone
                        .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                        .earliest()
                        .map(|d| d.with_timezone(&Utc))
                })
        };
        Some(OnCall {
            index,
            shift: &r.shifts[index],
            from: instant(from)?,
            until: instant(until)?,
        })
    }

    /// The people `who` (a person id or `oncall:ROLE`) means at `t`; none when the role is
    /// not held then.
    pub fn resolve(&self, who: &str, t: DateTime<Utc>) -> Option<(&str, &Person)> {
        let id = match who.strip_prefix("oncall:") {
            Some(role) => {
                let shift = self.on_call(t)?.shift;
                match role {
                    "primary" => Some(shift.primary.as_str()),
                    "secondary" => shift.secondary.as_deref(),
                    _ => shift.manager.as_deref(),
                }?
            }
            None => who,
        };
        self.people.get_key_value(id).map(|(k, p)| (k.as_str(), p))
    }

    /// The level named `name`.
    pub fn level(&self, name: &str) -> Option<&Level> {
        self.levels.iter().find(|l| l.name == name)
    }
}
