//! Run locks: one run per lock key at a time. The `file` backend is an OS file lock, which
//! the OS releases when the holder dies; the `kubernetes` backend is a Lease that expires when
//! its holder stops renewing it. Never released by guessing.

mod file;
#[cfg(feature = "k8s")]
mod lease;

pub use file::{FileLock, Holder, LockError, acquire};
#[cfg(feature = "k8s")]
pub use lease::{LeaseConfig, LeaseLock, acquire as acquire_lease, lease_name};

/// A held run lock of either backend; released when dropped.
pub enum RunLock {
    File(FileLock),
    #[cfg(feature = "k8s")]
    Lease(Box<LeaseLock>),
}
