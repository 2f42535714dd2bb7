//! The workspace's approval rules as they stand when approvals are counted: who is in which
//! group, whose key is whose (allowed_signers), and whether one approval counts for one gate.

use std::path::PathBuf;

use indexmap::IndexMap;

use super::signature::{AllowedSigners, Statement, check_signature};
use crate::compile::Gate;
use crate::playbook::Workspace;
use crate::source::Diagnostic;

/// Where allowed_signers is when runbook.yaml does not say.
pub const DEFAULT_ALLOWED_SIGNERS: &str = ".runbook/allowed_signers";

#[derive(Debug, Clone)]
pub struct ApprovalPolicy {
    /// The workspace's `groups`.
    pub groups: IndexMap<String, Vec<String>>,
    /// The allowed signers, or why they could not be read (an error only once a signature is
    /// needed).
    pub signers: Result<AllowedSigners, String>,
}

/// Why one approval does not count, and whether that is worth telling (a forgery, an
/// approval the runner gave themself) or just someone the gate does not ask.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub why: String,
    pub notable: bool,
}

impl ApprovalPolicy {
    /// The rules of a workspace: its `groups` and its allowed_signers file.
    pub fn load(ws: &Workspace) -> ApprovalPolicy {
        let path = Self::signers_path(ws);
        ApprovalPolicy {
            groups: ws.config.groups.clone(),
            signers: AllowedSigners::load(&path),
        }
    }

    /// No groups, no signers: every signature requirement fails closed.
    pub fn empty() -> ApprovalPolicy {
        ApprovalPolicy {
            groups: IndexMap::new(),
            signers: Err("no workspace, so no allowed_signers file".into()),
        }
    }

    pub fn signers_path(ws: &Workspace) -> PathBuf {
        let rel = ws
            .config
            .approvals
            .as_ref()
            .and_then(|a| a.allowed_signers.clone())
            .unwrap_or_else(|| DEFAULT_ALLOWED_SIGNERS.into());
        ws.root.join(rel)
    }

    /// What `validate` says about runbook.yaml's `approvals`: the allowed_signers file that
    /// signatures are checked against must be readable and well-formed, found before a run
    /// needs it rather than when it does.
    pub fn validate(ws: &Workspace) -> Vec<Diagnostic> {
        let Some(a) = &ws.config.approvals else {
            return Vec::new();
        };
        if a.require_signatures.is_empty() && a.allowed_signers.is_none() {
            return Vec::new();
        }
        match AllowedSigners::load(&Self::signers_path(ws)) {
            Ok(_) => Vec::new(),
            Err(e) => vec![Diagnostic::error(format!("approvals.allowed_signers: {e}"))],
        }
    }

    /// Whether `name` is one of `approvers`, by name or as a member of a `group:`.
    pub fn may_approve(&self, approvers: &[String], name: &str) -> bool {
        approvers.iter().any(|x| match x.strip_prefix("group:") {
            Some(g) => self.groups.get(g).is_some_and(|m| m.iter().any(|m| m == name)),
            None => x == name,
        })
    }

    /// Whether a (possibly signed) approval counts for a gate whose run is `runner`'s.
    /// A signature, when there is one, must always match what it says; under `signed` it
    /// must also be the approver's key in allowed_signers and not one of the runner's.
    pub fn check(&self, gate: &Gate, runner: &str, st: &Statement, signature: Option<&str>) -> Result<(), Refusal> {
        let notable = |why: String| Refusal { why, notable: true };
        match (signature, gate.signed) {
            (Some(sig), true) => {
                let signers = self.signers.as_ref().map_err(|e| notable(e.clone()))?;
                let (_, key) = signers.verify(st, sig).map_err(|e| notable(e.to_string()))?;
                if signers.is_key_of(&key, runner) {
                    return Err(notable(format!(
                        "it is signed with a key of the runner ({runner}), who never approves their own run"
                    )));
                }
            }
            (Some(sig), false) => {
                check_signature(st, sig).map_err(|e| notable(e.to_string()))?;
            }
            (None, true) => {
                return Err(notable(
                    "it is not signed, and this step's risk needs signed approvals (approve with --key)".into(),
                ));
            }
            (None, false) => {}
        }
        if gate.two_person && st.approver == runner {
            return Err(notable(format!(
                "{runner} runs this plan, and the two-person rule needs someone else"
            )));
        }
        if let Some(a) = &gate.approval
            && !self.may_approve(&a.approvers, &st.approver)
        {
            return Err(Refusal {
                why: format!("{} is not among {}", st.approver, a.approvers.join(", ")),
                notable: false,
            });
        }
        Ok(())
    }
}
