//! The workspace's on-call contacts (`contacts:` in runbook.yaml, or the file it names):
//! people, the rotation, the escalation levels and the channels, as written and as checked,
//! and who is on call at a given moment.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::raw::Risk;
use crate::source::{Diagnostic, Source, Span};
use crate::spec::Duration;
use crate::yaml::{self, Collect, Node, Sp, suggest_name};

/// Most escalation levels: past a handful, nobody is left to wake.
pub const MAX_LEVELS: usize = 20;
/// Most shifts in a rotation (ten years of weeks).
pub const MAX_SHIFTS: usize = 520;
/// The range of a rotation's shift length: an hour to a year.
const MIN_SHIFT_SECS: u64 = 3600;

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

/// Checks the workspace's `contacts:` section (reading the file it names); every error is
/// reported at its file:line:col.
pub fn load(
    root: &Path,
    source: &Arc<Source>,
    node: &Node,
    spec: &Sp<ContactsSpec>,
) -> Result<Contacts, Vec<Diagnostic>> {
    let Some(file) = &spec.value.file else {
        return check(source, node, &spec.value);
    };
    let s = &spec.value;
    let others = [
        ("timezone", s.timezone.is_some()),
        ("people", !s.people.is_empty()),
        ("rotation", s.rotation.is_some()),
        ("escalation", !s.escalation.is_empty()),
        ("channels", !s.channels.is_empty()),
        ("pager", s.pager.is_some()),
    ];
    if let Some((key, _)) = others.iter().find(|(_, set)| *set) {
        let span = node.key_span(key).unwrap_or(spec.span);
        return Err(vec![
            Diagnostic::error(format!(
                "`contacts` names a file (`file: {}`) and also sets `{key}`",
                file.value
            ))
            .at(source, span)
            .help("keep the whole section in one place: in the file, or here without `file`"),
        ]);
    }
    let path = root.join(&file.value);
    let (fsource, fnode) = super::read_yaml(&path).map_err(|mut d| {
        // Where the file was named, so the reader knows which setting to fix.
        d.push(
            Diagnostic::error(format!("cannot read the contacts file `{}`", file.value))
                .at(source, file.span)
                .help("the path is relative to runbook.yaml"),
        );
        d
    })?;
    let (parsed, errors) = yaml::from_node_collecting::<ContactsFile>(&fnode);
    let mut diags: Vec<Diagnostic> = errors.into_iter().map(|e| super::de_diagnostic(&fsource, e)).collect();
    let Some(parsed) = parsed else {
        if diags.is_empty() {
            diags.push(Diagnostic::error("the contacts file holds no `contacts:` section").in_file(&fsource));
        }
        return Err(diags);
    };
    if !diags.is_empty() {
        return Err(diags);
    }
    if parsed.contacts.value.file.is_some() {
        let span = fnode
            .get("contacts")
            .and_then(|c| c.key_span("file"))
            .unwrap_or(parsed.contacts.span);
        return Err(vec![
            Diagnostic::error("a contacts file cannot name another file").at(&fsource, span),
        ]);
    }
    let inner = fnode.get("contacts").cloned().unwrap_or(fnode.clone());
    check(&fsource, &inner, &parsed.contacts.value)
}

/// Checks one contacts section written in `source` (whose `contacts` mapping is `node`).
fn check(source: &Arc<Source>, node: &Node, s: &ContactsSpec) -> Result<Contacts, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut err = |msg: String, span: Span, help: Option<String>| {
        let mut d = Diagnostic::error(msg).at(source, span);
        if let Some(h) = help {
            d = d.help(h);
        }
        diags.push(d);
    };
    let whole = node.span;

    let zone: chrono_tz::Tz = match &s.timezone {
        None => chrono_tz::UTC,
        Some(tz) => match tz.value.parse() {
            Ok(z) => z,
            Err(_) => {
                err(
                    format!("unknown time zone `{}`", tz.value),
                    tz.span,
                    Some("an IANA name, e.g. `Europe/Berlin` or `America/New_York`".into()),
                );
                chrono_tz::UTC
            }
        },
    };

    let mut people = IndexMap::new();
    let people_node = node.get("people");
    for (id, p) in &s.people {
        let span = people_node.and_then(|n| n.key_span(id)).unwrap_or(whole);
        if !valid_id(id) {
            err(
                format!("person id `{id}` is not `[a-z0-9._-]+`"),
                span,
                Some("ids are what levels and shifts name; the full name goes in `name`".into()),
            );
        }
        if let Some(p) = &p.0 {
            people.insert(
                id.clone(),
                Person {
                    name: p.value.name.clone(),
                    phone: p.value.phone.clone(),
                    slack: p.value.slack.clone(),
                    role: p.value.role.clone(),
                },
            );
        }
    }
    let ids: Vec<&str> = s.people.keys().map(String::as_str).collect();
    let unknown_person = |who: &Sp<String>, err: &mut dyn FnMut(String, Span, Option<String>)| {
        if !s.people.contains_key(who.value.as_str()) {
            let help = if ids.is_empty() {
                "list them under `contacts.people`".to_string()
            } else {
                suggest_name(&who.value, &ids, "person")
            };
            err(format!("unknown person `{}`", who.value), who.span, Some(help));
        }
    };

    let rotation = s.rotation.as_ref().and_then(|r| {
        let r = &r.value;
        let date = NaiveDate::parse_from_str(&r.start.value, "%Y-%m-%d");
        if date.is_err() {
            err(
                format!("rotation.start `{}` is not a date `YYYY-MM-DD`", r.start.value),
                r.start.span,
                None,
            );
        }
        let time = match &r.handover {
            None => Ok(NaiveTime::MIN),
            Some(h) => NaiveTime::parse_from_str(&h.value, "%H:%M").inspect_err(|_| {
                err(
                    format!("rotation.handover `{}` is not a time `HH:MM`", h.value),
                    h.span,
                    None,
                )
            }),
        };
        let every = r.every.as_ref().map(|e| e.value).unwrap_or(Duration::from_secs(7 * 86_400));
        if every.std().as_secs() < MIN_SHIFT_SECS {
            let span = r.every.as_ref().map(|e| e.span).unwrap_or(r.start.span);
            err(
                format!("rotation.every must be at least 1h, not {every}"),
                span,
                None,
            );
        }
        if r.shifts.is_empty() {
            err("the rotation has no shifts".into(), r.start.span, None);
        }
        if r.shifts.len() > MAX_SHIFTS {
            err(
                format!("the rotation has {} shifts; at most {MAX_SHIFTS}", r.shifts.len()),
                r.shifts[MAX_SHIFTS].span,
                None,
            );
        }
        for shift in &r.shifts {
            let sh = &shift.value;
            for who in [Some(&sh.primary), sh.secondary.as_ref(), sh.manager.as_ref()]
                .into_iter()
                .flatten()
            {
                unknown_person(who, &mut err);
            }
            if let Some(second) = &sh.secondary
                && second.value == sh.primary.value
            {
                err(
                    format!(
                        "`{}` is both primary and secondary of one shift: the shifts of the rotation overlap on one person",
                        second.value
                    ),
                    second.span,
                    Some("the secondary is the primary's backup: name someone else".into()),
                );
            }
        }
        let (Ok(date), Ok(time)) = (date, time) else {
            return None;
        };
        Some(Rotation {
            start: date.and_time(time),
            every,
            shifts: r
                .shifts
                .iter()
                .map(|sh| Shift {
                    primary: sh.value.primary.value.clone(),
                    secondary: sh.value.secondary.as_ref().map(|x| x.value.clone()),
                    manager: sh.value.manager.as_ref().map(|x| x.value.clone()),
                })
                .collect(),
        })
    });

    let mut levels: Vec<Level> = Vec::new();
    let written: Vec<&Sp<LevelSpec>> = s.escalation.iter().filter_map(|l| l.0.as_ref()).collect();
    if written.len() > MAX_LEVELS {
        err(
            format!("{} escalation levels; at most {MAX_LEVELS}", written.len()),
            written[MAX_LEVELS].span,
            None,
        );
    }
    for (i, l) in written.iter().enumerate() {
        let lv = &l.value;
        if levels.iter().any(|x| x.name == lv.name.value) {
            err(
                format!("escalation level `{}` is defined twice", lv.name.value),
                lv.name.span,
                None,
            );
        }
        if lv.notify.value.is_empty() {
            err(
                format!("escalation level `{}` notifies nobody", lv.name.value),
                lv.notify.span,
                None,
            );
        }
        for who in &lv.notify.value {
            match who.value.strip_prefix("oncall:") {
                Some(role) if !ROLES.contains(&role) => err(
                    format!("unknown on-call role `{role}`"),
                    who.span,
                    Some(suggest_name(role, &ROLES, "role")),
                ),
                Some(role) => match &s.rotation {
                    None => err(
                        format!("`{}` needs a `rotation` to say who is on call", who.value),
                        who.span,
                        None,
                    ),
                    Some(r) => {
                        let lacking = r.value.shifts.iter().position(|sh| match role {
                            "secondary" => sh.value.secondary.is_none(),
                            "manager" => sh.value.manager.is_none(),
                            _ => false,
                        });
                        if let Some(k) = lacking {
                            err(
                                format!("`{}`: shift {} of the rotation has no {role}", who.value, k + 1),
                                who.span,
                                None,
                            );
                        }
                    }
                },
                None => unknown_person(who, &mut err),
            }
        }
        let last = i + 1 == written.len();
        match &lv.within {
            Some(w) if w.value.std().is_zero() => {
                err("`within` must be longer than 0s".into(), w.span, None);
            }
            None if !last => err(
                format!(
                    "escalation level `{}` has no `within`: the levels after it would never be notified",
                    lv.name.value
                ),
                lv.name.span,
                Some("say how long it has to answer, e.g. `within: 15m`".into()),
            ),
            _ => {}
        }
        levels.push(Level {
            name: lv.name.value.clone(),
            notify: lv.notify.value.iter().map(|w| w.value.clone()).collect(),
            within: lv.within.as_ref().map(|w| w.value),
            risks: lv.risks.clone(),
            description: lv.description.clone(),
        });
    }

    let mut channels = IndexMap::new();
    let channels_node = node.get("channels");
    for (name, c) in &s.channels {
        let span = channels_node.and_then(|n| n.key_span(name)).unwrap_or(whole);
        if !valid_id(name) || name.starts_with('#') {
            err(
                format!("channel name `{name}` is not `[a-z0-9._-]+`"),
                span,
                Some("write the channel without its `#`: `incidents` for #incidents".into()),
            );
        }
        if let Some(c) = &c.0 {
            check_env(&c.value.webhook.value.env, &mut err);
            channels.insert(name.clone(), c.value.webhook.value.env.value.clone());
        }
    }
    let pager = s.pager.as_ref().map(|p| {
        check_env(&p.value.env, &mut err);
        p.value.env.value.clone()
    });

    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Contacts {
        origin: crate::source::display_path(&source.path),
        timezone: zone.name().to_string(),
        zone,
        people,
        rotation,
        levels,
        channels,
        pager,
    })
}

/// A webhook's environment variable must be a name a shell can set: an address written
/// there instead is a token in the YAML.
fn check_env(var: &Sp<String>, err: &mut dyn FnMut(String, Span, Option<String>)) {
    let v = &var.value;
    let ok = !v.is_empty()
        && !v.starts_with(|c: char| c.is_ascii_digit())
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        err(
            format!("`{v}` is not an environment variable's name"),
            var.span,
            Some("a webhook's address holds a token: set it in an environment variable (`env: SLACK_INCIDENTS_WEBHOOK`), never in YAML".into()),
        );
    }
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contacts(yaml_text: &str) -> Result<Contacts, Vec<Diagnostic>> {
        let source = Source::new(Path::new("runbook.yaml"), yaml_text.to_string());
        let node = yaml::parse(&source.text).expect("yaml");
        let spec: Sp<ContactsSpec> = yaml::from_node(node.get("contacts").expect("contacts")).expect("reads");
        let inner = node.get("contacts").expect("contacts").clone();
        load(Path::new("/nonexistent"), &source, &inner, &spec)
    }

    const BOOK: &str = r#"
contacts:
  timezone: America/New_York
  people:
    jsmith: { name: John Smith, slack: "@jsmith" }
    jdoe: { name: Jane Doe }
    mtech: { name: Mike Tech }
  rotation:
    start: 2025-10-06
    handover: "09:00"
    shifts:
      - { primary: jsmith, secondary: jdoe }
      - { primary: jdoe, secondary: mtech }
  escalation:
    - { name: L1, notify: [oncall:primary], within: 15m }
    - { name: L2, notify: [oncall:secondary] }
"#;

    #[test]
    fn the_shift_on_call_turns_over_at_the_local_handover() {
        let c = contacts(BOOK).expect("valid");
        // 2025-10-06 09:00 in New York (EDT, UTC-4) is 13:00 UTC.
        let at = |s: &str| DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc);
        assert_eq!(c.on_call(at("2025-10-06T12:59:00Z")).map(|o| o.index), Some(1));
        assert_eq!(c.on_call(at("2025-10-06T13:00:00Z")).map(|o| o.index), Some(0));
        assert_eq!(c.on_call(at("2025-10-13T13:00:00Z")).map(|o| o.index), Some(1));
        assert_eq!(c.on_call(at("2025-10-20T13:00:00Z")).map(|o| o.index), Some(0));
        // After the clocks go back (2 Nov), the handover is still 09:00 local: 14:00 UTC.
        let nov = c.on_call(at("2025-11-03T13:30:00Z")).expect("on call");
        assert_eq!(nov.index, 1);
        assert_eq!(nov.until, at("2025-11-03T14:00:00Z"));
        assert_eq!(
            c.resolve("oncall:secondary", at("2025-11-03T14:00:00Z")).map(|p| p.0),
            Some("jdoe")
        );
    }

    #[test]
    fn bad_sections_are_errors_where_they_are_written() {
        let bad = BOOK
            .replace("notify: [oncall:secondary]", "notify: [oncall:secondry, bob]")
            .replace("secondary: mtech", "secondary: jdoe")
            .replace("within: 15m", "within: 0s");
        let errs = contacts(&bad).expect_err("invalid");
        let text: Vec<String> = errs.iter().map(|d| d.message.clone()).collect();
        assert!(
            text.iter().any(|m| m.contains("unknown on-call role `secondry`")),
            "{text:?}"
        );
        assert!(text.iter().any(|m| m.contains("unknown person `bob`")), "{text:?}");
        assert!(text.iter().any(|m| m.contains("overlap")), "{text:?}");
        assert!(text.iter().any(|m| m.contains("longer than 0s")), "{text:?}");
        assert!(errs.iter().all(|d| d.span.is_some()));
    }
}
