//! `Sp<T>`: a value with its source span; `Collect<T>`: a value whose errors are collected
//! instead of ending the whole deserialization.

use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde::{Serialize, Serializer};

use crate::source::Span;

pub(crate) const SPANNED: &str = "$runbook::spanned";
pub(crate) const COLLECT: &str = "$runbook::collect";
/// The error a collecting wrapper returns after it has stored the real one.
pub(crate) const COLLECTED: &str = "$runbook::collected";

/// A value and the span of the YAML node it was read from.
#[derive(Debug, Clone)]
pub struct Sp<T> {
    pub span: Span,
    pub value: T,
}

impl<T> Sp<T> {
    pub fn new(span: Span, value: T) -> Self {
        Sp { span, value }
    }
}

impl<T> std::ops::Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

// Spans are where a value was written, not what it is: equality and hashing ignore them, so
// a comment or whitespace edit never changes a compiled value.
impl<T: PartialEq> PartialEq for Sp<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Serialize> Serialize for Sp<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

/// The schema of a wrapper is its value's: spans and collected errors are not written.
macro_rules! schema_of_value {
    ($wrapper:ident) => {
        impl<T: JsonSchema> JsonSchema for $wrapper<T> {
            fn inline_schema() -> bool {
                T::inline_schema()
            }
            fn schema_name() -> std::borrow::Cow<'static, str> {
                T::schema_name()
            }
            fn schema_id() -> std::borrow::Cow<'static, str> {
                T::schema_id()
            }
            fn json_schema(g: &mut SchemaGenerator) -> Schema {
                T::json_schema(g)
            }
        }
    };
}

schema_of_value!(Sp);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(SPANNED, SpVisitor(PhantomData))
    }
}

struct SpVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for SpVisitor<T> {
    type Value = Sp<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }
    // Our deserializer answers with a (start, end, value) tuple.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_tuple(3, self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        let start: usize = a.next_element()?.ok_or_else(|| de::Error::custom("span start"))?;
        let end: usize = a.next_element()?.ok_or_else(|| de::Error::custom("span end"))?;
        let value = a
            .next_element_seed(PhantomData::<T>)?
            .ok_or_else(|| de::Error::custom("span value"))?;
        Ok(Sp {
            span: Span::new(start, end),
            value,
        })
    }
}

/// Reads a `T`; when that fails, the error is stored by the deserializer and this holds
/// `None`, so the caller goes on and reports every bad item of a file together.
#[derive(Debug, Clone)]
pub struct Collect<T>(pub Option<T>);

schema_of_value!(Collect);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Collect<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(COLLECT, CollectVisitor(PhantomData))
    }
}

struct CollectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for CollectVisitor<T> {
    type Value = Collect<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        match PhantomData::<T>.deserialize(d) {
            Ok(v) => Ok(Collect(Some(v))),
            // Only our deserializer produces this marker, after storing the real error.
            Err(e) if e.to_string() == COLLECTED => Ok(Collect(None)),
            Err(e) => Err(e),
        }
    }
}
