//! A serde `Deserializer` over [`Node`]: every error carries the span of the node it is
//! about, unknown keys get a did-you-mean, and `Collect<T>` items store their errors.

use std::cell::RefCell;

use serde::de::{self, DeserializeOwned, Visitor};

use super::access::{Enum, Map, Seq, SpanDe};
use super::error::{DeError, explained_by, plain_expected};
use super::node::{Node, NodeKind};
use super::spanned::{COLLECT, SPANNED};

pub(super) struct Ctx {
    pub(super) collected: RefCell<Vec<DeError>>,
}

/// Reads a `T` from a node; the first error ends it.
pub fn from_node<T: DeserializeOwned>(node: &Node) -> Result<T, DeError> {
    let ctx = Ctx {
        collected: RefCell::new(Vec::new()),
    };
    let result = T::deserialize(NodeDe { node, ctx: &ctx });
    let mut collected = ctx.collected.into_inner();
    match result {
        Ok(v) if collected.is_empty() => Ok(v),
        Ok(_) => Err(collected.remove(0)),
        Err(e) => Err(if e.is_collected() && !collected.is_empty() {
            collected.remove(0)
        } else {
            e
        }),
    }
}

/// Reads a `T` whose `Collect<_>` parts store their errors: returns what could be read and
/// every error, in source order.
pub fn from_node_collecting<T: DeserializeOwned>(node: &Node) -> (Option<T>, Vec<DeError>) {
    let ctx = Ctx {
        collected: RefCell::new(Vec::new()),
    };
    let result = T::deserialize(NodeDe { node, ctx: &ctx });
    let mut errors = ctx.collected.into_inner();
    let value = match result {
        Ok(v) => Some(v),
        Err(e) => {
            if !e.is_collected() {
                errors.push(e.at(node.span));
            }
            None
        }
    };
    errors.sort_by_key(|e| e.span.map(|s| s.start).unwrap_or(0));
    (value, errors)
}

#[derive(Clone, Copy)]
pub(super) struct NodeDe<'a> {
    pub(super) node: &'a Node,
    pub(super) ctx: &'a Ctx,
}

impl<'a> NodeDe<'a> {
    pub(super) fn child(&self, node: &'a Node) -> NodeDe<'a> {
        NodeDe { node, ctx: self.ctx }
    }
    pub(super) fn locate<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| e.at(self.node.span))
    }
    fn read_map<'de, V: Visitor<'de>>(
        self,
        fields: Option<&'static [&'static str]>,
        v: V,
    ) -> Result<V::Value, DeError> {
        let NodeKind::Map(entries) = &self.node.kind else {
            return self.wrong(&v);
        };
        let unknown = RefCell::new(Vec::new());
        let r = v.visit_map(Map {
            de: self,
            entries: entries.iter(),
            value: None,
            fields,
            unknown: &unknown,
        });
        match r {
            // A required key that a reported unknown key was surely meant to be.
            Err(e) if fields.is_some_and(|f| explained_by(&e, &unknown.borrow(), f)) => Err(DeError::collected()),
            r => self.locate(r),
        }
    }

    fn wrong<T>(&self, exp: &dyn de::Expected) -> Result<T, DeError> {
        Err(DeError::new(
            format!("expected {}, found {}", plain_expected(exp), self.node.describe()),
            self.node.span,
        ))
    }
}

macro_rules! forward_scalar {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            match &self.node.kind {
                NodeKind::Str(_) | NodeKind::Seq(_) | NodeKind::Map(_) | NodeKind::Null => self.wrong(&v),
                _ => self.deserialize_any(v),
            }
        }
    )*};
}

impl<'de, 'a> de::Deserializer<'de> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            NodeKind::Null => v.visit_unit(),
            NodeKind::Bool { value, .. } => v.visit_bool(*value),
            NodeKind::Int { value, .. } => v.visit_i64(*value),
            NodeKind::Float { value, .. } => v.visit_f64(*value),
            NodeKind::Str(s) => v.visit_str(s),
            NodeKind::Seq(items) => v.visit_seq(Seq {
                de: self,
                items: items.iter(),
                index: 0,
            }),
            NodeKind::Map(entries) => v.visit_map(Map {
                de: self,
                entries: entries.iter(),
                value: None,
                fields: None,
                unknown: &RefCell::new(Vec::new()),
            }),
        };
        self.locate(r)
    }

    forward_scalar! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
    }

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(v)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            NodeKind::Int { value, .. } => v.visit_f64(*value as f64),
            NodeKind::Float { value, .. } => v.visit_f64(*value),
            _ => return self.wrong(&v),
        };
        self.locate(r)
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node.as_scalar_text() {
            Some(text) => self.locate(v.visit_str(text)),
            None => self.wrong(&v),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node.kind {
            NodeKind::Null => self.locate(v.visit_none()),
            _ => self.locate(v.visit_some(self)),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node.kind {
            NodeKind::Null => self.locate(v.visit_unit()),
            _ => self.wrong(&v),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, v: V) -> Result<V::Value, DeError> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, DeError> {
        if name == SPANNED {
            return v.visit_newtype_struct(SpanDe(self));
        }
        if name == COLLECT {
            let catching = Catching(self);
            return v.visit_newtype_struct(catching);
        }
        self.locate(v.visit_newtype_struct(self))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Seq(items) => self.locate(v.visit_seq(Seq {
                de: self,
                items: items.iter(),
                index: 0,
            })),
            _ => self.wrong(&v),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _: &'static str, _: usize, v: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.read_map(None, v)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        self.read_map(Some(fields), v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                self.locate(v.visit_enum(Enum {
                    de: self,
                    key,
                    value: Some(value),
                }))
            }
            NodeKind::Map(entries) => {
                let keys: Vec<String> = entries
                    .iter()
                    .filter_map(|(k, _)| k.as_scalar_text().map(|s| format!("`{s}`")))
                    .collect();
                let names: Vec<String> = variants.iter().map(|n| format!("`{n}`")).collect();
                let msg = if keys.is_empty() {
                    format!("expected exactly one of {}, found an empty mapping", names.join(", "))
                } else {
                    format!(
                        "expected exactly one of {}, found {}",
                        names.join(", "),
                        keys.join(", ")
                    )
                };
                Err(DeError::new(msg, self.node.span))
            }
            NodeKind::Str(_) | NodeKind::Bool { .. } | NodeKind::Int { .. } | NodeKind::Float { .. } => {
                self.locate(v.visit_enum(Enum {
                    de: self,
                    key: self.node,
                    value: None,
                }))
            }
            _ => self.wrong(&v),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_unit()
    }
}

/// The deserializer a `Collect<T>` reads through: stores any error of `T` and answers with
/// the marker, so the collecting wrapper knows it may go on.
struct Catching<'a>(NodeDe<'a>);

impl Catching<'_> {
    fn catch<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| {
            if !e.is_collected() {
                self.0.ctx.collected.borrow_mut().push(e.at(self.0.node.span));
            }
            DeError::collected()
        })
    }
}

macro_rules! catching {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            let r = self.0.$method(v);
            self.catch(r)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Catching<'_> {
    type Error = DeError;
    catching! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32 deserialize_f64
        deserialize_char deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map deserialize_identifier
        deserialize_ignored_any
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, n: &'static str, v: V) -> Result<V::Value, DeError> {
        let r = self.0.deserialize_unit_struct(n, v);
        self.catch(r)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, n: &'static str, v: V) -> Result<V::Value, DeError> {
        let r = self.0.deserialize_newtype_struct(n, v);
        self.catch(r)
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, l: usize, v: V) -> Result<V::Value, DeError> {
        let r = self.0.deserialize_tuple(l, v);
        self.catch(r)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(self, n: &'static str, l: usize, v: V) -> Result<V::Value, DeError> {
        let r = self.0.deserialize_tuple_struct(n, l, v);
        self.catch(r)
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        n: &'static str,
        f: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let r = self.0.deserialize_struct(n, f, v);
        self.catch(r)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        n: &'static str,
        f: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let r = self.0.deserialize_enum(n, f, v);
        self.catch(r)
    }
}
