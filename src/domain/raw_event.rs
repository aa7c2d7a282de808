//! An event as sent, parsed in one pass straight from the body: every known
//! field kept as a borrowed [`JsonValue`] (validation decides what is wrong
//! with it), unknown fields skipped, and anything that is not an object, or
//! names a field twice, remembered instead of failing the whole batch.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::skip::Skip;

use super::json_value::JsonValue;

/// The fields of docs/design.md §1, in the order of [`RawEvent::fields`].
pub const FIELD_NAMES: [&str; 10] = [
    "type",
    "user_id",
    "session_id",
    "ts",
    "status",
    "event_id",
    "platform",
    "country",
    "org_id",
    "app_version",
];

#[derive(Debug, Default)]
pub struct RawEvent<'a> {
    /// Values of [`FIELD_NAMES`]; `None` when absent or `null`.
    pub fields: [Option<JsonValue<'a>>; 10],
    /// Fields that appeared more than once (bit i = `FIELD_NAMES[i]`).
    pub repeated: u16,
    /// `Some("an array")` etc. when the event is not a JSON object.
    pub not_an_object: Option<&'static str>,
}

impl<'a> RawEvent<'a> {
    /// Takes the value of field `i` out.
    pub fn take(&mut self, i: usize) -> Option<JsonValue<'a>> {
        self.fields[i].take()
    }

    fn other(kind: &'static str) -> Self {
        Self {
            not_an_object: Some(kind),
            ..Self::default()
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawEvent<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawEventVisitor(std::marker::PhantomData))
    }
}

struct RawEventVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for RawEventVisitor<'a> {
    type Value = RawEvent<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut event = RawEvent::default();
        while let Some(key) = map.next_key::<JsonValue<'a>>()? {
            let JsonValue::Str(key) = key else {
                map.next_value::<Skip>()?;
                continue;
            };
            match FIELD_NAMES.iter().position(|name| *name == key) {
                Some(i) => {
                    let value = map.next_value::<Option<JsonValue<'a>>>()?;
                    if event.fields[i].is_some() {
                        event.repeated |= 1 << i;
                    }
                    event.fields[i] = value;
                }
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(event)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(RawEvent::other("an array"))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(RawEvent::other("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(RawEvent::other("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(RawEvent::other("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(RawEvent::other("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(RawEvent::other("a string"))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(RawEvent::other("null"))
    }
}
