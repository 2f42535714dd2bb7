//! Small value types shared by action specs: string-or-struct forms and templated numbers.

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// An integer that may also be written as a template (`replicas: "{{ params.replicas }}"`);
/// a template is checked once it renders.
#[derive(Debug, Clone, PartialEq)]
pub enum Num {
    Lit(i64),
    Tpl(String),
}

impl Num {
    /// The integer, once any template has rendered.
    pub fn get(&self) -> Result<i64, String> {
        match self {
            Num::Lit(n) => Ok(*n),
            Num::Tpl(s) => s.trim().parse().map_err(|_| format!("expected an integer, got `{s}`")),
        }
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Num::Lit(n) => write!(f, "{n}"),
            Num::Tpl(s) => f.write_str(s),
        }
    }
}

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Num::Lit(n) => s.serialize_i64(*n),
            Num::Tpl(t) => s.serialize_str(t),
        }
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or a template")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Num, E> {
                Ok(Num::Lit(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                i64::try_from(v)
                    .map(Num::Lit)
                    .map_err(|_| E::custom("integer too large"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                match v.trim().parse() {
                    Ok(n) => Ok(Num::Lit(n)),
                    Err(_) if v.contains("{{") || LENIENT.get() => Ok(Num::Tpl(v.to_string())),
                    Err(_) => Err(E::custom(format!("expected an integer, found `{v}`"))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Num {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "IntegerOrTemplate".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "anyOf": [ { "type": "integer" }, { "type": "string", "pattern": "\\{\\{" } ] })
    }
}

thread_local! {
    static LENIENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with integer fields accepting any text. Plans show run-time values as
/// `<steps.x.n>` placeholders, which are not integers, in the rendering meant for people.
pub fn with_lenient_numbers<R>(f: impl FnOnce() -> R) -> R {
    LENIENT.set(true);
    let r = f();
    LENIENT.set(false);
    r
}

/// A spec that may also be written in a short form: a single string (`shell: echo hi`,
/// `manual: "Check the dashboard"`) that fills its main field.
pub trait ShortForm: Sized {
    /// What the short form is, for error messages.
    const SHORT: &'static str;
    fn from_short(s: String) -> Self;
    /// A list short form (`exec: [kubectl, get, pods]`), for the specs that have one.
    fn from_list(_items: Vec<String>) -> Option<Self> {
        None
    }
}

/// Reads `T` from its full mapping or from its short form.
#[derive(Debug, Clone, PartialEq)]
pub struct Form<T>(pub T);

impl<T> std::ops::Deref for Form<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Serialize> Serialize for Form<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: ShortForm + Deserialize<'de>> Deserialize<'de> for Form<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: ShortForm + Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Form<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "{} or a mapping", T::SHORT)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Form<T>, E> {
                Ok(Form(T::from_short(v.to_string())))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut s: A) -> Result<Form<T>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = s.next_element::<String>()? {
                    items.push(item);
                }
                T::from_list(items)
                    .map(Form)
                    .ok_or_else(|| de::Error::custom(format!("expected {} or a mapping, found a list", T::SHORT)))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, m: A) -> Result<Form<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(m)).map(Form)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<T: JsonSchema + ShortForm> JsonSchema for Form<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("{}OrShort", T::schema_name()).into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let full = g.subschema_for::<T>();
        json_schema!({ "anyOf": [ { "type": "string", "description": T::SHORT }, full ] })
    }
}
