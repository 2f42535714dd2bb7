//! `runbook schedule export --kubernetes`: the workspace's schedules as Kubernetes objects,
//! built from k8s-openapi types — a CronJob per schedule, and what they share: a
//! ServiceAccount, a Role and RoleBinding for the Lease locks, a PersistentVolumeClaim for
//! the state dir, and a ConfigMap holding the workspace (runbook.yaml, the playbooks, and a
//! kubeconfig whose contexts are the pod's own cluster).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvFromSource, EnvVar, KeyToPath,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec,
    PodTemplateSpec, SecretEnvSource, ServiceAccount, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::config::{AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext};
use serde::Serialize;

use super::check::Schedule;
use super::kube_cron::kubernetes_cron;
use crate::playbook::{LockBackend, Overlap, Workspace};
use crate::source::Diagnostic;

/// Where the pod finds what it needs.
const WORKSPACE_DIR: &str = "/workspace";
const STATE_DIR: &str = "/var/lib/runbook";
const KUBECONFIG_DIR: &str = "/etc/runbook";
const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The user the pod runs as (distroless' `nonroot`); the state volume is made its group's.
const RUN_AS: i64 = 65532;
/// Time the engine needs after its grace period: journal the stop, run `finally`, release
/// the lock.
const AFTER_GRACE: Duration = Duration::from_secs(30);
/// A ConfigMap holds at most 1 MiB; some of it is the object's own keys.
const MAX_CONFIG_BYTES: usize = 900 * 1024;
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

fn labels(component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "runbook".to_string()),
        ("app.kubernetes.io/component".to_string(), component.to_string()),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "runbook-schedule-export".to_string(),
        ),
    ])
}

fn meta(name: &str, namespace: &str, component: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        labels: Some(labels(component)),
        ..Default::default()
    }
}

/// A schedule's name as a CronJob's: lowercase, `-` for `_` and `.`.
pub fn cron_job_name(schedule: &str) -> String {
    schedule
        .chars()
        .map(|c| match c {
            '_' | '.' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
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

/// A file of the workspace: its ConfigMap key and its path under the workspace mount.
struct File {
    key: String,
    path: String,
    text: String,
}

fn read_text(path: &Path) -> Result<String, Diagnostic> {
    std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::error(format!("cannot read {}: {e}", crate::source::display_path(path))))
}

fn workspace_files(ws: &Workspace) -> Result<Vec<File>, Diagnostic> {
    let mut files = Vec::new();
    let config = ws.root.join(crate::playbook::WORKSPACE_FILE);
    files.push(File {
        key: "runbook.yaml".into(),
        path: "runbook.yaml".into(),
        text: read_text(&config)?,
    });
    let rel = ws.playbooks_dir.strip_prefix(&ws.root).map_err(|_| {
        Diagnostic::error(format!(
            "the playbooks folder {} is outside the workspace; the export puts the workspace in one ConfigMap",
            crate::source::display_path(&ws.playbooks_dir)
        ))
        .help("move the playbooks under the folder of runbook.yaml")
    })?;
    for path in ws.playbook_files() {
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        let key = format!("playbooks.{file}");
        if !key.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(Diagnostic::error(format!(
                "playbook file `{file}` cannot be a ConfigMap key (letters, digits, `-`, `_` and `.` only)"
            ))
            .help("rename the file"));
        }
        let path_in = rel.join(file);
        files.push(File {
            key,
            path: path_in.to_string_lossy().into_owned(),
            text: read_text(&path)?,
        });
    }
    Ok(files)
}

/// The kubeconfig of the pod: the environments' contexts, all of them its own cluster
/// through its ServiceAccount, so `kube_context: eks-prod` (and `kubectl --context
/// eks-prod` in a step) reach the cluster the CronJob runs in.
fn kubeconfig(ws: &Workspace, schedules: &[Schedule], namespace: &str) -> String {
    let mut contexts = vec!["in-cluster".to_string()];
    for s in schedules {
        let Some(env) = ws.config.environments.get(&s.env).and_then(|e| e.0.as_ref()) else {
            continue;
        };
        let named = env.value.kube_context.iter().cloned();
        let in_vars = env
            .value
            .vars
            .get("kube_context")
            .and_then(|v| v.as_str().map(String::from));
        for c in named.chain(in_vars) {
            if !contexts.contains(&c) {
                contexts.push(c);
            }
        }
    }
    let config = Kubeconfig {
        clusters: vec![NamedCluster {
            name: "in-cluster".into(),
            cluster: Some(Cluster {
                server: Some("https://kubernetes.default.svc".into()),
                certificate_authority: Some(format!("{SA_DIR}/ca.crt")),
                ..Default::default()
            }),
            ..Default::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: "runbook".into(),
            auth_info: Some(AuthInfo {
                token_file: Some(format!("{SA_DIR}/token")),
                ..Default::default()
            }),
            ..Default::default()
        }],
        contexts: contexts
            .into_iter()
            .map(|name| NamedContext {
                name,
                context: Some(Context {
                    cluster: "in-cluster".into(),
                    user: Some("runbook".into()),
                    namespace: Some(namespace.to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        current_context: Some("in-cluster".into()),
        kind: Some("Config".into()),
        api_version: Some("v1".into()),
        ..Default::default()
    };
    yaml(&config)
}

/// The ConfigMap of the workspace, and where each of its files goes under the mount.
fn workspace_config_map(
    ws: &Workspace,
    schedules: &[Schedule],
    o: &ExportOptions,
) -> Result<(ConfigMap, Vec<KeyToPath>), Diagnostic> {
    let files = workspace_files(ws)?;
    let items = files
        .iter()
        .map(|f| KeyToPath {
            key: f.key.clone(),
            path: f.path.clone(),
            ..Default::default()
        })
        .collect();
    let mut data: BTreeMap<String, String> = files.into_iter().map(|f| (f.key, f.text)).collect();
    data.insert("kubeconfig".into(), kubeconfig(ws, schedules, &o.namespace));
    let size: usize = data.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_CONFIG_BYTES {
        return Err(Diagnostic::error(format!(
            "the workspace is {} KiB, more than a ConfigMap holds ({} KiB)",
            size / 1024,
            MAX_CONFIG_BYTES / 1024
        ))
        .help("export fewer playbooks (a workspace of its own for the scheduled ones)"));
    }
    let cm = ConfigMap {
        metadata: meta("runbook-workspace", &o.namespace, "workspace"),
        data: Some(data),
        ..Default::default()
    };
    Ok((cm, items))
}

/// The command of a schedule's container: the run `run-due` would start, with the grace
/// the pod's termination leaves it.
pub fn command(s: &Schedule, grace: Duration) -> Vec<String> {
    let mut c = s.run_command();
    c.push("--grace".into());
    c.push(crate::playbook::Duration(grace).to_string());
    if s.overlap == Overlap::Queue {
        // A queued run waits for the previous one, but never past its own next firing.
        c.push("--lock-wait".into());
        c.push(crate::playbook::Duration(shortest_gap(s)).to_string());
    }
    c
}

/// The shortest time between two firings of the schedule, over a year of them from a fixed
/// day (so the export is the same whenever it is made).
fn shortest_gap(s: &Schedule) -> Duration {
    let from = chrono::DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    let firings = s.zone.next_n(from, 400);
    firings
        .windows(2)
        .filter_map(|w| (w[1] - w[0]).to_std().ok())
        .min()
        .unwrap_or(Duration::from_secs(60))
        .max(Duration::from_secs(60))
}

fn cron_job(s: &Schedule, o: &ExportOptions, items: &[KeyToPath]) -> CronJob {
    let name = cron_job_name(&s.name);
    let cron = kubernetes_cron(&s.cron);
    let mut annotations = BTreeMap::from([
        ("runbook.dev/schedule".to_string(), s.name.clone()),
        ("runbook.dev/cron".to_string(), s.cron.clone()),
    ]);
    if !cron.exact {
        annotations.insert(
            "runbook.dev/note".into(),
            format!(
                "Kubernetes cron has no L, W or #: this CronJob fires on `{}`, and a run on a day `{}` does not fire ends at once",
                cron.expr, s.cron
            ),
        );
    }
    let mut labels = labels("schedule");
    labels.insert("runbook.dev/schedule".into(), name.clone());
    let grace_total = o.grace + AFTER_GRACE;
    let pod = PodSpec {
        service_account_name: Some("runbook".into()),
        restart_policy: Some("Never".into()),
        termination_grace_period_seconds: Some(grace_total.as_secs() as i64),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            fs_group: Some(RUN_AS),
            ..Default::default()
        }),
        containers: vec![Container {
            name: "runbook".into(),
            image: Some(o.image.clone()),
            image_pull_policy: Some("IfNotPresent".into()),
            command: Some(command(s, o.grace)),
            working_dir: Some(WORKSPACE_DIR.into()),
            env: Some(vec![
                env("RUNBOOK_STATE_DIR", STATE_DIR),
                env("KUBECONFIG", &format!("{KUBECONFIG_DIR}/kubeconfig")),
                env(
                    "RUNBOOK_USER",
                    &format!("system:serviceaccount:{}:runbook", o.namespace),
                ),
                env("HOME", "/tmp"),
            ]),
            // Secrets the playbooks read from the environment (`secrets: { x: { env: … } }`).
            env_from: Some(vec![EnvFromSource {
                secret_ref: Some(SecretEnvSource {
                    name: "runbook-secrets".into(),
                    optional: Some(true),
                }),
                ..Default::default()
            }]),
            volume_mounts: Some(vec![
                mount("workspace", WORKSPACE_DIR, true),
                mount("kubeconfig", KUBECONFIG_DIR, true),
                mount("state", STATE_DIR, false),
                mount("tmp", "/tmp", false),
            ]),
            ..Default::default()
        }],
        volumes: Some(vec![
            Volume {
                name: "workspace".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: "runbook-workspace".into(),
                    items: Some(items.to_vec()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Volume {
                name: "kubeconfig".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: "runbook-workspace".into(),
                    items: Some(vec![KeyToPath {
                        key: "kubeconfig".into(),
                        path: "kubeconfig".into(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Volume {
                name: "state".into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: "runbook-state".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Volume {
                name: "tmp".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    CronJob {
        metadata: ObjectMeta {
            annotations: Some(annotations),
            labels: Some(labels.clone()),
            ..meta(&name, &o.namespace, "schedule")
        },
        spec: Some(CronJobSpec {
            schedule: cron.expr,
            time_zone: Some(s.timezone.clone()),
            starting_deadline_seconds: Some(s.catchup.as_secs() as i64),
            concurrency_policy: Some(
                match s.overlap {
                    Overlap::Skip => "Forbid",
                    Overlap::Queue => "Allow",
                    Overlap::CancelPrevious => "Replace",
                }
                .into(),
            ),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(5),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                spec: Some(JobSpec {
                    // A failed run is not started again by Kubernetes: the playbook has its
                    // own retries, and a second run could repeat what the first one did.
                    backoff_limit: Some(0),
                    template: PodTemplateSpec {
                        metadata: Some(ObjectMeta {
                            labels: Some(labels),
                            ..Default::default()
                        }),
                        spec: Some(pod),
                    },
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

fn yaml<T: Serialize>(v: &T) -> String {
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
