//! What the approval tests share: fixed ed25519 keys and their allowed_signers lines,
//! signed statements, gates written by hand, and a saved plan compiled from a small
//! workspace.

use std::path::Path;

use indexmap::IndexMap;
use ssh_key::private::Ed25519Keypair;
use ssh_key::{HashAlg, LineEnding, PrivateKey};

use crate::approve::ApprovalPolicy;
use crate::approve::signature::{AllowedSigners, NAMESPACE, Statement};
use crate::compile::{self, Gate, GateKind, Options};
use crate::plan::Plan;
use crate::playbook::{self, Approval};

/// A key made from a fixed seed: the same key in every run.
pub fn key(seed: u8) -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
}

/// `ssh-ed25519 AAAA…`: the key as an allowed_signers line writes it.
pub fn public(k: &PrivateKey) -> String {
    k.public_key().to_openssh().expect("a public key encodes")
}

/// The armored SSHSIG of `msg` in `namespace`, as `ssh-keygen -Y sign -n` makes it.
pub fn sign_in(k: &PrivateKey, namespace: &str, msg: &[u8]) -> String {
    k.sign(namespace, HashAlg::Sha512, msg)
        .expect("ed25519 signs")
        .to_pem(LineEnding::LF)
        .expect("a signature encodes")
}

/// A statement signed as an approval.
pub fn sign(k: &PrivateKey, st: &Statement) -> String {
    sign_in(k, NAMESPACE, &st.message())
}

pub fn statement(approver: &str, plan_hash: &str, step: Option<&str>) -> Statement {
    Statement {
        approver: approver.into(),
        decision: "approve".into(),
        plan_hash: plan_hash.into(),
        step: step.map(String::from),
        time: "2026-12-02T13:00:00Z".into(),
    }
}

pub fn signers(text: &str) -> AllowedSigners {
    AllowedSigners::parse(text, Path::new("allowed_signers")).expect("a valid allowed_signers")
}

/// The rules of a workspace with `groups` and an allowed_signers file of `signers_text`.
pub fn policy(groups: &[(&str, &[&str])], signers_text: &str) -> ApprovalPolicy {
    let groups: IndexMap<String, Vec<String>> = groups
        .iter()
        .map(|(g, members)| (g.to_string(), members.iter().map(|m| m.to_string()).collect()))
        .collect();
    ApprovalPolicy {
        groups,
        signers: Ok(signers(signers_text)),
    }
}

/// A gate: an approval by `min` of `approvers` when there are approvers, else a confirm.
pub fn gate(approvers: &[&str], min: Option<u32>, two_person: bool, signed: bool) -> Gate {
    Gate {
        kind: if approvers.is_empty() {
            GateKind::Confirm
        } else {
            GateKind::Approval
        },
        reasons: vec!["step".into()],
        question: None,
        question_template: None,
        approval: (!approvers.is_empty()).then(|| Approval {
            approvers: approvers.iter().map(|a| a.to_string()).collect(),
            min,
            timeout: None,
        }),
        two_person,
        signed,
    }
}

const WORKSPACE: &str = r#"
default_env: prod
environments:
  prod:
    approval_ttl: 1h
groups:
  sre: [bob, carol]
"#;

/// The plan of `playbook` (YAML) in the prod environment of a small workspace.
pub fn plan(playbook: &str) -> Plan {
    let root = Path::new("/nonexistent/runbook-approve-tests");
    let ws = playbook::workspace_from_bytes(root, WORKSPACE.as_bytes().to_vec()).expect("a valid workspace");
    let lp = playbook::read_playbook_bytes(&ws.playbooks_dir.join("p.yaml"), playbook.as_bytes().to_vec())
        .expect("a valid playbook");
    let env = compile::select_env(&ws, None).expect("prod");
    let opts = Options {
        env: None,
        params: &[],
        allow_missing_params: false,
    };
    Plan::new(compile::compile_for(&lp, env, &opts).expect("compiles"))
}
