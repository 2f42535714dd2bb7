//! The error a YAML read ends in, in playbook words, and the did-you-mean that names the
//! nearest key, value or name.

use std::fmt;

use serde::de;

use super::spanned::COLLECTED;
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
    pub(super) fn at(mut self, span: Span) -> Self {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }
    pub(super) fn collected() -> Self {
        DeError {
            message: COLLECTED.to_string(),
            span: None,
            help: None,
        }
    }
    pub(super) fn is_collected(&self) -> bool {
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
pub(super) fn plain_expected(exp: &dyn de::Expected) -> String {
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
pub(super) fn explained_by(e: &DeError, unknown: &[String], fields: &[&str]) -> bool {
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
