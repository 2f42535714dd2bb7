//! Run locks: one run per lock key at a time. The `file` backend is an OS file lock, which
//! the OS releases when the holder dies; never released by guessing.

mod file;

pub use file::{FileLock, Holder, LockError, acquire};
