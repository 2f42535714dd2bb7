//! Seed files: Kubernetes objects read from YAML (a list, a stream of documents, or a `kind: List`),
//! each with where it starts in the file, and stored in a `KubeServer` with errors that name the file,
//! line and column instead of panicking.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;
use serde_saphyr::Spanned;

use super::KubeServer;

/// A seed file larger than this is refused before it is parsed.
pub const MAX_SEED_BYTES: u64 = 16 * 1024 * 1024;

/// One object of a seed file and where it starts (line and column from 1; None when the parser
/// could not say).
#[derive(Debug, Clone)]
pub struct SeedObject {
    pub object: Value,
    pub at: Option<(u64, u64)>,
}

/// Why a seed file could not be loaded: `FILE:LINE:COL: message` when the place is known.
#[derive(Debug, Clone)]
pub struct SeedError {
    pub file: PathBuf,
    pub at: Option<(u64, u64)>,
    pub message: String,
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, col)) => write!(f, "{}:{line}:{col}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for SeedError {}

fn place(loc: serde_saphyr::Location) -> Option<(u64, u64)> {
    (loc.line() > 0).then(|| (loc.line(), loc.column()))
}

/// Reads the objects of a seed file: a YAML list of objects, a stream of documents each an object
/// or a list of them, or a `kind: List` with `items`. Empty documents are skipped.
pub fn read_seed(path: &Path) -> Result<Vec<SeedObject>, SeedError> {
    let err = |at: Option<(u64, u64)>, message: String| SeedError {
        file: path.to_path_buf(),
        at,
        message,
    };
    let size = std::fs::metadata(path).map_err(|e| err(None, format!("cannot read the seed file: {e}")))?;
    if size.len() > MAX_SEED_BYTES {
        return Err(err(
            None,
            format!(
                "the seed file has {} bytes; at most {MAX_SEED_BYTES} are read",
                size.len()
            ),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(None, format!("cannot read the seed file: {e}")))?;
    let syntax = |e: serde_saphyr::Error| {
        let at = e.location().and_then(place);
        // The parser's text repeats the place and adds a source excerpt; the first line's
        // message is what is said after ours.
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        let message = first.strip_prefix("error: ").unwrap_or(first);
        let message = match message.split_once(": ") {
            Some((place, rest)) if place.starts_with("line ") => rest,
            _ => message,
        };
        err(at, format!("not valid YAML: {message}"))
    };
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).map_err(syntax)?;
    // Parsed again with spans, in the shape the documents turned out to have: a Spanned value
    // cannot hold an untyped mix of lists and objects.
    let spanned: Vec<Spanned<Value>> = if docs.iter().all(Value::is_array) {
        serde_saphyr::from_multiple::<Vec<Spanned<Value>>>(&text)
            .map_err(syntax)?
            .into_iter()
            .flatten()
            .collect()
    } else if docs.iter().all(Value::is_object) {
        serde_saphyr::from_multiple::<Spanned<Value>>(&text).map_err(syntax)?
    } else {
        docs.into_iter()
            .map(|value| Spanned::new(value, serde_saphyr::Location::UNKNOWN, serde_saphyr::Location::UNKNOWN))
            .collect()
    };
    let mut out = Vec::new();
    for (i, doc) in spanned.into_iter().enumerate() {
        let at = place(doc.referenced);
        match doc.value {
            Value::Array(items) => out.extend(items.into_iter().map(|object| SeedObject { object, at })),
            Value::Object(_) if doc.value["kind"] == "List" && doc.value.get("apiVersion").is_some() => {
                let Some(items) = doc.value["items"].as_array() else {
                    return Err(err(at, "a `kind: List` needs a list of `items`".into()));
                };
                out.extend(items.iter().cloned().map(|object| SeedObject { object, at }));
            }
            Value::Object(_) => out.push(SeedObject { object: doc.value, at }),
            other => {
                return Err(err(
                    at,
                    format!("entry {} is not a Kubernetes object or a list of them: {other}", i + 1),
                ));
            }
        }
    }
    Ok(out)
}

impl KubeServer {
    /// Stores every object of the seed file at `path` ([`read_seed`], then [`KubeServer::try_put`]);
    /// returns how many. Stops at the first object the server refuses, naming where it starts.
    pub fn seed_file(&self, path: &Path) -> Result<usize, SeedError> {
        let objects = read_seed(path)?;
        for o in &objects {
            self.try_put(o.object.clone()).map_err(|message| SeedError {
                file: path.to_path_buf(),
                at: o.at,
                message,
            })?;
        }
        Ok(objects.len())
    }
}
