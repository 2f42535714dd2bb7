//! The plan: everything a run will do, in waves, with a hash that changes exactly when
//! what would run changes.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::hash::plan_hash;
use crate::compile::{Compiled, EnvInfo, GuardPlan, Measure, SealedFile, SecretRef, Step};
use crate::playbook::Risk;

/// Version of the plan's JSON format; part of the hash.
pub const PLAN_FORMAT: u32 = 1;

/// A plan: its hash, the approvals given to exactly that hash, then everything the hash
/// covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// `sha256:<hex>` of the body's compact JSON.
    pub hash: String,
    /// Approvals of a saved plan (`runbook approve FILE --as NAME`), each bound to `hash`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<PlanApproval>,
    #[serde(flatten)]
    pub body: PlanBody,
}

/// One person's approval of a saved plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanApproval {
    pub by: String,
    pub at: String,
    /// The plan hash approved: an approval never carries over to another plan.
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The approver's SSH signature (armored SSHSIG, namespace `runbook-approval`) over
    /// `{approver, decision, plan_hash, step, time}`; see docs/audit.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The signing key's fingerprint, for people to read (the signature carries the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl std::ops::Deref for Plan {
    type Target = PlanBody;
    fn deref(&self) -> &PlanBody {
        &self.body
    }
}

/// What a run will do. Its compact JSON (fields in this order, maps in playbook order) is
/// the canonical form the hash is computed over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanBody {
    pub format: u32,
    pub playbook: PlaybookInfo,
    pub env: EnvInfo,
    pub params: IndexMap<String, Json>,
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub vars: IndexMap<String, Json>,
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub secrets: IndexMap<String, SecretRef>,
    pub lock: String,
    pub concurrency: u32,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub guards: Vec<GuardPlan>,
    /// Step ids grouped by what can run together: a step's wave is one more than the
    /// highest wave it needs.
    pub waves: Vec<Vec<String>>,
    pub steps: Vec<Step>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub on_failure: Vec<Step>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub finally: Vec<Step>,
    /// What the run measures when it ends; absent when nothing (so plans without measures
    /// hash as before).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub measures: Vec<Measure>,
    /// The playbook's `escalate:`: the incident is announced in its channel when the run
    /// starts; absent when none (so plans without it hash as before).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub escalate: Option<crate::compile::Escalation>,
    /// The sub-playbooks its steps call by name, compiled in, by step id: the approver sees
    /// their steps, and they are part of the hash.
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub subplans: IndexMap<String, SubPlan>,
    /// Every file the run reads (sub-playbooks, manifests, scripts) with its sha256: a
    /// saved plan, or a resumed run, refuses to run when one changed.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub files: Vec<SealedFile>,
    /// What keeps the plan from being sealed (a playbook name or a manifest path known only
    /// at run time): it can run, but not be saved and approved.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub unsealed: Vec<String>,
}

/// A sub-playbook compiled into its caller's plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubPlan {
    pub playbook: String,
    /// Every param was known when the plan was made: the run uses this plan as it is.
    /// Otherwise the run compiles the sealed file again with the params it then has.
    pub complete: bool,
    pub plan: Box<PlanBody>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybookInfo {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub owner: Option<String>,
    pub risk: Risk,
}

impl PlanBody {
    fn new(c: Compiled) -> PlanBody {
        let pb = c.playbook;
        let waves = c
            .dag
            .waves()
            .into_iter()
            .map(|w| w.into_iter().map(|i| pb.steps[i].id.clone()).collect())
            .collect();
        PlanBody {
            format: PLAN_FORMAT,
            playbook: PlaybookInfo {
                name: pb.name,
                description: pb.description,
                owner: pb.owner,
                risk: pb.risk,
            },
            env: pb.env,
            params: pb.params,
            vars: pb.vars,
            secrets: pb.secrets,
            lock: pb.lock,
            concurrency: pb.concurrency,
            guards: pb.guards,
            waves,
            steps: pb.steps,
            on_failure: pb.on_failure,
            finally: pb.finally,
            measures: pb.measures,
            escalate: pb.escalate,
            subplans: c
                .subs
                .into_iter()
                .map(|(id, sub)| {
                    let plan = SubPlan {
                        playbook: sub.name,
                        complete: sub.complete,
                        plan: Box::new(PlanBody::new(sub.compiled)),
                    };
                    (id, plan)
                })
                .collect(),
            files: c.files,
            unsealed: c.unsealed,
        }
    }
}

impl Plan {
    /// Builds the plan of a compiled playbook and computes its hash.
    pub fn new(c: Compiled) -> Plan {
        let body = PlanBody::new(c);
        Plan {
            hash: plan_hash(&body),
            approvals: Vec::new(),
            body,
        }
    }

    /// The plan of a sub-playbook compiled in, as a plan of its own.
    pub fn of_sub(sub: &SubPlan) -> Plan {
        let body = (*sub.plan).clone();
        Plan {
            hash: plan_hash(&body),
            approvals: Vec::new(),
            body,
        }
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps
            .iter()
            .chain(&self.on_failure)
            .chain(&self.finally)
            .find(|s| s.id == id)
    }

    /// The hash as recomputed from the content (differs from `hash` if the plan was edited).
    pub fn recompute_hash(&self) -> String {
        plan_hash(&self.body)
    }
}
