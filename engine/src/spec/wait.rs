//! `wait`: sleeps for a duration (a soak period between canary steps, say), written as is or
//! as a template of one (`wait: "{{ params.soak }}"`) that renders before the run starts.

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer};
use serde::{Serialize, Serializer};

use super::Duration;
use super::{ActionKind, Effect};

/// How long a `wait` step pauses.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitFor {
    Lit(Duration),
    /// A template; the compiler renders it from params, vars and the environment, and refuses
    /// one that reads what only the run knows (the step's timeout follows from the duration).
    Tpl(String),
}

impl WaitFor {
    /// The duration, once known.
    pub fn known(&self) -> Option<Duration> {
        match self {
            WaitFor::Lit(d) => Some(*d),
            WaitFor::Tpl(_) => None,
        }
    }
}

impl fmt::Display for WaitFor {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            WaitFor::Lit(d) => d.fmt(f),
            WaitFor::Tpl(t) => f.write_str(t),
        }
    }
}

impl Serialize for WaitFor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            WaitFor::Lit(d) => d.serialize(s),
            WaitFor::Tpl(t) => s.serialize_str(t),
        }
    }
}

impl<'de> Deserialize<'de> for WaitFor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        match v {
            serde_json::Value::String(s) if s.contains("{{") => Ok(WaitFor::Tpl(s)),
            other => Duration::deserialize(other)
                .map(WaitFor::Lit)
                .map_err(de::Error::custom),
        }
    }
}

impl JsonSchema for WaitFor {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "WaitFor".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let duration = g.subschema_for::<Duration>();
        json_schema!({
            "description": "A duration, or a template of one known before the run (`{{ params.soak }}`)",
            "anyOf": [duration, { "type": "string", "pattern": "\\{\\{" }]
        })
    }
}

impl ActionKind for WaitFor {
    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }
    fn summary(&self) -> String {
        self.to_string()
    }
}
