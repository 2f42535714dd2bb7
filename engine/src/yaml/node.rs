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
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
}

/// Parses one YAML document. An empty document is a null node.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    // Deep nesting has no use in a playbook; node and event counts are raised from the
    // defaults so that generated playbooks of 100,000 steps still load.
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: 64,
            max_nodes: 20_000_000,
            max_events: 40_000_000,
        },
    };
    match serde_saphyr::from_str_with_options::<Option<Node>>(text, options) {
        Ok(Some(mut root)) => {
            fill_raw(text, &mut root);
            Ok(root)
        }
        Ok(None) => Ok(Node {
            span: Span::new(0, 0),
            kind: NodeKind::Null,
        }),
        Err(err) => {
            // Parser errors carry a line and column but not always a byte offset.
            let span = err
                .location()
                .and_then(|l| {
                    let s = l.span();
                    match s.byte_offset() {
                        Some(o) => Some(Span::new(o as usize, (o + s.byte_len().unwrap_or(0)) as usize)),
                        None => offset_of(text, l.line() as usize, l.column() as usize).map(|o| Span::new(o, o)),
                    }
                })
                .unwrap_or(Span::new(0, 0));
            let inner = err.without_snippet().to_string();
            // serde-saphyr appends " at line X column Y"; the diagnostic shows that itself.
            let message = match inner.find(" at line ") {
                Some(i) => inner[..i].to_string(),
                None => inner,
            };
            Err(SyntaxError {
                message: plain_message(&message),
                span: span.clamp(text.len()),
            })
        }
    }
}

/// The byte offset of a 1-based line and character column.
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let start = if line == 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)?
    };
    let line_text = &text[start..];
    let within = line_text
        .char_indices()
        .nth(column.saturating_sub(1))
        .map(|(i, _)| i)
        .unwrap_or_else(|| line_text.find('\n').unwrap_or(line_text.len()));
    Some(start + within)
}

/// Rewrites parser messages that speak to Rust programmers rather than playbook authors.
fn plain_message(m: &str) -> String {
    if let Some(rest) = m.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return format!("key `{key}` is given twice in this mapping");
    }
    if let Some(rest) = m.strip_prefix("non-finite float `")
        && let Some(value) = rest.strip_suffix("` rejected by the configured policy")
    {
        return format!(
            "`{value}` is not a finite number, and runbook reads only finite ones (quote it if it is text)"
        );
    }
    if m.starts_with("multiple YAML documents detected") {
        return "a second YAML document (`---`): a playbook file holds exactly one".to_string();
    }
    m.to_string()
}

/// Spans are clamped to the text and non-string scalars get their spelling, once the whole
/// tree exists (the visitor that builds it cannot see the text).
fn fill_raw(text: &str, node: &mut Node) {
    node.span = node.span.clamp(text.len());
    let spelling = || {
        text.get(node.span.start..node.span.end)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    match &mut node.kind {
        NodeKind::Bool { raw, .. } | NodeKind::Int { raw, .. } | NodeKind::Float { raw, .. } => *raw = spelling(),
        NodeKind::Seq(items) => items.iter_mut().for_each(|n| fill_raw(text, n)),
        NodeKind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            fill_raw(text, k);
            fill_raw(text, v);
        }),
        _ => {}
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let sp = Spanned::<NodeKind>::deserialize(d)?;
        let s = sp.referenced.span();
        let start = s.byte_offset().unwrap_or(0) as usize;
        let end = start + s.byte_len().unwrap_or(0) as usize;
        Ok(Node {
            span: Span::new(start, end),
            kind: sp.value,
        })
    }
}

impl<'de> Deserialize<'de> for NodeKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

fn int<E: de::Error>(v: impl TryInto<i64> + std::fmt::Display + Copy) -> Result<NodeKind, E> {
    v.try_into()
        .map(|value| NodeKind::Int {
            value,
            raw: String::new(),
        })
        .map_err(|_| E::custom(format!("integer {v} is too large")))
}

impl<'de> Visitor<'de> for KindVisitor {
    type Value = NodeKind;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Null)
    }
    fn visit_none<E>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeKind, D::Error> {
        NodeKind::deserialize(d)
    }
    fn visit_bool<E>(self, value: bool) -> Result<NodeKind, E> {
        Ok(NodeKind::Bool {
            value,
            raw: String::new(),
        })
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<NodeKind, E> {
        int(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodeKind, E> {
        int(v)
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<NodeKind, E> {
        int(v)
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<NodeKind, E> {
        int(v)
    }
    fn visit_f64<E>(self, value: f64) -> Result<NodeKind, E> {
        Ok(NodeKind::Float {
            value,
            raw: String::new(),
        })
    }
    fn visit_str<E>(self, v: &str) -> Result<NodeKind, E> {
        Ok(NodeKind::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<NodeKind, E> {
        Ok(NodeKind::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<NodeKind, A::Error> {
        let mut items = Vec::with_capacity(a.size_hint().unwrap_or(0));
        while let Some(item) = a.next_element()? {
            items.push(item);
        }
        Ok(NodeKind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<NodeKind, A::Error> {
        let mut entries = Vec::with_capacity(a.size_hint().unwrap_or(0));
        while let Some(key) = a.next_key()? {
            entries.push((key, a.next_value()?));
        }
        Ok(NodeKind::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_point_at_their_line() {
        let text = "name: x\nsteps:\n  - id: a\n     shell: b\n    c: d\n";
        let err = parse(text).unwrap_err();
        assert!(err.span.start > 8, "{err:?}");
        assert_eq!(offset_of("ab\ncd\n", 2, 2), Some(4));
        assert_eq!(offset_of("ab\ncd", 1, 1), Some(0));
    }
}
