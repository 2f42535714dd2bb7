//! The plan hash: sha256 over the plan's canonical JSON (keys sorted, no whitespace),
//! without the `hash` field itself.

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::model::Plan;

pub fn plan_hash(plan: &Plan) -> String {
    let mut v = serde_json::to_value(plan).unwrap_or(Json::Null);
    if let Json::Object(map) = &mut v {
        map.remove("hash");
    }
    let mut text = String::new();
    canonical(&v, &mut text);
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

/// Writes JSON with object keys sorted, so the same plan always hashes the same.
pub fn canonical(v: &Json, out: &mut String) {
    match v {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Json::String((*k).clone()).to_string());
                out.push(':');
                canonical(&map[*k], out);
            }
            out.push('}');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_does_not_matter() {
        let a: Json = serde_json::from_str(r#"{"b":1,"a":{"y":[1,2],"x":"s"}}"#).unwrap();
        let b: Json = serde_json::from_str(r#"{"a":{"x":"s","y":[1,2]},"b":1}"#).unwrap();
        let (mut ta, mut tb) = (String::new(), String::new());
        canonical(&a, &mut ta);
        canonical(&b, &mut tb);
        assert_eq!(ta, tb);
        assert_eq!(ta, r#"{"a":{"x":"s","y":[1,2]},"b":1}"#);
    }
}
