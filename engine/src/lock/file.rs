//! The file backend: `<state_dir>/locks/<key>.lock`, locked with the OS's advisory lock and
//! holding who has it (run, user, host, pid, since) for the refusal message.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::state::StateDir;
use crate::wake::{Waits, Woke};

/// Who holds a lock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Holder {
    pub run: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub since: String,
}

impl Holder {
    /// This process holding the lock for `run`, from now.
    pub fn now(run: String, user: String, host: String) -> Holder {
        Holder {
            run,
            user,
            host,
            pid: std::process::id(),
            since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

#[derive(Debug)]
pub enum LockError {
    /// Another run holds it (its details, when readable).
    Held {
        key: String,
        holder: Option<Holder>,
        /// Where the lock lives, when that helps (the Lease and its last renewal).
        at: Option<String>,
    },
    Io(String),
    /// A signal arrived while the run waited for the lock.
    Interrupted,
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            LockError::Held { key, holder, at } => {
                let at = at.as_deref().map(|a| format!(" ({a})")).unwrap_or_default();
                match holder {
                    Some(h) => write!(
                        f,
                        "lock `{key}`{at} is held by run {} of {} on {} (pid {}) since {}; wait for it with --lock-wait DURATION",
                        h.run, h.user, h.host, h.pid, h.since
                    ),
                    None => write!(f, "lock `{key}`{at} is held by another run"),
                }
            }
            LockError::Io(e) => f.write_str(e),
            LockError::Interrupted => f.write_str("interrupted while waiting for the run lock; nothing was run"),
        }
    }
}

/// A held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    pub path: PathBuf,
}

/// The lock file of a key: readable, and distinct for keys that read alike.
fn path_for(state: &StateDir, key: &str) -> PathBuf {
    let readable: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    state.locks().join(format!("{readable}-{}.lock", &digest[..8]))
}

/// How often a waiting run tries the lock again.
const RETRY: Duration = Duration::from_millis(200);

/// Takes the lock of `key`, waiting up to `wait` for it (trying again every moment, through
/// the one sleep, so a signal ends the wait) when another run holds it.
pub async fn acquire(
    state: &StateDir,
    key: &str,
    holder: &Holder,
    wait: Option<Duration>,
    waits: &Waits,
) -> Result<FileLock, LockError> {
    StateDir::private_dir(&state.locks())
        .map_err(|e| LockError::Io(format!("cannot create {}: {e}", state.locks().display())))?;
    let path = path_for(state, key);
    let deadline = wait.map(crate::wake::deadline);
    loop {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| LockError::Io(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {
                let text = serde_json::to_string(holder).unwrap_or_default();
                let written = file
                    .set_len(0)
                    .and_then(|_| file.seek(SeekFrom::Start(0)))
                    .and_then(|_| file.write_all(text.as_bytes()))
                    .and_then(|_| file.sync_data());
                written.map_err(|e| LockError::Io(format!("cannot write {}: {e}", path.display())))?;
                return Ok(FileLock { _file: file, path });
            }
            Err(TryLockError::WouldBlock) => {
                if deadline.is_some_and(|d| Instant::now() < d) {
                    if waits.sleep(RETRY).await != Woke::Elapsed {
                        return Err(LockError::Interrupted);
                    }
                    continue;
                }
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Held {
                    key: key.to_string(),
                    holder: serde_json::from_str(&text).ok(),
                    at: None,
                });
            }
            Err(TryLockError::Error(e)) => return Err(LockError::Io(format!("cannot lock {}: {e}", path.display()))),
        }
    }
}
