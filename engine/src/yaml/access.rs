//! The serde access types the deserializer hands its visitors: a list's items, a mapping's
//! entries (unknown keys collected), an enum's variant, and a `Sp<T>`'s span.

use std::cell::RefCell;

use serde::de::{self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess, Visitor};

use super::de::NodeDe;
use super::error::DeError;
use super::node::{Node, NodeKind};
use crate::source::Span;

/// Hands a `Sp<T>` its span, then the value: `(start, end, value)`.
pub(super) struct SpanDe<'a>(pub(super) NodeDe<'a>);

impl<'de> de::Deserializer<'de> for SpanDe<'_> {
    type Error = DeError;
    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_seq(SpanSeq { de: self.0, state: 0 })
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct SpanSeq<'a> {
    de: NodeDe<'a>,
    state: u8,
}

impl<'de> SeqAccess<'de> for SpanSeq<'_> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        self.state += 1;
        let span = self.de.node.span;
        match self.state {
            1 => seed.deserialize((span.start as u64).into_deserializer()).map(Some),
            2 => seed.deserialize((span.end as u64).into_deserializer()).map(Some),
            3 => seed.deserialize(self.de).map(Some),
            _ => Ok(None),
        }
    }
}

pub(super) struct Seq<'a, I> {
    pub(super) de: NodeDe<'a>,
    pub(super) items: I,
    pub(super) index: usize,
}

impl<'de, 'a, I: Iterator<Item = &'a Node>> SeqAccess<'de> for Seq<'a, I> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(node) => {
                self.index += 1;
                let child = self.de.child(node);
                child.locate(seed.deserialize(child)).map(Some)
            }
            None => Ok(None),
        }
    }
}

pub(super) struct Map<'a, I> {
    pub(super) de: NodeDe<'a>,
    pub(super) entries: I,
    pub(super) value: Option<&'a Node>,
    /// The fields of the struct being read: an unknown key is reported, collected and
    /// skipped, so the struct's other keys are still read and checked.
    pub(super) fields: Option<&'static [&'static str]>,
    /// The unknown keys seen, so that "missing `replicas`" is not said beside "unknown
    /// `replica`, did you mean `replicas`?".
    pub(super) unknown: &'a RefCell<Vec<String>>,
}

impl<'de, 'a, I: Iterator<Item = &'a (Node, Node)>> MapAccess<'de> for Map<'a, I> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        loop {
            let Some((key, value)) = self.entries.next() else {
                return Ok(None);
            };
            if let (Some(fields), Some(name)) = (self.fields, key.as_scalar_text())
                && !fields.contains(&name)
            {
                let e = <DeError as de::Error>::unknown_field(name, fields);
                self.de.ctx.collected.borrow_mut().push(e.at(key.span));
                self.unknown.borrow_mut().push(name.to_string());
                continue;
            }
            self.value = Some(value);
            let child = self.de.child(key);
            return child.locate(seed.deserialize(child)).map(Some);
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let node = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value was read before its key"))?;
        let child = self.de.child(node);
        child.locate(seed.deserialize(child))
    }
}

pub(super) struct Enum<'a> {
    pub(super) de: NodeDe<'a>,
    pub(super) key: &'a Node,
    pub(super) value: Option<&'a Node>,
}

impl<'de, 'a> EnumAccess<'de> for Enum<'a> {
    type Error = DeError;
    type Variant = Variant<'a>;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Variant<'a>), DeError> {
        let key = self.de.child(self.key);
        let variant = key.locate(seed.deserialize(key))?;
        Ok((
            variant,
            Variant {
                de: self.de,
                key: self.key,
                value: self.value,
            },
        ))
    }
}

pub(super) struct Variant<'a> {
    de: NodeDe<'a>,
    key: &'a Node,
    value: Option<&'a Node>,
}

/// An empty mapping, for a struct variant written as its bare name (`check: nodes-ready`).
static EMPTY_MAP: Node = Node {
    span: Span { start: 0, end: 0 },
    kind: NodeKind::Map(Vec::new()),
};

impl<'de> VariantAccess<'de> for Variant<'_> {
    type Error = DeError;
    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            None => Ok(()),
            Some(n) if n.kind == NodeKind::Null => Ok(()),
            Some(n) => Err(DeError::new(
                format!("`{}` takes no value here", self.key.as_scalar_text().unwrap_or("?")),
                n.span,
            )),
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        match self.value {
            Some(n) => {
                let child = self.de.child(n);
                child.locate(seed.deserialize(child))
            }
            None => Err(DeError::new(
                format!("`{}` needs a value", self.key.as_scalar_text().unwrap_or("?")),
                self.key.span,
            )),
        }
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, DeError> {
        match self.value {
            Some(n) => de::Deserializer::deserialize_seq(self.de.child(n), v),
            None => Err(DeError::new("a list is needed here", self.key.span)),
        }
    }
    fn struct_variant<V: Visitor<'de>>(self, f: &'static [&'static str], v: V) -> Result<V::Value, DeError> {
        match self.value {
            Some(n) if n.kind != NodeKind::Null => de::Deserializer::deserialize_struct(self.de.child(n), "", f, v),
            // A bare name, or `name:` with nothing after it, means "with no options".
            _ => {
                let empty = NodeDe {
                    node: &EMPTY_MAP,
                    ctx: self.de.ctx,
                };
                de::Deserializer::deserialize_struct(empty, "", f, v).map_err(|e| DeError {
                    span: Some(self.key.span),
                    ..e
                })
            }
        }
    }
}
