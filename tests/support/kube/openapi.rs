//! The OpenAPI documents kubectl reads before `apply`, `create` or `replace`. Recent kubectl
//! reads v3: one document per group version, without schemas, whose PATCH operations take
//! `fieldValidation`, so it leaves validation to the server. Older kubectl (Debian's 1.20)
//! reads only v2, as protobuf: an empty document, which has no schema for any kind, so its
//! client-side validation skips every object. Both build strategic merge patches from their
//! own types.

use serde_json::{Value, json};

use super::catalog;

/// The media type the API server answers the protobuf OpenAPI v2 document with (kubectl asks
/// for `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, which Go's MIME parser
/// cannot read back).
pub(crate) const V2_PROTOBUF: &str = "application/octet-stream";

/// `GET /openapi/v2`: an empty `openapi.v2.Document` (a message with no field set is zero bytes
/// in protobuf).
pub(crate) fn v2() -> Vec<u8> {
    Vec::new()
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `GET /openapi/v3`: where each group version's document is.
pub(crate) fn root() -> Value {
    let paths: serde_json::Map<String, Value> = catalog::group_versions()
        .into_iter()
        .map(|(g, v)| {
            let path = gv_path(g, v);
            let url = format!("/openapi/v3/{path}");
            (path, json!({ "serverRelativeURL": url }))
        })
        .collect();
    json!({ "paths": paths })
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`, or None for a group version
/// not served.
pub(crate) fn group_version(group: &str, version: &str) -> Option<Value> {
    let mut paths = serde_json::Map::new();
    for k in catalog::KNOWN
        .iter()
        .filter(|k| k.group == group && k.version == version)
    {
        let base = format!("/{}", gv_path(group, version));
        let path = if k.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", k.plural)
        } else {
            format!("{base}/{}/{{name}}", k.plural)
        };
        let gvk = json!({ "group": group, "version": version, "kind": k.kind });
        let params = json!([
            { "name": "fieldValidation", "in": "query", "schema": { "type": "string", "uniqueItems": true } },
            { "name": "fieldManager", "in": "query", "schema": { "type": "string", "uniqueItems": true } },
            { "name": "dryRun", "in": "query", "schema": { "type": "string", "uniqueItems": true } },
        ]);
        let op = |action: &str| {
            json!({
                "operationId": format!("{action}{}", k.kind),
                "parameters": params,
                "responses": {},
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
            })
        };
        paths.insert(
            path,
            json!({ "get": op("get"), "put": op("put"), "patch": op("patch") }),
        );
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": catalog::version()["gitVersion"] },
        "paths": paths,
        "components": { "schemas": {} },
    }))
}
