//! `rds`: AWS RDS operations (describe, snapshots, restore, delete, wait).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ActionKind, Effect};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum RdsSpec {
    /// Describe an instance: status, endpoint, class, engine.
    Describe(RdsInstance),
    /// Take a manual snapshot and wait until it is available.
    CreateSnapshot(RdsCreateSnapshot),
    /// The newest snapshot of an instance: id, creation time and age (for RPO).
    LatestSnapshot(RdsLatestSnapshot),
    /// Restore a snapshot to a new instance and wait until it is available.
    RestoreSnapshot(RdsRestore),
    /// Delete an instance. Irreversible: `validate` requires a gate.
    DeleteInstance(RdsDelete),
    /// Delete a manual snapshot (what `rollback: auto` of `create-snapshot` does).
    DeleteSnapshot(RdsSnapshotRef),
    /// Wait until an instance reaches a status.
    Wait(RdsWait),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RdsInstance {
    pub instance: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RdsCreateSnapshot {
    pub instance: String,
    pub snapshot_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RdsLatestSnapshot {
    pub instance: String,
    /// `automated`, `manual` or `any` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_type: Option<SnapshotType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotType {
    Automated,
    Manual,
    Any,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RdsRestore {
    pub snapshot_id: String,
    /// Identifier of the new instance.
    pub instance: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RdsDelete {
    pub instance: String,
    /// Skip the final snapshot (default false: one named `<instance>-final` is taken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_final_snapshot: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_snapshot_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RdsSnapshotRef {
    pub snapshot_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RdsWait {
    pub instance: String,
    /// `available` (default) or `deleted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl ActionKind for RdsSpec {
    fn effect(&self) -> Effect {
        match self {
            RdsSpec::Describe(_) | RdsSpec::LatestSnapshot(_) | RdsSpec::Wait(_) => Effect::ReadOnly,
            RdsSpec::CreateSnapshot(_) | RdsSpec::RestoreSnapshot(_) => Effect::Mutating,
            RdsSpec::DeleteInstance(_) | RdsSpec::DeleteSnapshot(_) => Effect::Irreversible,
        }
    }
    fn auto_rollback(&self) -> Option<&'static str> {
        match self {
            RdsSpec::RestoreSnapshot(_) => Some("delete the restored instance"),
            RdsSpec::CreateSnapshot(_) => Some("delete the snapshot taken"),
            _ => None,
        }
    }

    fn summary(&self) -> String {
        match self {
            RdsSpec::Describe(i) => format!("describe-db-instances {}", i.instance),
            RdsSpec::CreateSnapshot(s) => {
                format!("create-db-snapshot {} → {} (wait available)", s.instance, s.snapshot_id)
            }
            RdsSpec::LatestSnapshot(s) => {
                let t = s
                    .snapshot_type
                    .map(|t| format!(" ({t:?})").to_lowercase())
                    .unwrap_or_default();
                format!("latest snapshot of {}{t}", s.instance)
            }
            RdsSpec::RestoreSnapshot(r) => {
                let class = r
                    .instance_class
                    .as_ref()
                    .map(|c| format!(" as {c}"))
                    .unwrap_or_default();
                format!(
                    "restore-db-instance-from-db-snapshot {} → {}{class} (wait available)",
                    r.snapshot_id, r.instance
                )
            }
            RdsSpec::DeleteInstance(d) => {
                if d.skip_final_snapshot.unwrap_or(false) {
                    format!("delete-db-instance {} --skip-final-snapshot", d.instance)
                } else {
                    let snap = d
                        .final_snapshot_id
                        .clone()
                        .unwrap_or_else(|| format!("{}-final", d.instance));
                    format!("delete-db-instance {} (final snapshot {snap})", d.instance)
                }
            }
            RdsSpec::DeleteSnapshot(s) => format!("delete-db-snapshot {}", s.snapshot_id),
            RdsSpec::Wait(w) => format!(
                "wait db-instance {} {}",
                w.instance,
                w.status.as_deref().unwrap_or("available")
            ),
        }
    }
}

impl RdsSpec {
    /// The action that undoes this one, for `rollback: auto`.
    pub fn undo(&self) -> Option<RdsSpec> {
        match self {
            RdsSpec::RestoreSnapshot(r) => Some(RdsSpec::DeleteInstance(RdsDelete {
                instance: r.instance.clone(),
                skip_final_snapshot: Some(true),
                final_snapshot_id: None,
            })),
            RdsSpec::CreateSnapshot(c) => Some(RdsSpec::DeleteSnapshot(RdsSnapshotRef {
                snapshot_id: c.snapshot_id.clone(),
            })),
            _ => None,
        }
    }
}
