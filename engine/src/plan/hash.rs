//! The plan hash: sha256 over the plan body's compact JSON. Struct fields serialize in
//! declaration order and maps in playbook order, so the bytes depend only on what the plan
//! says, never on comments or layout of the YAML.

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::model::PlanBody;

pub fn plan_hash(body: &PlanBody) -> String {
    // Streams into the hasher: no intermediate JSON value or string.
    let mut hasher = HashWriter(Sha256::new());
    let _ = serde_json::to_writer(&mut hasher, body);
    format!("sha256:{}", hex::encode(hasher.0.finalize()))
}

struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes JSON with object keys sorted (what the hash is computed over), for tools and tests.
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
    fn values_serialize_with_sorted_keys() {
        // The hash relies on it: serde_json must not be built with `preserve_order`.
        let v: Json = serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"a":2,"b":1}"#);
    }

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
