//! Checks `playbook` actions against the workspace: the called playbook exists, and the
//! params given are the ones it declares, its required ones included.

use std::collections::HashMap;

use super::Compiled;
use crate::playbook::{self, RawPlaybook, Workspace};
use crate::source::Diagnostic;
use crate::spec::Action;
use crate::yaml::suggest_name;

/// Problems with the sub-playbooks a compiled playbook calls.
pub fn check(ws: &Workspace, c: &Compiled) -> Vec<Diagnostic> {
    let pb = &c.playbook;
    let mut loaded: HashMap<String, Option<RawPlaybook>> = HashMap::new();
    let mut out = Vec::new();
    for step in pb.steps.iter().chain(&pb.on_failure).chain(&pb.finally) {
        let Some(Action::Playbook(call)) = step.action.as_ref().map(|a| &a.spec) else {
            continue;
        };
        let name = call.0.name.as_str();
        let at = |d: Diagnostic| d.at(&pb.source, step.span);
        if name.contains("{{") {
            continue;
        }
        if name == pb.name {
            out.push(at(Diagnostic::error(format!(
                "step `{}` runs its own playbook `{name}`",
                step.id
            ))));
            continue;
        }
        let target = loaded.entry(name.to_string()).or_insert_with(|| {
            ws.playbook_path(name)
                .ok()
                .and_then(|p| playbook::load_playbook(&p).ok())
                .map(|lp| lp.raw)
        });
        let Some(target) = target else {
            let d = match ws.playbook_path(name) {
                Err(d) => {
                    Diagnostic::error(format!("step `{}` runs {}", step.id, d.message)).help(d.help.unwrap_or_default())
                }
                Ok(p) => Diagnostic::error(format!(
                    "step `{}` runs playbook `{name}`, which is invalid (see `runbook validate {}`)",
                    step.id,
                    crate::source::display_path(&p)
                )),
            };
            out.push(at(d));
            continue;
        };
        let declared: Vec<&str> = target.params.keys().map(String::as_str).collect();
        for given in call.0.params.keys() {
            if !target.params.contains_key(given) {
                out.push(at(Diagnostic::error(format!(
                    "step `{}` gives playbook `{name}` param `{given}`, which it does not declare",
                    step.id
                ))
                .help(suggest_name(given, &declared, "param"))));
            }
        }
        for (pname, spec) in &target.params {
            let Some(spec) = &spec.0 else { continue };
            let required = spec.default.is_none() && spec.required.unwrap_or(true);
            if required && !call.0.params.contains_key(pname) {
                out.push(at(Diagnostic::error(format!(
                    "step `{}` runs playbook `{name}` without its required param `{pname}`",
                    step.id
                ))));
            }
        }
    }
    out
}
