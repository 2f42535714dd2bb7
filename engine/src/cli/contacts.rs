//! `runbook contacts`: who is on call now (or at `--at`), the next shift, the escalation
//! path with the people it reaches, and whether each channel's webhook is set. Read-only.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::common::{Format, Global};
use crate::error;
use crate::playbook::Contacts;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The moment to look at (RFC 3339, e.g. `2026-01-05T10:00:00Z`; default: now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<DateTime<Utc>>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 time ({e})"))
}

pub fn exec(g: &Global, a: Args) -> i32 {
    let ws = match g.ws() {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    let Some(c) = ws.contacts.clone() else {
        eprintln!("error: this workspace has no `contacts:` in runbook.yaml (see docs/escalation.md)");
        return error::INVALID;
    };
    let at = a.at.unwrap_or_else(Utc::now);
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&as_json(&c, at)).unwrap_or_default()),
        Format::Text => print!("{}", as_text(&c, at)),
    }
    error::SUCCESS
}

fn set(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| !v.is_empty())
}

/// Who `who` reaches at `at`: `John Smith (@jsmith, +1-555-0101)`, or why nobody.
fn reach(c: &Contacts, who: &str, at: DateTime<Utc>) -> String {
    match c.resolve(who, at) {
        Some((_, p)) if who.starts_with("oncall:") => format!("{} [{who}]", p.describe()),
        Some((_, p)) => p.describe(),
        None => format!("nobody [{who}]"),
    }
}

fn as_text(c: &Contacts, at: DateTime<Utc>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let local = |t: DateTime<Utc>| t.with_timezone(&c.zone).format("%Y-%m-%d %H:%M %Z").to_string();
    let _ = writeln!(out, "contacts from {} · zone {}", c.origin, c.timezone);
    let shifts = c.rotation.as_ref().map(|r| r.shifts.len()).unwrap_or(0);
    match c.on_call(at) {
        Some(now) => {
            let _ = writeln!(
                out,
                "on call at {} (shift {} of {shifts}, until {}):",
                local(at),
                now.index + 1,
                local(now.until)
            );
            for role in crate::playbook::contacts::ROLES {
                let who = format!("oncall:{role}");
                if let Some((_, p)) = c.resolve(&who, at) {
                    let _ = writeln!(out, "  {role:<10} {}", p.describe());
                }
            }
            if let Some(next) = c.on_call(now.until) {
                let names: Vec<String> = crate::playbook::contacts::ROLES
                    .iter()
                    .filter_map(|role| {
                        c.resolve(&format!("oncall:{role}"), next.from)
                            .map(|(_, p)| format!("{role} {}", p.name))
                    })
                    .collect();
                let _ = writeln!(out, "next shift from {}: {}", local(next.from), names.join(" · "));
            }
        }
        None => {
            let _ = writeln!(out, "no rotation: nobody is on call by turn");
        }
    }
    if !c.levels.is_empty() {
        let _ = writeln!(out, "escalation (while a gate waits unanswered):");
        for l in &c.levels {
            let who: Vec<String> = l.notify.iter().map(|w| reach(c, w, at)).collect();
            let mut tail = match l.within {
                Some(w) => format!("within {w}"),
                None => "last level".into(),
            };
            if !l.risks.is_empty() {
                let risks: Vec<&str> = l.risks.iter().map(|r| r.as_str()).collect();
                tail.push_str(&format!(" · only for {} risk", risks.join(", ")));
            }
            if let Some(d) = &l.description {
                tail.push_str(&format!(" · {d}"));
            }
            let _ = writeln!(out, "  {:<4} {} · {tail}", l.name, who.join(", "));
        }
    }
    for (name, var) in &c.channels {
        let state = if set(var) { "set" } else { "NOT SET" };
        let _ = writeln!(out, "channel #{name:<16} webhook from {var} ({state})");
    }
    if let Some(var) = &c.pager {
        let state = if set(var) { "set" } else { "NOT SET" };
        let _ = writeln!(out, "pager             webhook from {var} ({state})");
    }
    out
}

fn as_json(c: &Contacts, at: DateTime<Utc>) -> serde_json::Value {
    let person = |who: &str, t: DateTime<Utc>| {
        c.resolve(who, t)
            .map(|(id, p)| json!({ "id": id, "name": p.name, "phone": p.phone, "slack": p.slack, "role": p.role }))
    };
    let shift = |t: DateTime<Utc>| {
        c.on_call(t).map(|o| {
            json!({
                "shift": o.index + 1,
                "from": o.from.to_rfc3339(),
                "until": o.until.to_rfc3339(),
                "primary": person("oncall:primary", t),
                "secondary": person("oncall:secondary", t),
                "manager": person("oncall:manager", t),
            })
        })
    };
    let next = c.on_call(at).and_then(|o| shift(o.until));
    json!({
        "origin": c.origin,
        "timezone": c.timezone,
        "at": at.to_rfc3339(),
        "on_call": shift(at),
        "next": next,
        "escalation": c.levels.iter().map(|l| json!({
            "level": l.name,
            "notify": l.notify.iter().map(|w| json!({ "who": w, "person": person(w, at) })).collect::<Vec<_>>(),
            "within": l.within.map(|w| w.to_string()),
            "risks": l.risks,
        })).collect::<Vec<_>>(),
        "channels": c.channels.iter().map(|(n, v)| (n.clone(), json!({ "env": v, "set": set(v) }))).collect::<serde_json::Map<_, _>>(),
        "pager": c.pager.as_ref().map(|v| json!({ "env": v, "set": set(v) })),
    })
}
