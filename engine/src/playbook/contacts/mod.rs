//! The workspace's on-call contacts (`contacts:` in runbook.yaml, or the file it names):
//! people, the rotation, the escalation levels and the channels, as written and as checked,
//! and who is on call at a given moment.

mod check;
mod model;
mod spec;
#[cfg(test)]
mod tests;

pub use check::{MAX_LEVELS, MAX_SHIFTS, load};
pub use model::{Contacts, Level, OnCall, Person, ROLES, Rotation, Shift};
pub use spec::{
    ChannelSpec, ContactsFile, ContactsSpec, EscalateSpec, LevelSpec, PersonSpec, RotationSpec, ShiftSpec, WebhookSpec,
};
