//! Parses YAML text (through serde-saphyr) into a tree of nodes that keep their byte spans.
//!
//! serde deserializes straight into types and stops at the first error; a tree lets the
//! compiler read each step on its own, so one bad step does not hide the errors of another.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::source::Span;

/// One YAML node with the byte range it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    /// A scalar that YAML resolved to a boolean or a number; `raw` keeps its spelling so a
    /// string field reads `1.10` as "1.10" and a key `n` as "n", not `false`.
    Bool {
        value: bool,
        raw: String,
    },
    Int {
        value: i64,
        raw: String,
    },
    Float {
        value: f64,
        raw: String,
    },
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The node read as a plain string, if it is a scalar.
    pub fn as_scalar_text(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            NodeKind::Bool { raw, .. } | NodeKind::Int { raw, .. } | NodeKind::Float { raw, .. } => Some(raw),
            _ => None,
        }
    }

    /// Looks up a key of a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_scalar_text() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The span of a mapping's key, for errors that are about the key itself.
    pub fn key_span(&self, key: &str) -> Option<Span> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_scalar_text() == Some(key))
                .map(|(k, _)| k.span),
            _ => None,
        }
    }

    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "nothing (null)",
            NodeKind::Bool { .. } => "a boolean",
            NodeKind::Int { .. } => "an integer",
            NodeKind::Float { .. } => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax error, with the position serde-saphyr reported.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
}

/// Parses one YAML document. An empty document is a null node.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: 64,
        },
    };
    match serde_saphyr::from_str_with_options::<Option<Spanned<Raw>>>(text, options) {
        Ok(Some(root)) => Ok(convert(text, root)),
        Ok(None) => Ok(Node {
            span: Span::new(0, 0),
            kind: NodeKind::Null,
        }),
        Err(err) => {
            let span = err
                .location()
                .and_then(|l| {
                    let s = l.span();
                    s.byte_offset()
                        .map(|o| Span::new(o as usize, (o + s.byte_len().unwrap_or(0)) as usize))
                })
                .unwrap_or(Span::new(0, 0));
            let inner = err.without_snippet().to_string();
            // serde-saphyr appends " at line X column Y"; the diagnostic shows that itself.
            let message = match inner.find(" at line ") {
                Some(i) => inner[..i].to_string(),
                None => inner,
            };
            Err(SyntaxError {
                message,
                span: span.clamp(text.len()),
            })
        }
    }
}

fn convert(text: &str, node: Spanned<Raw>) -> Node {
    let s = node.referenced.span();
    let start = s.byte_offset().unwrap_or(0) as usize;
    let end = start + s.byte_len().unwrap_or(0) as usize;
    let span = Span::new(start, end).clamp(text.len());
    let raw = || text.get(span.start..span.end).unwrap_or("").trim().to_string();
    let kind = match node.value {
        Raw::Null => NodeKind::Null,
        Raw::Bool(value) => NodeKind::Bool { value, raw: raw() },
        Raw::Int(value) => NodeKind::Int { value, raw: raw() },
        Raw::Float(value) => NodeKind::Float { value, raw: raw() },
        Raw::Str(s) => NodeKind::Str(s),
        Raw::Seq(items) => NodeKind::Seq(items.into_iter().map(|n| convert(text, n)).collect()),
        Raw::Map(entries) => NodeKind::Map(
            entries
                .into_iter()
                .map(|(k, v)| (convert(text, k), convert(text, v)))
                .collect(),
        ),
    };
    Node { span, kind }
}

/// What serde-saphyr hands us; converted to [`Node`] once spans are attached.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        i64::try_from(v)
            .map(Raw::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
        i64::try_from(v)
            .map(Raw::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        i64::try_from(v)
            .map(Raw::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut items = Vec::with_capacity(a.size_hint().unwrap_or(0));
        while let Some(item) = a.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::with_capacity(a.size_hint().unwrap_or(0));
        while let Some(key) = a.next_key()? {
            entries.push((key, a.next_value()?));
        }
        Ok(Raw::Map(entries))
    }
}
