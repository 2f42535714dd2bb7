//! Pod specifics: PodDisruptionBudget status (computed when read), the eviction subresource that
//! honours it, and pod logs.

use serde_json::{Value, json};

use super::selector::LabelSelector;
use super::state::{Key, State, now};
use super::status::{ApiError, success};

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// An int-or-percent of `total`, rounded up (as PDBs round).
fn scaled_up(v: &Value, total: i64) -> i64 {
    match v {
        Value::String(s) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .map(|p| (p * total + 99) / 100)
            .unwrap_or(0),
        other => other.as_i64().unwrap_or(0),
    }
}

/// What a PDB's controller would report.
struct Budget {
    expected: i64,
    healthy: i64,
    desired: i64,
    allowed: i64,
}

fn budget(state: &State, pdb: &Value) -> Budget {
    let namespace = pdb["metadata"]["namespace"].as_str().unwrap_or_default();
    let selector = LabelSelector::from_object(&pdb["spec"]["selector"]);
    let pods: Vec<Value> = state
        .of("", "pods", Some(namespace))
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| selector.matches(p))
        .collect();
    let expected = pods.len() as i64;
    let healthy = pods.iter().filter(|p| is_ready(p)).count() as i64;
    let spec = &pdb["spec"];
    let desired = if !spec["minAvailable"].is_null() {
        scaled_up(&spec["minAvailable"], expected)
    } else if !spec["maxUnavailable"].is_null() {
        (expected - scaled_up(&spec["maxUnavailable"], expected)).max(0)
    } else {
        expected
    };
    Budget {
        expected,
        healthy,
        desired,
        allowed: (healthy - desired).max(0),
    }
}

/// An object as a read shows it: PodDisruptionBudgets get their current status.
pub(crate) fn view(state: &State, key: &Key, obj: &Value) -> Value {
    if !(key.group == "policy" && key.plural == "poddisruptionbudgets") {
        return obj.clone();
    }
    let b = budget(state, obj);
    let mut out = obj.clone();
    let allowed = b.allowed > 0;
    let old = obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "DisruptionAllowed"));
    let transition = match old {
        Some(c) if c["status"] == if allowed { "True" } else { "False" } => c["lastTransitionTime"].clone(),
        _ => json!(now()),
    };
    out["status"] = json!({
        "observedGeneration": obj["metadata"]["generation"],
        "currentHealthy": b.healthy,
        "desiredHealthy": b.desired,
        "disruptionsAllowed": b.allowed,
        "expectedPods": b.expected,
        "conditions": [{
            "type": "DisruptionAllowed",
            "status": if allowed { "True" } else { "False" },
            "reason": if allowed { "SufficientPods" } else { "InsufficientPods" },
            "message": "",
            "observedGeneration": obj["metadata"]["generation"],
            "lastTransitionTime": transition,
        }],
    });
    out
}

fn pod_key(namespace: &str, name: &str) -> Key {
    Key {
        group: String::new(),
        plural: "pods".into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}

/// `POST pods/{name}/eviction`: deletes the pod unless its disruption budget forbids it.
/// Returns the pod's key, to be deleted by the caller (which also runs garbage collection).
pub(crate) fn check_eviction(state: &State, namespace: &str, name: &str) -> Result<Key, ApiError> {
    let key = pod_key(namespace, name);
    let pod = state.get(&key).ok_or_else(|| ApiError::not_found("", "pods", name))?;
    // Pods that are not running hold nothing up: the real server evicts them without a budget check.
    let phase = pod["status"]["phase"].as_str().unwrap_or_default();
    if matches!(phase, "Succeeded" | "Failed" | "Pending") {
        return Ok(key);
    }
    let pdbs: Vec<Value> = state
        .of("policy", "poddisruptionbudgets", Some(namespace))
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| LabelSelector::from_object(&p["spec"]["selector"]).matches(pod))
        .collect();
    if pdbs.len() > 1 {
        return Err(ApiError::new(
            500,
            "InternalError",
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
        ));
    }
    let Some(pdb) = pdbs.first() else { return Ok(key) };
    let b = budget(state, pdb);
    let permitted = if is_ready(pod) {
        b.allowed >= 1
    } else {
        // An unready pod costs the budget nothing: evictable while the budget is met (IfHealthyBudget),
        // or always under the AlwaysAllow policy.
        pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow" || b.healthy >= b.desired
    };
    if permitted {
        return Ok(key);
    }
    let pdb_name = pdb["metadata"]["name"].as_str().unwrap_or_default();
    Err(ApiError {
        details: json!({ "causes": [{
            "reason": "DisruptionBudget",
            "message": format!(
                "The disruption budget {pdb_name} needs {} healthy pods and has {} currently",
                b.desired, b.healthy
            ),
        }] }),
        ..ApiError::new(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
        )
    })
}

/// The answer to an eviction that went through.
pub(crate) fn evicted() -> Value {
    success(201, None)
}

/// `GET pods/{name}/log`: the text set for the pod, honouring `tailLines` and `limitBytes`.
pub(crate) fn logs(state: &State, namespace: &str, name: &str, query: &[(String, String)]) -> Result<String, ApiError> {
    let key = pod_key(namespace, name);
    let pod = state.get(&key).ok_or_else(|| ApiError::not_found("", "pods", name))?;
    let param = |n: &str| query.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    if let Some(c) = param("container") {
        let containers = pod["spec"]["containers"].as_array().cloned().unwrap_or_default();
        if !containers.is_empty() && !containers.iter().any(|x| x["name"] == c) {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
    }
    let mut text = state
        .logs
        .get(&(namespace.to_string(), name.to_string()))
        .cloned()
        .unwrap_or_default();
    if let Some(n) = param("tailLines").and_then(|v| v.parse::<usize>().ok()) {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        text = lines[lines.len().saturating_sub(n)..].concat();
    }
    if let Some(n) = param("limitBytes").and_then(|v| v.parse::<usize>().ok())
        && n < text.len()
    {
        let mut cut = n;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Ok(text)
}
