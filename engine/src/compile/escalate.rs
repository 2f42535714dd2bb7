//! `escalate:` → the escalation chain of a step or a playbook: its channel and levels checked
//! against the workspace's contacts, and the levels a step's risk does not call for dropped.

use std::sync::Arc;

use super::model::{Escalation, EscalationLevel};
use crate::playbook::contacts::EscalateSpec;
use crate::playbook::{Contacts, Risk};
use crate::source::{Diagnostic, Source};
use crate::yaml::{Sp, suggest_name};

/// The chain `spec` asks for. `risk` is the step's: a level with `risks` is left out of the
/// chain of a step of another risk, unless `levels:` names it (a playbook-level chain keeps
/// every level; each step filters it again by its own risk). `Ok(None)`: the workspace has
/// no contacts, so there is nobody to escalate to (a lint, not an error: a playbook copied
/// into another workspace still runs).
pub(super) fn chain(
    spec: &Sp<EscalateSpec>,
    contacts: Option<&Contacts>,
    risk: Option<Risk>,
    src: &Arc<Source>,
) -> Result<Option<Escalation>, Vec<Diagnostic>> {
    let Some(contacts) = contacts else {
        return Ok(None);
    };
    let mut diags = Vec::new();
    let channel = spec.value.channel.as_ref().and_then(|c| {
        let name = c.value.strip_prefix('#').unwrap_or(&c.value);
        if contacts.channels.contains_key(name) {
            Some(name.to_string())
        } else {
            let names: Vec<&str> = contacts.channels.keys().map(String::as_str).collect();
            diags.push(
                Diagnostic::error(format!("unknown channel `{}`", c.value))
                    .at(src, c.span)
                    .help(if names.is_empty() {
                        format!("define it under `contacts.channels` in {}", contacts.origin)
                    } else {
                        suggest_name(name, &names, "channel")
                    }),
            );
            None
        }
    });
    if spec.value.channel.is_none() && contacts.pager.is_none() {
        diags.push(
            Diagnostic::error("`escalate` has nowhere to notify: no `channel`, and the contacts have no `pager`")
                .at(src, spec.span)
                .help("name a channel of `contacts.channels`, e.g. `escalate: { channel: incidents }`"),
        );
    }
    let names: Vec<&str> = contacts.levels.iter().map(|l| l.name.as_str()).collect();
    let chosen: Vec<&crate::playbook::contacts::Level> = match &spec.value.levels {
        None => contacts.levels.iter().collect(),
        Some(list) => {
            if list.value.is_empty() {
                diags.push(Diagnostic::error("`escalate.levels` is empty").at(src, list.span));
            }
            list.value
                .iter()
                .filter_map(|n| {
                    let found = contacts.level(&n.value);
                    if found.is_none() {
                        diags.push(
                            Diagnostic::error(format!("unknown escalation level `{}`", n.value))
                                .at(src, n.span)
                                .help(suggest_name(&n.value, &names, "level")),
                        );
                    }
                    found
                })
                .collect()
        }
    };
    if contacts.levels.is_empty() {
        diags.push(
            Diagnostic::error(format!(
                "`escalate`: the contacts ({}) define no escalation levels",
                contacts.origin
            ))
            .at(src, spec.span),
        );
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let levels: Vec<EscalationLevel> = chosen
        .into_iter()
        .filter(|l| spec.value.levels.is_some() || l.risks.is_empty() || risk.is_none_or(|r| l.risks.contains(&r)))
        .map(|l| EscalationLevel {
            name: l.name.clone(),
            notify: l.notify.clone(),
            within: l.within,
        })
        .collect();
    Ok(Some(Escalation {
        channel,
        after: spec
            .value
            .after
            .as_ref()
            .map(|a| a.value)
            .filter(|a| !a.std().is_zero()),
        levels,
    }))
}

/// The chain of one step from its playbook's: the levels its risk calls for, or every level
/// the playbook's `levels:` names (`named`).
pub(super) fn for_step(playbook: &Escalation, named: bool, contacts: &Contacts, risk: Risk) -> Escalation {
    Escalation {
        channel: playbook.channel.clone(),
        after: playbook.after,
        levels: playbook
            .levels
            .iter()
            .filter(|l| {
                named
                    || contacts
                        .level(&l.name)
                        .is_none_or(|c| c.risks.is_empty() || c.risks.contains(&risk))
            })
            .cloned()
            .collect(),
    }
}
