//! One schedule as a CronJob: its name, the command its container runs, and the pod that
//! mounts the workspace, the kubeconfig and the state volume.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvFromSource, EnvVar, KeyToPath,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec, SecretEnvSource, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::manifest::{ExportOptions, labels, meta};
use crate::playbook::Overlap;
use crate::schedule::check::Schedule;
use crate::schedule::kube_cron::kubernetes_cron;

/// Where the pod finds what it needs.
const WORKSPACE_DIR: &str = "/workspace";
const STATE_DIR: &str = "/var/lib/runbook";
const KUBECONFIG_DIR: &str = "/etc/runbook";
/// The user the pod runs as (distroless' `nonroot`); the state volume is made its group's.
const RUN_AS: i64 = 65532;
/// Time the engine needs after its grace period: journal the stop, run `finally`, release
/// the lock.
const AFTER_GRACE: Duration = Duration::from_secs(30);

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

pub(super) fn cron_job(s: &Schedule, o: &ExportOptions, items: &[KeyToPath]) -> CronJob {
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
