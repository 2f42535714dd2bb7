//! Run locks: one run per lock key at a time. The `file` backend is an OS file lock, which
//! the OS releases when the holder dies; the `kubernetes` backend is a Lease that expires when
//! its holder stops renewing it. Never released by guessing.

mod file;
mod held;
#[cfg(feature = "k8s")]
mod lease;

pub use file::{FileLock, Holder, LockError, acquire};
pub use held::RunLock;
#[cfg(feature = "k8s")]
pub use lease::{LeaseConfig, LeaseLock, acquire as acquire_lease, lease_name};
