//! `Status` failures as the API server words them: reason, code, message and details.

use serde_json::{Value, json};

/// A failed request: answered with `code` and a `Status` body.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Value,
}

/// `plural.group` (or just `plural` for the core group), as messages name a resource.
pub(crate) fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

fn details(name: &str, group: &str, kind: &str) -> Value {
    let mut d = serde_json::Map::new();
    if !name.is_empty() {
        d.insert("name".into(), json!(name));
    }
    if !group.is_empty() {
        d.insert("group".into(), json!(group));
    }
    d.insert("kind".into(), json!(kind));
    Value::Object(d)
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn not_found(group: &str, plural: &str, name: &str) -> ApiError {
        ApiError {
            details: details(name, group, plural),
            ..ApiError::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", qualified(group, plural)),
            )
        }
    }

    /// A path that names no resource this server serves.
    pub fn no_route() -> ApiError {
        ApiError {
            details: json!({}),
            ..ApiError::new(404, "NotFound", "the server could not find the requested resource")
        }
    }

    pub fn already_exists(group: &str, plural: &str, name: &str) -> ApiError {
        ApiError {
            details: details(name, group, plural),
            ..ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", qualified(group, plural)),
            )
        }
    }

    pub fn conflict(group: &str, plural: &str, name: &str) -> ApiError {
        let message = format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your \
             changes to the latest version and try again",
            qualified(group, plural)
        );
        ApiError {
            details: details(name, group, plural),
            ..ApiError::new(409, "Conflict", message)
        }
    }

    /// RBAC's refusal. `resource` may carry a subresource (`pods/eviction`).
    pub fn forbidden(group: &str, resource: &str, name: &str, verb: &str, namespace: Option<&str>) -> ApiError {
        let plural = resource.split('/').next().unwrap_or(resource);
        let subject = if name.is_empty() {
            qualified(group, plural)
        } else {
            format!("{} \"{name}\"", qualified(group, plural))
        };
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        let message = format!(
            "{subject} is forbidden: User \"test\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {scope}"
        );
        ApiError {
            details: details(name, group, plural),
            ..ApiError::new(403, "Forbidden", message)
        }
    }

    /// A 422 about one field of an object of `kind`.
    pub fn invalid(group: &str, kind: &str, name: &str, field: &str, cause: &str, detail: &str) -> ApiError {
        let message = format!(
            "{} \"{name}\" is invalid: {field}: {detail}",
            if group.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}.{group}")
            }
        );
        let mut d = details(name, group, kind);
        d["causes"] = json!([{ "reason": cause, "message": detail, "field": field }]);
        ApiError {
            details: d,
            ..ApiError::new(422, "Invalid", message)
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> ApiError {
        ApiError::new(405, "MethodNotAllowed", message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json; got {content_type:?}"
            ),
        )
    }

    /// The `Status` body.
    pub fn to_json(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !self.details.is_null() {
            s["details"] = self.details.clone();
        }
        s
    }
}

/// A `Status` of success, as deletes and evictions answer.
pub(crate) fn success(code: u16, details: Option<Value>) -> Value {
    let mut s = json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success" });
    if let Some(d) = details {
        s["details"] = d;
    }
    if code != 200 {
        s["code"] = json!(code);
    }
    s
}
