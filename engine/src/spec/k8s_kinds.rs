//! The Kubernetes kinds `k8s` actions know without asking the cluster: names, aliases, scope.

/// Where a kind lives in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindInfo {
    /// API group; empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    /// The short names kubectl accepts (`deploy`, `po`, `pdb`).
    pub aliases: &'static [&'static str],
}

impl KindInfo {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

const fn k(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    aliases: &'static [&'static str],
) -> KindInfo {
    KindInfo {
        group,
        version,
        kind,
        plural,
        namespaced,
        aliases,
    }
}

/// The kinds the shipped runbooks touch; others need `api_version` and are looked up by discovery.
pub const KINDS: &[KindInfo] = &[
    k("", "v1", "Pod", "pods", true, &["po"]),
    k("", "v1", "Node", "nodes", false, &["no"]),
    k("", "v1", "Namespace", "namespaces", false, &["ns"]),
    k("", "v1", "Service", "services", true, &["svc"]),
    k("", "v1", "ConfigMap", "configmaps", true, &["cm"]),
    k("", "v1", "Secret", "secrets", true, &[]),
    k("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"]),
    k(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        &["pvc"],
    ),
    k("", "v1", "PersistentVolume", "persistentvolumes", false, &["pv"]),
    k("", "v1", "Event", "events", true, &["ev"]),
    k("", "v1", "Endpoints", "endpoints", true, &["ep"]),
    k("apps", "v1", "Deployment", "deployments", true, &["deploy"]),
    k("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"]),
    k("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"]),
    k("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"]),
    k("batch", "v1", "Job", "jobs", true, &[]),
    k("batch", "v1", "CronJob", "cronjobs", true, &["cj"]),
    k(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        &["pdb"],
    ),
    k("coordination.k8s.io", "v1", "Lease", "leases", true, &[]),
    k("networking.k8s.io", "v1", "Ingress", "ingresses", true, &["ing"]),
    k(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
    ),
    k("rbac.authorization.k8s.io", "v1", "Role", "roles", true, &[]),
    k(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
        &[],
    ),
    k(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
        &[],
    ),
    k(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        &[],
    ),
];

/// A kind as an operator types it: `Deployment`, `deployment`, `deployments`, `deploy`.
pub fn lookup(name: &str) -> Option<&'static KindInfo> {
    let n = name.to_ascii_lowercase();
    KINDS
        .iter()
        .find(|k| k.kind.eq_ignore_ascii_case(&n) || k.plural == n || k.aliases.contains(&n.as_str()))
}

/// A kind as a manifest names it: `apiVersion` and `kind`.
pub fn by_api_version(api_version: &str, kind: &str) -> Option<&'static KindInfo> {
    KINDS.iter().find(|k| k.kind == kind && k.api_version() == api_version)
}

/// Why `kind` (with an optional `api_version`) cannot be resolved before the run, if it cannot.
pub fn problem(kind: &str, api_version: Option<&str>) -> Option<String> {
    if kind.contains("{{") || api_version.is_some() || lookup(kind).is_some() {
        return None;
    }
    let names: Vec<String> = KINDS.iter().map(|k| k.kind.to_ascii_lowercase()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    Some(
        match crate::yaml::suggest_name(&kind.to_ascii_lowercase(), &names, "kind") {
            s if s.starts_with("did you mean") => format!("unknown kind `{kind}`: {s}"),
            _ => format!(
                "unknown kind `{kind}`: kinds outside the built-in table need `api_version` (e.g. `cert-manager.io/v1`)"
            ),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_found_by_every_name_kubectl_accepts() {
        for name in ["Deployment", "deployment", "deployments", "deploy"] {
            assert_eq!(lookup(name).map(|k| k.plural), Some("deployments"), "{name}");
        }
        assert_eq!(lookup("pdb").map(|k| k.api_version()), Some("policy/v1".into()));
        assert_eq!(by_api_version("v1", "ConfigMap").map(|k| k.namespaced), Some(true));
        assert!(by_api_version("apps/v1", "ConfigMap").is_none());
        assert!(problem("certificate", Some("cert-manager.io/v1")).is_none());
        assert!(problem("{{ params.kind }}", None).is_none());
        assert!(problem("deploymnet", None).is_some_and(|p| p.contains("did you mean `deployment`")));
    }
}
