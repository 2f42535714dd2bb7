//! Reading and checking a `contacts:` section (or the file it names) into [`Contacts`]:
//! every error is a diagnostic at its file:line:col.

use std::path::Path;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveTime};
use indexmap::IndexMap;

use super::model::{Contacts, Level, Person, ROLES, Rotation, Shift};
use super::spec::{ContactsFile, ContactsSpec, LevelSpec};
use crate::source::{Diagnostic, Source, Span};
use crate::spec::Duration;
use crate::yaml::{self, Node, Sp, suggest_name};

/// Most escalation levels: past a handful, nobody is left to wake.
pub const MAX_LEVELS: usize = 20;
/// Most shifts in a rotation (ten years of weeks).
pub const MAX_SHIFTS: usize = 520;
/// The range of a rotation's shift length: an hour to a year.
const MIN_SHIFT_SECS: u64 = 3600;
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
    let (fsource, fnode) = crate::playbook::read_yaml(&path).map_err(|mut d| {
        // Where the file was named, so the reader knows which setting to fix.
        d.push(
            Diagnostic::error(format!("cannot read the contacts file `{}`", file.value))
                .at(source, file.span)
                .help("the path is relative to runbook.yaml"),
        );
        d
    })?;
    let (parsed, errors) = yaml::from_node_collecting::<ContactsFile>(&fnode);
    let mut diags: Vec<Diagnostic> = errors
        .into_iter()
        .map(|e| crate::playbook::de_diagnostic(&fsource, e))
        .collect();
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
