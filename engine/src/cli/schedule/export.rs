//! `runbook schedule export --kubernetes`: the schedules as Kubernetes objects, a CronJob per
//! schedule with what it needs to run (a ServiceAccount and Role for Lease locks, a volume
//! claim for the state dir, the workspace as a ConfigMap).

use clap::ValueEnum;

use crate::cli::common::Global;
use crate::error;
#[cfg(feature = "k8s")]
use {super::all_valid, crate::cli::common::count, crate::schedule};

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Export as Kubernetes CronJobs (the one target there is).
    #[arg(long, required = true)]
    pub kubernetes: bool,
    /// The image the CronJobs run: `runbook` on its PATH, plus the tools the playbooks call.
    #[arg(long, value_name = "IMAGE", default_value = concat!("runbook:", env!("CARGO_PKG_VERSION")))]
    pub image: String,
    /// Namespace of the CronJobs, their ServiceAccount, volume claim and ConfigMap.
    #[arg(long, value_name = "NS", default_value = "default")]
    pub namespace: String,
    /// Only the schedules that run in this environment (one cluster per environment).
    #[arg(short, long = "env", value_name = "ENV")]
    pub env: Option<String>,
    /// The runs' `--grace`; pods get 30s more to end.
    #[arg(long, value_name = "DURATION")]
    pub grace: Option<crate::playbook::Duration>,
    /// Size of the state dir's volume claim.
    #[arg(long, value_name = "SIZE", default_value = "1Gi", value_parser = parse_quantity)]
    pub storage: String,
    /// Storage class of the volume claim (default: the cluster's).
    #[arg(long, value_name = "NAME")]
    pub storage_class: Option<String>,
    /// Access mode of the volume claim: ReadWriteMany when runs land on several nodes.
    #[arg(long, value_enum, default_value = "read-write-once")]
    pub access_mode: AccessMode,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccessMode {
    ReadWriteOnce,
    ReadWriteMany,
}

/// A Kubernetes quantity of bytes (`1Gi`, `500Mi`).
fn parse_quantity(s: &str) -> Result<String, String> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    let units = ["", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti"];
    if !digits.is_empty() && digits.len() <= 12 && digits.chars().all(|c| c.is_ascii_digit()) && units.contains(&unit) {
        Ok(s.to_string())
    } else {
        Err(format!("`{s}` is not a size: write e.g. 1Gi or 500Mi"))
    }
}

#[cfg(not(feature = "k8s"))]
pub fn exec(_: &Global, _: ExportArgs) -> i32 {
    eprintln!("error: this runbook was built without Kubernetes support (the `k8s` feature)");
    error::INVALID
}

#[cfg(feature = "k8s")]
pub fn exec(g: &Global, a: ExportArgs) -> i32 {
    let ws = match g.ws() {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    if let Err(why) = check_namespace(&a.namespace) {
        eprintln!("error: --namespace {why}");
        return error::INVALID;
    }
    let mut schedules = match all_valid(g, &ws, "nothing was exported") {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Some(env) = &a.env {
        if !ws.config.environments.contains_key(env) {
            eprintln!("error: --env {env}: runbook.yaml has no environment `{env}`");
            return error::INVALID;
        }
        schedules.retain(|s| &s.env == env);
    }
    if schedules.is_empty() {
        eprintln!(
            "error: no schedules to export{}",
            a.env
                .as_deref()
                .map(|e| format!(" in environment `{e}`"))
                .unwrap_or_default()
        );
        return error::INVALID;
    }
    let opts = schedule::ExportOptions {
        image: a.image.clone(),
        namespace: a.namespace.clone(),
        grace: a.grace.map(|d| d.std()).unwrap_or(crate::cli::session::DEFAULT_GRACE),
        storage: a.storage.clone(),
        storage_class: a.storage_class.clone(),
        access_mode: format!("{:?}", a.access_mode),
    };
    let manifest = match schedule::export(&ws, &schedules, &opts) {
        Ok(m) => m,
        Err(diags) => {
            g.print(&diags);
            eprintln!(
                "error: the schedules cannot run as CronJobs: {}; nothing was exported",
                count(diags.len(), "error")
            );
            return error::INVALID;
        }
    };
    let names: Vec<String> = schedules.iter().map(|s| s.name.clone()).collect();
    let header = format!(
        "runbook schedule export --kubernetes: {} ({})\nApply with `kubectl apply -f`; see docs/drills.md (\"Kubernetes CronJobs\").",
        count(names.len(), "schedule"),
        names.join(", ")
    );
    let text = manifest.to_yaml(&header);
    match &a.out {
        None => {
            print!("{text}");
            error::SUCCESS
        }
        Some(path) => match crate::cli::plan::write_atomic(path, text.as_bytes()) {
            Ok(()) => {
                eprintln!(
                    "wrote {} CronJob{} and their ServiceAccount, Role, RoleBinding, PersistentVolumeClaim and ConfigMap to {}",
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                    crate::source::display_path(path)
                );
                error::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", crate::source::display_path(path));
                error::INVALID
            }
        },
    }
}

#[cfg(feature = "k8s")]
/// A namespace is a DNS label: at most 63 lowercase letters, digits and `-`.
fn check_namespace(ns: &str) -> Result<(), String> {
    let ok = !ns.is_empty()
        && ns.len() <= 63
        && ns
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !ns.starts_with('-')
        && !ns.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{ns}` is not a namespace name (at most 63 lowercase letters, digits and `-`)"
        ))
    }
}
