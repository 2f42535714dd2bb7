//! A serde `Deserializer` over [`Node`]: every error carries the span of the node it is
//! about, unknown keys get a did-you-mean, and `Collect<T>` items store their errors.

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess, Visitor,
};

use super::node::{Node, NodeKind};
use super::spanned::{COLLECT, COLLECTED, SPANNED};
use crate::source::Span;

/// A deserialization error: what is wrong, where, and an optional hint.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DeError {
    pub message: String,
    pub span: Option<Span>,
    pub help: Option<String>,
}

impl DeError {
    pub fn new(message: impl Into<String>, span: Span) -> Self {
        DeError {
            message: message.into(),
            span: Some(span),
            help: None,
        }
    }
    fn at(mut self, span: Span) -> Self {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }
    fn collected() -> Self {
        DeError {
            message: COLLECTED.to_string(),
            span: None,
            help: None,
        }
    }
    fn is_collected(&self) -> bool {
        self.message == COLLECTED
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            span: None,
            help: None,
        }
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        DeError::custom(format!(
            "expected {}, found {}",
            plain_expected(exp),
            describe_unexpected(&unexp)
        ))
    }

    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        DeError::custom(format!(
            "invalid value {}: expected {}",
            describe_unexpected(&unexp),
            plain_expected(exp)
        ))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let mut e = DeError::custom(format!("unknown key `{field}`"));
        e.help = Some(suggest(field, expected, "key"));
        e
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut e = DeError::custom(format!("unknown value `{variant}`"));
        e.help = Some(suggest(variant, expected, "value"));
        e
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::custom(format!("missing required key `{field}`"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::custom(format!("key `{field}` is given twice"))
    }
}

/// serde's expectations in playbook words: `u32` → "a whole number (0 or more)".
fn plain_expected(exp: &dyn de::Expected) -> String {
    let e = exp.to_string();
    match e.as_str() {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "a sequence" => "a list".into(),
        "a map" => "a mapping".into(),
        "a boolean" | "a string" => e,
        _ => e,
    }
}

fn describe_unexpected(u: &de::Unexpected) -> String {
    match u {
        de::Unexpected::Bool(b) => format!("boolean `{b}`"),
        de::Unexpected::Signed(i) => format!("integer `{i}`"),
        de::Unexpected::Unsigned(i) => format!("integer `{i}`"),
        de::Unexpected::Float(f) => format!("number `{f}`"),
        de::Unexpected::Str(s) => format!("string `{s}`"),
        de::Unexpected::Unit => "nothing (null)".to_string(),
        de::Unexpected::Seq => "a list".to_string(),
        de::Unexpected::Map => "a mapping".to_string(),
        other => other.to_string(),
    }
}

/// "did you mean `x`?" when a name is close to one that exists, else the full list.
pub fn suggest(got: &str, expected: &[&str], what: &str) -> String {
    suggest_name(got, expected, what)
}

/// Like [`suggest`], for names known only at run time (params, steps, playbooks).
pub fn suggest_name(got: &str, expected: &[&str], what: &str) -> String {
    // A step of a sub-playbook is named `caller/step`: the last segment alone is a near miss.
    if let Some(whole) = expected
        .iter()
        .find(|e| e.rsplit('/').next() == Some(got) && e.contains('/'))
    {
        return format!("did you mean `{whole}`?");
    }
    // Close by Jaro-Winkler (good on long names), or one edit away (short ones: rn → run).
    let best = expected
        .iter()
        .map(|e| {
            let close = strsim::levenshtein(got, e) <= 1 && got.len() > 1;
            let score = if close { 1.0 } else { strsim::jaro_winkler(got, e) };
            (score, *e)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, name)) => format!("did you mean `{name}`?"),
        None if expected.is_empty() => format!("there are no {what}s to choose from here"),
        None => format!(
            "expected one of: {}",
            expected.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Is `e` a "missing required key `x`" where an unknown key of the same mapping is a near
/// miss of `x`?
fn explained_by(e: &DeError, unknown: &[String], fields: &[&str]) -> bool {
    let Some(missing) = e
        .message
        .strip_prefix("missing required key `")
        .and_then(|m| m.strip_suffix('`'))
    else {
        return false;
    };
    unknown
        .iter()
        .any(|u| suggest_name(u, fields, "key") == format!("did you mean `{missing}`?"))
}

struct Ctx {
    collected: RefCell<Vec<DeError>>,
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
struct NodeDe<'a> {
    node: &'a Node,
    ctx: &'a Ctx,
}

impl<'a> NodeDe<'a> {
    fn child(&self, node: &'a Node) -> NodeDe<'a> {
        NodeDe { node, ctx: self.ctx }
    }
    fn locate<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
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

/// Hands a `Sp<T>` its span, then the value: `(start, end, value)`.
struct SpanDe<'a>(NodeDe<'a>);

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

struct Seq<'a, I> {
    de: NodeDe<'a>,
    items: I,
    index: usize,
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

struct Map<'a, I> {
    de: NodeDe<'a>,
    entries: I,
    value: Option<&'a Node>,
    /// The fields of the struct being read: an unknown key is reported, collected and
    /// skipped, so the struct's other keys are still read and checked.
    fields: Option<&'static [&'static str]>,
    /// The unknown keys seen, so that "missing `replicas`" is not said beside "unknown
    /// `replica`, did you mean `replicas`?".
    unknown: &'a RefCell<Vec<String>>,
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

struct Enum<'a> {
    de: NodeDe<'a>,
    key: &'a Node,
    value: Option<&'a Node>,
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

struct Variant<'a> {
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
