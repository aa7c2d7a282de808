//! The one pass over a capture body: serde visitors that keep, of each
//! event, only the fields [`PostHogEvent`] holds (borrowed from the body
//! where they have no escapes) and skip the rest without building it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{PostHogEvent, string};
use crate::domain::bounded_seq::{Bounded, BoundedSeq};
use crate::domain::json_value::JsonValue;
use crate::domain::skip::Skip;

/// The next key of a JSON object, borrowed unless it has escapes.
fn next_key<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Cow<'de, str>>, A::Error> {
    Ok(match map.next_key::<JsonValue<'de>>()? {
        Some(JsonValue::Str(key)) => Some(key),
        Some(_) => Some(Cow::Borrowed("")),
        None => None,
    })
}

/// The whole body: an array of events, or an object (an envelope, or one
/// event).
pub(super) struct BodySeed {
    pub(super) max_events: usize,
}

pub(super) struct Body<'a> {
    pub(super) token: Option<Cow<'a, str>>,
    pub(super) events: Bounded<PostHogEvent<'a>>,
}

impl<'de> DeserializeSeed<'de> for BodySeed {
    type Value = Body<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BodySeed {
    type Value = Body<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object or array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let events = BoundedSeq::new(self.max_events, "an array of events").visit_seq(seq)?;
        Ok(Body {
            token: None,
            events,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Envelope keys and, for a body that is one event, its fields.
        let mut token = None;
        let mut batch = None;
        let mut event = PostHogEvent::default();
        while let Some(key) = next_key(&mut map)? {
            match key.as_ref() {
                "batch" | "data" => {
                    let events = map.next_value_seed(BoundedSeq::new(
                        self.max_events,
                        "`batch` to be an array of events",
                    ))?;
                    if key == "batch" || batch.is_none() {
                        batch = Some(events);
                    }
                }
                "api_key" | "token" => {
                    let value = map.next_value::<Option<JsonValue<'de>>>()?;
                    if token.is_none() {
                        token = string(value);
                        event.token.clone_from(&token);
                    }
                }
                other => event.take_field(other, &mut map)?,
            }
        }
        let events = batch.unwrap_or_else(|| Bounded::Items(vec![event]));
        Ok(Body { token, events })
    }
}

impl<'de> serde::Deserialize<'de> for PostHogEvent<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EventVisitor)
    }
}

struct EventVisitor;

/// What is not an object is an event of that kind (refused, by index).
macro_rules! not_an_object {
    ($($method:ident($($arg:ty)?) => $kind:literal),* $(,)?) => {$(
        fn $method<E>(self, $(_: $arg)?) -> Result<Self::Value, E> {
            Ok(PostHogEvent { not_an_object: Some($kind), ..PostHogEvent::default() })
        }
    )*};
}

impl<'de> Visitor<'de> for EventVisitor {
    type Value = PostHogEvent<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut event = PostHogEvent::default();
        while let Some(key) = next_key(&mut map)? {
            event.take_field(&key, &mut map)?;
        }
        Ok(event)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(PostHogEvent {
            not_an_object: Some("an array"),
            ..PostHogEvent::default()
        })
    }

    not_an_object! {
        visit_bool(bool) => "a boolean",
        visit_i64(i64) => "an integer",
        visit_u64(u64) => "an integer",
        visit_f64(f64) => "a fractional number",
        visit_str(&str) => "a string",
        visit_unit() => "null",
    }
}

/// `properties`: its fields go into the event; anything but an object is
/// ignored.
pub(super) struct PropertiesSeed<'e, 'a>(pub(super) &'e mut PostHogEvent<'a>);

impl<'de> DeserializeSeed<'de> for PropertiesSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Skips a value that is not the object expected.
macro_rules! ignore_others {
    ($($method:ident($($arg:ty)?)),* $(,)?) => {$(
        fn $method<E>(self, $(_: $arg)?) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    )*};
}

impl<'de> Visitor<'de> for PropertiesSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("properties")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let event = self.0;
        while let Some(key) = next_key(&mut map)? {
            let slot = match key.as_ref() {
                "token" => {
                    let value = map.next_value::<Option<JsonValue<'de>>>()?;
                    event.property_token = string(value);
                    continue;
                }
                "$groups" => {
                    event.organization = map.next_value_seed(OrganizationSeed)?;
                    continue;
                }
                "distinct_id" => &mut event.property_distinct_id,
                "$session_id" => &mut event.session_id,
                "$time" => &mut event.time,
                "$os" => &mut event.os,
                "$lib" => &mut event.lib,
                "$geoip_country_code" => &mut event.country,
                "$app_version" => &mut event.app_version,
                _ => {
                    map.next_value::<Skip>()?;
                    continue;
                }
            };
            *slot = map.next_value()?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(())
    }

    ignore_others!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_f64(f64),
        visit_str(&str),
        visit_unit()
    );
}

/// `$groups.organization`, if `$groups` is an object that has it.
struct OrganizationSeed;

impl<'de> DeserializeSeed<'de> for OrganizationSeed {
    type Value = Option<JsonValue<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for OrganizationSeed {
    type Value = Option<JsonValue<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("$groups")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut organization = None;
        while let Some(key) = next_key(&mut map)? {
            if key == "organization" {
                organization = map.next_value()?;
            } else {
                map.next_value::<Skip>()?;
            }
        }
        Ok(organization)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(None)
    }

    ignore_others!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_f64(f64),
        visit_str(&str),
        visit_unit()
    );
}

/// A highwater field's name as the PostHog sender knows it.
pub(super) fn posthog_field(field: &str) -> &str {
    match field {
        "user_id" => "distinct_id",
        "session_id" => "properties.$session_id",
        "ts" => "timestamp",
        "event_id" => "uuid",
        "platform" => "properties.$os",
        "country" => "properties.$geoip_country_code",
        "org_id" => "properties.$groups.organization",
        "app_version" => "properties.$app_version",
        other => other,
    }
}
