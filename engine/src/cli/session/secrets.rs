//! What a run must not show: its secrets, read from their environment variables or files,
//! and the contacts' webhook addresses.

use std::collections::HashMap;

use indexmap::IndexMap;

use crate::plan::Plan;

/// Reads each declared secret from its environment variable or file.
pub fn read_secrets(plan: &Plan, root: &std::path::Path) -> Result<IndexMap<String, String>, String> {
    let mut out = IndexMap::new();
    for (name, s) in &plan.secrets {
        let value = match (&s.env, &s.file) {
            (Some(var), _) => std::env::var(var).ok(),
            (None, Some(file)) => std::fs::read_to_string(root.join(file))
                .ok()
                .map(|v| v.trim_end_matches('\n').to_string()),
            (None, None) => None,
        };
        match value {
            Some(v) => {
                out.insert(name.clone(), v);
            }
            None if s.optional => {
                out.insert(name.clone(), String::new());
            }
            None => {
                let from = s
                    .env
                    .as_ref()
                    .map(|v| format!("environment variable {v}"))
                    .or(s.file.as_ref().map(|f| format!("file {f}")));
                return Err(format!(
                    "secret `{name}` is not set: {} is missing",
                    from.unwrap_or_default()
                ));
            }
        }
    }
    Ok(out)
}

/// The webhook addresses of the workspace's contacts (channels and pager), by the
/// environment variable each is read from; those not set are left out (what they would
/// have sent is journaled as not sent).
pub fn contact_webhooks(plan: &Plan) -> HashMap<String, String> {
    let Some(c) = &plan.env.contacts else {
        return HashMap::new();
    };
    c.channels
        .values()
        .chain(&c.pager)
        .filter_map(|var| Some((var.clone(), std::env::var(var).ok().filter(|v| !v.is_empty())?)))
        .collect()
}
