//! A journal record: `seq`, `ts`, `run`, `type`, the event's fields, `prev` (the previous
//! record's hash) and `hash` (sha256 of the record's canonical JSON without `hash`).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The `prev` of the first record.
pub const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A record as stored: a JSON object.
pub type Record = Map<String, Value>;

/// The hash of a record: sha256 over its canonical JSON (keys sorted, no spaces) without the
/// `hash` field. `sha256sum` over `jq -cS 'del(.hash)'` of a line gives the same.
pub fn record_hash(r: &Record) -> String {
    let mut without = r.clone();
    without.remove("hash");
    // serde_json's maps are sorted (no `preserve_order` in this crate), so this is canonical.
    let text = serde_json::to_string(&Value::Object(without)).unwrap_or_default();
    hex::encode(Sha256::digest(text.as_bytes()))
}
