//! What stands before a step: its gates (confirmation, approval, the environment's
//! policy), its preconditions, and the escalation chain of a step that waits for people.

use indexmap::IndexMap;

use super::compiler::{Compiler, Diags};
use super::model::*;
use super::refs::Scope;
use crate::expr::template::Quoting;
use crate::playbook::{ACTION_KEYS, Confirm, RawStep, Risk};
use crate::source::Span;
use crate::spec::{Action, Effect};
use crate::yaml::{Node, NodeKind, suggest_name};

impl Compiler<'_> {
    /// The chain of a step that waits for a person (a gate, `manual`, `input`): its own
    /// `escalate:`, else its playbook's. A step's own `escalate:` on a step that waits for
    /// nobody is an error: it would never notify anyone.
    pub(super) fn escalation(
        &mut self,
        raw: &RawStep,
        gates: &[Gate],
        action: Option<&PlannedAction>,
        risk: Risk,
    ) -> Option<Escalation> {
        let waits = !gates.is_empty() || action.is_some_and(|a| matches!(a.spec, Action::Manual(_) | Action::Input(_)));
        let chain = match &raw.escalate {
            Some(spec) if !waits => {
                self.error(
                    format!(
                        "step `{}` has `escalate` but waits for nobody: it has no gate and is not `manual` or `input`",
                        raw.id.value
                    ),
                    spec.span,
                )
                .help = Some("escalation notifies people while a gate waits for an answer".into());
                return None;
            }
            Some(spec) => match super::escalate::chain(spec, self.env.contacts.as_deref(), Some(risk), self.src) {
                Ok(Some(e)) => e,
                Ok(None) => {
                    self.lints.escalate_without_contacts(spec.span);
                    return None;
                }
                Err(mut d) => {
                    self.diags.append(&mut d);
                    return None;
                }
            },
            None if !waits => return None,
            None => {
                let (pb, contacts) = (self.escalate.as_ref()?, self.env.contacts.as_deref()?);
                super::escalate::for_step(pb, self.escalate_named, contacts, risk)
            }
        };
        (!chain.levels.is_empty()).then_some(chain)
    }

    /// The step's preconditions: one read-only check each, run before the step (and before
    /// its gates ask anyone).
    pub(super) fn preconditions(
        &mut self,
        raw: &RawStep,
        node: Option<&Node>,
        steps_check: &dyn Fn(&str) -> Result<(), String>,
        lv: Option<&str>,
    ) -> Vec<Check> {
        let mut out = Vec::new();
        let nodes: Vec<&Node> = match node.and_then(|n| n.get("preconditions")).map(|n| &n.kind) {
            Some(NodeKind::Seq(items)) => items.iter().collect(),
            _ => Vec::new(),
        };
        for (i, p) in raw.preconditions.iter().enumerate() {
            let actions = p.actions();
            let pnode = nodes.get(i).copied();
            if actions.len() != 1 {
                let msg = if actions.is_empty() {
                    format!("a precondition needs one check: one of {}", ACTION_KEYS.join(", "))
                } else {
                    let keys: Vec<String> = actions.iter().map(|a| format!("`{}`", a.key())).collect();
                    format!("a precondition runs one check, this one has {}", keys.join(", "))
                };
                self.error(msg, p.span);
                continue;
            }
            if let Some(t) = &p.timeout
                && t.value.std().is_zero()
            {
                self.error("`timeout` must be longer than 0s", t.span);
            }
            let a = &actions[0];
            let known = self.known.clone();
            let scope = Scope::of(&known, Some(steps_check), false, lv);
            let Some(planned) = self.plan_action(a, pnode.and_then(|n| n.get(a.key())), &scope) else {
                continue;
            };
            if planned.effect != Effect::ReadOnly {
                let hint = match a.value {
                    Action::Shell(_) | Action::Exec(_) => "add `read_only: true` if the command only reads",
                    _ => "preconditions may only read",
                };
                self.error(
                    format!(
                        "precondition `{}` is {}; preconditions must be read-only",
                        planned.summary,
                        planned.effect.as_str()
                    ),
                    a.span,
                )
                .help = Some(hint.into());
                continue;
            }
            out.push(Check {
                name: p.name.clone().unwrap_or_else(|| planned.summary.clone()),
                message: p.message.clone(),
                action: planned,
                timeout: p.timeout.as_ref().map(|t| t.value),
            });
        }
        out
    }

    /// The step's gates: a confirmation (the step's own or the environment's policy for its
    /// risk), an approval (its own, or a second person the policy requires).
    pub(super) fn gates(
        &mut self,
        raw: &RawStep,
        node: Option<&Node>,
        risk: Risk,
        steps_check: &dyn Fn(&str) -> Result<(), String>,
        lv: Option<&str>,
    ) -> Vec<Gate> {
        let mut gates = Vec::new();
        let policy = self.env.policy.clone();
        let env = self.env.name.clone();
        let mut confirm_reasons = Vec::new();
        let mut question = None;
        let mut question_template = None;
        if let Some(c) = &raw.confirm {
            match &c.value {
                Confirm::Flag(true) => confirm_reasons.push("step".to_string()),
                Confirm::Flag(false) => {}
                Confirm::Question(q) => {
                    confirm_reasons.push("step".to_string());
                    let known = self.known.clone();
                    let scope = Scope::of(&known, Some(steps_check), false, lv);
                    if let Some((rendered, runtime)) = self.check_template(q, Quoting::Plain, c.span, &scope, "confirm")
                    {
                        question = Some(rendered);
                        question_template = runtime.then(|| q.clone());
                    }
                }
            }
        }
        if policy.confirm.contains(&risk) {
            confirm_reasons.push(format!("policy: {env} confirms {} risk", risk.as_str()));
        }
        let signed = self.env.require_signatures.contains(&risk);
        if !confirm_reasons.is_empty() {
            gates.push(Gate {
                kind: GateKind::Confirm,
                reasons: confirm_reasons,
                question,
                question_template,
                approval: None,
                two_person: false,
                signed,
            });
        }
        let two_person = policy.two_person.contains(&risk);
        if let Some(a) = &raw.approval {
            check_groups(&mut self.diags, &self.env.groups, &a.value.approvers, node, a.span);
            let min = a.value.min.unwrap_or(1);
            if a.value.approvers.is_empty() {
                self.error("an approval needs at least one approver", a.span);
            } else if min == 0
                || min as usize > a.value.approvers.len() && !a.value.approvers.iter().any(|x| x.starts_with("group:"))
            {
                self.error(
                    format!("approval needs {min} approvers but lists {}", a.value.approvers.len()),
                    a.span,
                );
            }
            if let Some(t) = a.value.timeout
                && t.std().is_zero()
            {
                let span = node
                    .and_then(|n| n.get("approval"))
                    .and_then(|n| n.get("timeout"))
                    .map(|n| n.span)
                    .unwrap_or(a.span);
                self.error("approval.timeout must be longer than 0s", span);
            }
            let mut reasons = vec!["step".to_string()];
            if two_person {
                reasons.push(format!(
                    "policy: {env} requires a second person for {} risk",
                    risk.as_str()
                ));
            }
            gates.push(Gate {
                kind: GateKind::Approval,
                reasons,
                question: None,
                question_template: None,
                approval: Some(a.value.clone()),
                two_person,
                signed,
            });
        } else if two_person {
            gates.push(Gate {
                kind: GateKind::Approval,
                reasons: vec![format!(
                    "policy: {env} requires a second person for {} risk",
                    risk.as_str()
                )],
                question: None,
                question_template: None,
                approval: None,
                two_person: true,
                signed,
            });
        }
        gates
    }
}

/// Every `group:NAME` among an approval's approvers must be one of the workspace's
/// `groups`: an unknown one would be a gate nobody can pass, or anybody.
fn check_groups(
    diags: &mut Diags,
    groups: &IndexMap<String, Vec<String>>,
    approvers: &[String],
    node: Option<&Node>,
    fallback: Span,
) {
    let items = node.and_then(|n| n.get("approval")).and_then(|n| n.get("approvers"));
    for (i, who) in approvers.iter().enumerate() {
        let Some(group) = who.strip_prefix("group:") else {
            continue;
        };
        if groups.contains_key(group) {
            continue;
        }
        let span = match items.map(|n| &n.kind) {
            Some(NodeKind::Seq(list)) => list.get(i).map(|n| n.span).unwrap_or(fallback),
            _ => fallback,
        };
        let names: Vec<&str> = groups.keys().map(String::as_str).collect();
        let help = if names.is_empty() {
            "define it under `groups:` in runbook.yaml, e.g. `groups: { sre-leads: [alice, bob] }`".to_string()
        } else {
            suggest_name(group, &names, "group")
        };
        diags.error(format!("undefined group `{group}`"), span).help = Some(help);
    }
}
