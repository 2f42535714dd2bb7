//! The workspace in a ConfigMap: runbook.yaml, the playbooks, and the pod's kubeconfig, and
//! where each goes under the workspace mount.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1::{ConfigMap, KeyToPath};
use kube::config::{AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext};

use super::manifest::{ExportOptions, meta, yaml};
use crate::playbook::Workspace;
use crate::schedule::check::Schedule;
use crate::source::Diagnostic;

/// Where Kubernetes mounts the pod's ServiceAccount token and the cluster's CA.
const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// A ConfigMap holds at most 1 MiB; some of it is the object's own keys.
const MAX_CONFIG_BYTES: usize = 900 * 1024;

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
pub(super) fn workspace_config_map(
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
