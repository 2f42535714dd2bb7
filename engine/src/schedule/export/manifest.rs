//! The export as a whole: the checks that the workspace can run as CronJobs, the objects
//! the CronJobs share (ServiceAccount, Lease Role and binding, state volume claim), and the
//! YAML stream of them all.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, PersistentVolumeClaimSpec, ServiceAccount, VolumeResourceRequirements,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::cron_job::{cron_job, cron_job_name};
use super::workspace::workspace_config_map;
use crate::playbook::{LockBackend, Workspace};
use crate::schedule::check::Schedule;
use crate::source::Diagnostic;

/// A CronJob's name is at most 52 characters (its Jobs add 11).
const MAX_CRONJOB_NAME: usize = 52;

/// What the export is told on the command line.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub image: String,
    pub namespace: String,
    /// The engine's `--grace`, passed to every run.
    pub grace: Duration,
    pub storage: String,
    pub storage_class: Option<String>,
    pub access_mode: String,
}

/// The objects of an export, in the order they are applied.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub service_account: ServiceAccount,
    pub role: Role,
    pub role_binding: RoleBinding,
    pub state: PersistentVolumeClaim,
    pub workspace: ConfigMap,
    pub cron_jobs: Vec<CronJob>,
}

pub(super) fn labels(component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "runbook".to_string()),
        ("app.kubernetes.io/component".to_string(), component.to_string()),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "runbook-schedule-export".to_string(),
        ),
    ])
}

pub(super) fn meta(name: &str, namespace: &str, component: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        labels: Some(labels(component)),
        ..Default::default()
    }
}

/// The export of `schedules`, or why the workspace cannot run as CronJobs.
pub fn export(ws: &Workspace, schedules: &[Schedule], o: &ExportOptions) -> Result<Manifest, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    check_locks(ws, &mut diags);
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    for s in schedules {
        let name = cron_job_name(&s.name);
        if name.len() > MAX_CRONJOB_NAME || name.ends_with('-') {
            diags.push(schedule_error(
                ws,
                &s.name,
                format!("schedule `{}` cannot name a CronJob: `{name}` is not a valid CronJob name", s.name),
                "a CronJob's name is at most 52 lowercase letters, digits and `-`, ending in a letter or digit; rename the schedule",
            ));
        } else if let Some(other) = names.insert(name.clone(), &s.name) {
            diags.push(schedule_error(
                ws,
                &s.name,
                format!("schedules `{other}` and `{}` would both be CronJob `{name}`", s.name),
                "rename one of them",
            ));
        }
    }
    let workspace = match workspace_config_map(ws, schedules, o) {
        Ok(cm) => Some(cm),
        Err(d) => {
            diags.push(d);
            None
        }
    };
    let (true, Some((workspace, items))) = (diags.is_empty(), workspace) else {
        return Err(diags);
    };
    let lease_ns = lease_namespace(ws);
    Ok(Manifest {
        service_account: ServiceAccount {
            metadata: meta("runbook", &o.namespace, "scheduler"),
            ..Default::default()
        },
        role: Role {
            metadata: meta("runbook-leases", &lease_ns, "scheduler"),
            // What the Lease lock does: read a Lease, create it, renew and release it.
            rules: Some(vec![PolicyRule {
                api_groups: Some(vec!["coordination.k8s.io".into()]),
                resources: Some(vec!["leases".into()]),
                verbs: ["get", "create", "update"].map(String::from).to_vec(),
                ..Default::default()
            }]),
        },
        role_binding: RoleBinding {
            metadata: meta("runbook-leases", &lease_ns, "scheduler"),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "Role".into(),
                name: "runbook-leases".into(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".into(),
                name: "runbook".into(),
                namespace: Some(o.namespace.clone()),
                ..Default::default()
            }]),
        },
        state: PersistentVolumeClaim {
            metadata: meta("runbook-state", &o.namespace, "state"),
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec![o.access_mode.clone()]),
                storage_class_name: o.storage_class.clone(),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([("storage".to_string(), Quantity(o.storage.clone()))])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
        workspace,
        cron_jobs: schedules.iter().map(|s| cron_job(s, o, &items)).collect(),
    })
}

fn schedule_error(ws: &Workspace, name: &str, msg: String, help: &str) -> Diagnostic {
    let d = Diagnostic::error(msg).help(help);
    let span = ws
        .config
        .schedules
        .iter()
        .filter_map(|s| s.0.as_ref())
        .find(|s| s.value.name.value == name)
        .map(|s| s.value.name.span);
    match (&ws.config_source, span) {
        (Some(src), Some(span)) => d.at(src, span),
        _ => d,
    }
}

/// Pods share no files: a lock must be a Lease.
fn check_locks(ws: &Workspace, diags: &mut Vec<Diagnostic>) {
    let locks = ws.config.locks.as_ref();
    if locks.and_then(|l| l.value.backend) == Some(LockBackend::Kubernetes) {
        return;
    }
    let how = match locks.and_then(|l| l.value.backend) {
        Some(_) => "uses file locks",
        None => "uses file locks (the default)",
    };
    let d = Diagnostic::error(format!(
        "the workspace {how}, which pods on different nodes cannot share: two CronJob runs could hold the same lock"
    ))
    .help("set `locks: { backend: kubernetes }` in runbook.yaml, so runs take Lease locks in the cluster");
    diags.push(match (&ws.config_source, locks) {
        (Some(src), Some(l)) => d.at(src, l.span),
        (Some(src), None) => d.in_file(src),
        _ => d,
    });
}

fn lease_namespace(ws: &Workspace) -> String {
    ws.config
        .locks
        .as_ref()
        .and_then(|l| l.value.namespace.clone())
        .unwrap_or_else(|| "default".into())
}

pub(super) fn yaml<T: Serialize>(v: &T) -> String {
    serde_saphyr::to_string(v).unwrap_or_else(|e| unreachable!("plain data serializes: {e}"))
}

impl Manifest {
    /// The objects as one multi-document YAML stream, for `kubectl apply -f`.
    pub fn to_yaml(&self, header: &str) -> String {
        let mut docs = vec![
            yaml(&self.service_account),
            yaml(&self.role),
            yaml(&self.role_binding),
            yaml(&self.state),
            yaml(&self.workspace),
        ];
        docs.extend(self.cron_jobs.iter().map(yaml));
        let mut out = String::new();
        for line in header.lines() {
            out.push_str(&format!("# {line}\n").replace("# \n", "#\n"));
        }
        for d in docs {
            out.push_str("---\n");
            out.push_str(&d);
            if !d.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}
