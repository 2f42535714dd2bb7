//! Recomputes a journal's chain and names the first record that is wrong. A last line cut
//! short by a crash is a torn tail, not tampering.

use std::path::Path;

use super::record::{Record, ZERO_HASH, record_hash};

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every record chains; `torn` when the last line was cut short (a crash mid-write).
    Intact { records: usize, torn: bool },
    /// Record `line` (1-based) is wrong; the reason says how.
    Broken {
        line: usize,
        seq: Option<u64>,
        reason: String,
    },
}

pub fn verify_file(path: &Path) -> std::io::Result<Verdict> {
    let bytes = std::fs::read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let ends_clean = text.is_empty() || text.ends_with('\n');
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    let mut prev = ZERO_HASH.to_string();
    for (i, line) in lines.iter().enumerate() {
        let last = i + 1 == lines.len();
        let record: Record = match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(m)) => m,
            // An unfinished last line is what a crash mid-write leaves.
            _ if last && !ends_clean => return Ok(Verdict::Intact { records: i, torn: true }),
            _ => {
                return Ok(Verdict::Broken {
                    line: i + 1,
                    seq: None,
                    reason: "not a JSON record".into(),
                });
            }
        };
        let seq = record.get("seq").and_then(|s| s.as_u64());
        let broken = |reason: String| {
            Ok(Verdict::Broken {
                line: i + 1,
                seq,
                reason,
            })
        };
        if seq != Some(i as u64) {
            return broken(format!(
                "sequence number {} where {i} was expected: a record was removed, added or moved",
                seq.map(|s| s.to_string()).unwrap_or_else(|| "missing".into())
            ));
        }
        if record.get("prev").and_then(|p| p.as_str()) != Some(prev.as_str()) {
            return broken(
                "`prev` is not the hash of the record before: a record before it was changed, removed or moved".into(),
            );
        }
        let stored = record
            .get("hash")
            .and_then(|h| h.as_str())
            .unwrap_or_default()
            .to_string();
        let computed = record_hash(&record);
        if stored != computed {
            return broken("its content does not match its hash: the record was changed".into());
        }
        prev = stored;
    }
    Ok(Verdict::Intact {
        records: lines.len(),
        torn: false,
    })
}
