//! A JSON value that remembers only what validation needs: scalars, and the
//! *kind* of anything nested. Parsing events into it (instead of
//! `serde_json::Value`) borrows strings from the body and never builds trees,
//! yet a wrong type still gets a precise per-field message.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::skip::Skip;

#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue<'a> {
    Bool(bool),
    Int(i64),
    /// Integers above `i64::MAX`.
    BigUint(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl<'a> JsonValue<'a> {
    /// The value of a parsed tree (PostHog's events are read as one), its
    /// strings borrowed; `None` for `null`.
    pub fn from_json(value: &'a serde_json::Value) -> Option<Self> {
        use serde_json::Value;
        Some(match value {
            Value::Null => return None,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Self::Int(i),
                (None, Some(u)) => Self::BigUint(u),
                _ => Self::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Self::Str(Cow::Borrowed(s)),
            Value::Array(_) => Self::Array,
            Value::Object(_) => Self::Object,
        })
    }

    /// "a string", "a number", ... for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            JsonValue::Bool(_) => "a boolean",
            JsonValue::Int(_) | JsonValue::BigUint(_) => "an integer",
            JsonValue::Float(_) => "a fractional number",
            JsonValue::Str(_) => "a string",
            JsonValue::Array => "an array",
            JsonValue::Object => "an object",
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for JsonValue<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonValueVisitor(std::marker::PhantomData))
    }
}

struct JsonValueVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for JsonValueVisitor<'a> {
    type Value = JsonValue<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(JsonValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(JsonValue::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map_or(JsonValue::BigUint(v), JsonValue::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(JsonValue::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(JsonValue::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(JsonValue::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(JsonValue::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(JsonValue::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(JsonValue::Object)
    }
    // `null` never reaches here: fields are `Option<JsonValue>`, so null is `None`.
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom("null"))
    }
}
