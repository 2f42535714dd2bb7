//! The span-carrying YAML tree and the serde deserializer that reads typed values out of it.

mod de;
mod node;
mod spanned;

pub use de::{DeError, from_node, from_node_collecting, suggest_name};
pub use node::{Node, NodeKind, parse};
pub use spanned::{Collect, Sp};
