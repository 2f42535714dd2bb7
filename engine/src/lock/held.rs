//! A held run lock, whichever backend took it.

use super::FileLock;
#[cfg(feature = "k8s")]
use super::LeaseLock;

/// A held run lock of either backend; released when dropped.
pub enum RunLock {
    File(FileLock),
    #[cfg(feature = "k8s")]
    Lease(Box<LeaseLock>),
}
