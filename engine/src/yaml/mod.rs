//! The span-carrying YAML tree and the serde deserializer that reads typed values out of it.

mod access;
mod de;
mod error;
mod node;
mod spanned;

pub use de::{from_node, from_node_collecting};
pub use error::{DeError, suggest_name};
pub use node::{Node, NodeKind, parse};
pub use spanned::{Collect, Sp};
