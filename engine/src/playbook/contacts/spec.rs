//! The `contacts:` section and `escalate:` as written: the serde types the loader reads,
//! each value with its span for the checks.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::playbook::raw::Risk;
use crate::spec::Duration;
use crate::yaml::{Collect, Sp};

/// `contacts:` in runbook.yaml: the section itself, or `{ file: PATH }` naming a file that
/// holds it under a top-level `contacts:` key.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "contacts")]
pub struct ContactsSpec {
    /// A YAML file (relative to runbook.yaml) holding the section under `contacts:`; with
    /// it, nothing else is written here.
    #[serde(default)]
    pub file: Option<Sp<String>>,
    /// IANA time zone the rotation's shifts change in (default UTC).
    #[serde(default)]
    pub timezone: Option<Sp<String>>,
    /// Everyone who can be notified, by id (`jsmith`): levels and shifts name these ids.
    #[serde(default)]
    pub people: IndexMap<String, Collect<Sp<PersonSpec>>>,
    /// Who is on call when: shifts that take turns from a start date.
    #[serde(default)]
    pub rotation: Option<Sp<RotationSpec>>,
    /// The escalation path, first level first: who is told while a gate waits unanswered.
    #[serde(default)]
    pub escalation: Vec<Collect<Sp<LevelSpec>>>,
    /// Chat channels by name (`incidents` for #incidents); each posts to a webhook read from
    /// an environment variable.
    #[serde(default)]
    pub channels: IndexMap<String, Collect<Sp<ChannelSpec>>>,
    /// The paging service's webhook (phone and pager): each escalation is posted to it.
    #[serde(default)]
    pub pager: Option<Sp<WebhookSpec>>,
}

/// A file named by `contacts: { file: ... }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "contacts_file")]
pub struct ContactsFile {
    pub contacts: Sp<ContactsSpec>,
}

/// One person.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "person")]
pub struct PersonSpec {
    /// Full name, as messages show it.
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    /// Slack handle, `@jsmith`: messages mention it.
    #[serde(default)]
    pub slack: Option<String>,
    /// What they are to the team (`team lead`), for people reading the chain.
    #[serde(default)]
    pub role: Option<String>,
}

/// Shifts that take turns: the first starts at `start` (at `handover`, in the contacts'
/// time zone), each lasts `every`, and after the last the first comes again.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "rotation")]
pub struct RotationSpec {
    /// The day the first shift begins, `YYYY-MM-DD`.
    pub start: Sp<String>,
    /// The local time shifts change, `HH:MM` (default `00:00`).
    #[serde(default)]
    pub handover: Option<Sp<String>>,
    /// How long a shift lasts (default `1w`; from 1h to 366d).
    #[serde(default)]
    pub every: Option<Sp<Duration>>,
    /// The shifts, in turn.
    pub shifts: Vec<Sp<ShiftSpec>>,
}

/// Who holds one shift, by person id.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "shift")]
pub struct ShiftSpec {
    pub primary: Sp<String>,
    #[serde(default)]
    pub secondary: Option<Sp<String>>,
    #[serde(default)]
    pub manager: Option<Sp<String>>,
}

/// One level of the escalation path.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "level")]
pub struct LevelSpec {
    /// `L1`, `L2`, …: unique.
    pub name: Sp<String>,
    /// Who this level notifies: person ids, or `oncall:primary`, `oncall:secondary`,
    /// `oncall:manager` (whoever holds that role in the shift on call then).
    pub notify: Sp<Vec<Sp<String>>>,
    /// How long this level has to answer before the next is notified; required on every
    /// level but the last.
    #[serde(default)]
    pub within: Option<Sp<Duration>>,
    /// Only for steps of these risk levels (default: every risk), e.g. `[critical]` for a
    /// VP who is woken for critical incidents only.
    #[serde(default)]
    pub risks: Vec<Risk>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A chat channel.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "channel")]
pub struct ChannelSpec {
    /// Where its incoming webhook's address is read from (never written in YAML: it holds
    /// a token).
    pub webhook: Sp<WebhookSpec>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A webhook address, read when the run starts.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "webhook_source")]
pub struct WebhookSpec {
    /// The environment variable holding the address (`SLACK_INCIDENTS_WEBHOOK`).
    pub env: Sp<String>,
}

/// `escalate:` on a step or a playbook: while a gate waits unanswered, the escalation
/// levels of the workspace's contacts are notified one after another.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "escalate")]
pub struct EscalateSpec {
    /// A channel of `contacts.channels` (`incidents`) that each escalation is posted to; on
    /// a playbook, the incident is also announced there when the run starts.
    #[serde(default)]
    pub channel: Option<Sp<String>>,
    /// The levels to go through, by name (default: every level of the contacts).
    #[serde(default)]
    pub levels: Option<Sp<Vec<Sp<String>>>>,
    /// How long a step waits before the first level is notified (default 0s: at once).
    /// A question at the runner's own terminal may want a minute before anyone is paged.
    #[serde(default)]
    pub after: Option<Sp<Duration>>,
}
