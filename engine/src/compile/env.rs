//! Chooses the environment a playbook compiles for (`-e`, `default_env`, or the implicit
//! `default`), with its vars and policy.

use crate::compile::model::EnvInfo;
use crate::playbook::{Policy, Workspace};
use crate::source::Diagnostic;
use crate::yaml::suggest_name;

/// The name of the environment used when a workspace defines none.
pub const IMPLICIT_ENV: &str = "default";

/// The environment for `-e NAME` (or the default one).
pub fn select(ws: &Workspace, requested: Option<&str>) -> Result<EnvInfo, Diagnostic> {
    let envs = &ws.config.environments;
    let names: Vec<&str> = envs.keys().map(String::as_str).collect();
    let name = match (requested, &ws.config.default_env) {
        (Some(n), _) => n.to_string(),
        (None, Some(d)) => d.value.clone(),
        (None, None) if envs.is_empty() => return Ok(with_approvals(implicit(), ws)),
        (None, None) => {
            return Err(Diagnostic::error(format!(
                "this workspace has several environments and no default_env: choose one with -e ({})",
                names.join(", ")
            )));
        }
    };
    if envs.is_empty() && name == IMPLICIT_ENV {
        return Ok(with_approvals(implicit(), ws));
    }
    match envs.get(&name) {
        Some(spec) => Ok(with_approvals(info(&name, spec.0.as_ref().map(|s| &s.value)), ws)),
        None => {
            let help = if names.is_empty() {
                "this workspace defines no environments; omit -e".to_string()
            } else {
                suggest_name(&name, &names, "environment")
            };
            Err(Diagnostic::error(format!("unknown environment `{name}`")).help(help))
        }
    }
}

/// Every environment of the workspace (the implicit one when there are none), for `validate`.
pub fn all(ws: &Workspace) -> Vec<EnvInfo> {
    if ws.config.environments.is_empty() {
        return vec![with_approvals(implicit(), ws)];
    }
    ws.config
        .environments
        .iter()
        .map(|(name, spec)| with_approvals(info(name, spec.0.as_ref().map(|s| &s.value)), ws))
        .collect()
}

/// The workspace's groups and signature policy, which every environment shares.
fn with_approvals(mut env: EnvInfo, ws: &Workspace) -> EnvInfo {
    env.groups = ws.config.groups.clone();
    env.require_signatures = ws
        .config
        .approvals
        .as_ref()
        .map(|a| a.require_signatures.clone())
        .unwrap_or_default();
    env.contacts = ws.contacts.clone();
    env
}

fn implicit() -> EnvInfo {
    EnvInfo {
        name: IMPLICIT_ENV.to_string(),
        vars: Default::default(),
        policy: Policy::default(),
        kube_context: None,
        aws_region: None,
        approval_ttl: None,
        groups: Default::default(),
        require_signatures: Vec::new(),
        argocd: None,
        contacts: None,
    }
}

fn info(name: &str, spec: Option<&crate::playbook::EnvSpec>) -> EnvInfo {
    let spec = spec.cloned().unwrap_or_default();
    EnvInfo {
        name: name.to_string(),
        vars: spec.vars,
        policy: spec.policy.unwrap_or_default(),
        kube_context: spec.kube_context,
        aws_region: spec.aws_region,
        approval_ttl: spec.approval_ttl,
        groups: Default::default(),
        require_signatures: Vec::new(),
        argocd: spec.argocd,
        contacts: None,
    }
}
