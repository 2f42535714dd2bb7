//! How an undo is journaled: a `Secret`'s data is never written down.

use crate::spec::Undo;

/// The undo as the journal keeps it: a `Secret`'s data is never written down, so a resumed
/// run cannot restore a Secret (it says so) while the run that captured it can.
pub fn journal_undo(undo: &Undo) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("kind").and_then(|k| k.as_str()) == Some("Secret") {
                    for key in ["data", "stringData"] {
                        if m.contains_key(key) {
                            m.insert(key.into(), serde_json::Value::String(REDACTED_SECRET.into()));
                        }
                    }
                }
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(undo).unwrap_or(serde_json::Value::Null);
    strip(&mut v);
    v
}

/// What stands for a Secret's data in a journaled undo.
pub const REDACTED_SECRET: &str = "*** (not journaled)";
