//! PostHog events → highwater events. Every PostHog event is a sign of
//! life: a `heartbeat` of user `distinct_id` in session
//! `properties.$session_id` (so a session runs from its first event to its
//! last + the project's timeout `T`; PostHog's own idle timeout is 30
//! minutes). `$os` (or `$lib`) becomes the platform, `$groups.organization`
//! the organisation, `$geoip_country_code` the country, `$app_version` the
//! version, `uuid` the event id.
//!
//! The body is read in one pass into [`PostHogEvent`]s that keep only
//! those fields, borrowed from the body; everything else (a real SDK sends
//! dozens of properties) is skipped without being built, so a parsed batch
//! takes a bounded size per event whatever the body holds.
//!
//! Unlike `/v1/events`, a PostHog batch is taken event by event, as
//! PostHog's capture does (`ingest::partial`): an event without
//! `$session_id`, say, is listed in the answer and the others stored.

use std::borrow::Cow;

use serde::de::{DeserializeSeed, MapAccess};

use crate::api::ingest::partial::{Converted, keep_valid};
use crate::domain::batch::BatchError;
use crate::domain::bounded_seq::Bounded;
use crate::domain::json_value::JsonValue;
use crate::domain::raw_event::RawEvent;
use crate::domain::skip::Skip;
use crate::domain::validate::{AcceptWindow, FieldError};

mod reader;
use reader::{BodySeed, PropertiesSeed, posthog_field};

/// A decoded capture body: its project token and its events.
pub struct Capture<'a> {
    pub token: Option<Cow<'a, str>>,
    events: Vec<PostHogEvent<'a>>,
}

/// The fields of one PostHog event that highwater reads.
#[derive(Debug, Default)]
pub struct PostHogEvent<'a> {
    /// `api_key` or `token` (the first that is a string)...
    token: Option<Cow<'a, str>>,
    /// ...else `properties.token`.
    property_token: Option<Cow<'a, str>>,
    distinct_id: Option<JsonValue<'a>>,
    property_distinct_id: Option<JsonValue<'a>>,
    session_id: Option<JsonValue<'a>>,
    timestamp: Option<JsonValue<'a>>,
    /// `properties.$time`: epoch seconds.
    time: Option<JsonValue<'a>>,
    offset: Option<JsonValue<'a>>,
    uuid: Option<JsonValue<'a>>,
    os: Option<JsonValue<'a>>,
    lib: Option<JsonValue<'a>>,
    country: Option<JsonValue<'a>>,
    organization: Option<JsonValue<'a>>,
    app_version: Option<JsonValue<'a>>,
    /// `Some("an array")` etc. when the event is not a JSON object.
    not_an_object: Option<&'static str>,
}

impl<'a> Capture<'a> {
    /// Reads the envelope: `{"api_key"|"token", "batch": [...]}`, one event
    /// object (with its key), or an array of events (each with
    /// `properties.token`).
    pub fn parse(json: &'a [u8], max_events: usize) -> Result<Self, BatchError> {
        let malformed =
            |e: serde_json::Error| BatchError::Malformed(format!("expected PostHog JSON: {e}"));
        let mut deserializer = serde_json::Deserializer::from_slice(json);
        let body = BodySeed { max_events }
            .deserialize(&mut deserializer)
            .map_err(malformed)?;
        deserializer.end().map_err(malformed)?;
        let (envelope_token, events) = match body.events {
            Bounded::Items(events) => (body.token, events),
            Bounded::TooMany(count) => {
                return Err(BatchError::TooManyEvents {
                    count,
                    limit: max_events,
                });
            }
        };
        if events.is_empty() {
            return Err(BatchError::Empty);
        }
        let token = envelope_token.or_else(|| events.iter().find_map(|e| e.own_token().cloned()));
        Ok(Self { token, events })
    }

    /// The events as highwater events, each validated against `window`;
    /// an event naming another project's token is refused.
    pub fn convert(&self, window: &AcceptWindow) -> Result<Converted<'_>, BatchError> {
        let events = self
            .events
            .iter()
            .enumerate()
            .map(|(index, event)| match event.own_token() {
                Some(other) if Some(other) != self.token.as_ref() => Err(FieldError {
                    index,
                    field: "token".into(),
                    message: "names another project than the batch".into(),
                }),
                _ => event.raw_event(window.now_ms, index),
            });
        keep_valid(events, window, |field| posthog_field(field).to_owned())
    }
}

impl<'a> PostHogEvent<'a> {
    /// The event's own token (`api_key`, `token` or `properties.token`).
    fn own_token(&self) -> Option<&Cow<'a, str>> {
        self.token.as_ref().or(self.property_token.as_ref())
    }

    /// The highwater fields of the event.
    fn raw_event(&self, now_ms: i64, index: usize) -> Result<RawEvent<'a>, FieldError> {
        let mut raw = RawEvent::default();
        if let Some(kind) = self.not_an_object {
            raw.not_an_object = Some(kind);
            return Ok(raw);
        }
        raw.fields = [
            Some(JsonValue::Str(Cow::Borrowed("heartbeat"))),
            id(self
                .distinct_id
                .as_ref()
                .or(self.property_distinct_id.as_ref())),
            id(self.session_id.as_ref()),
            Some(self.when(now_ms, index)?),
            None,
            self.uuid.clone(),
            self.os.clone().or_else(|| self.lib.clone()),
            self.country.clone(),
            self.organization.clone(),
            self.app_version.clone(),
        ];
        Ok(raw)
    }

    /// When the event happened: `timestamp`, else `properties.$time` (epoch
    /// seconds), else `offset` milliseconds before now, else now.
    fn when(&self, now_ms: i64, index: usize) -> Result<JsonValue<'a>, FieldError> {
        if let Some(ts) = &self.timestamp {
            return Ok(ts.clone());
        }
        let seconds = match self.time {
            Some(JsonValue::Float(s)) => Some(s),
            Some(JsonValue::Int(s)) => Some(s as f64),
            Some(JsonValue::BigUint(s)) => Some(s as f64),
            _ => None,
        };
        if let Some(seconds) = seconds {
            return Ok(JsonValue::Int((seconds * 1000.0).round() as i64));
        }
        let offset = match self.offset {
            Some(JsonValue::Int(offset)) => offset,
            _ => 0,
        };
        now_ms
            .checked_sub(offset)
            .map(JsonValue::Int)
            .ok_or_else(|| FieldError {
                index,
                field: "offset".into(),
                message: format!("{offset} ms before now is not a time"),
            })
    }

    /// One field of the event object.
    fn take_field<A: MapAccess<'a>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "api_key" | "token" => {
                let value = map.next_value::<Option<JsonValue<'a>>>()?;
                if self.token.is_none() {
                    self.token = string(value);
                }
            }
            "distinct_id" => self.distinct_id = map.next_value()?,
            "timestamp" => self.timestamp = map.next_value()?,
            "offset" => self.offset = map.next_value()?,
            "uuid" => self.uuid = map.next_value()?,
            "properties" => map.next_value_seed(PropertiesSeed(self))?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

/// An id as PostHog takes it: a string, or a number as its digits.
fn id<'a>(value: Option<&JsonValue<'a>>) -> Option<JsonValue<'a>> {
    Some(match value? {
        JsonValue::Int(n) => JsonValue::Str(Cow::Owned(n.to_string())),
        JsonValue::BigUint(n) => JsonValue::Str(Cow::Owned(n.to_string())),
        JsonValue::Float(n) => JsonValue::Str(Cow::Owned(n.to_string())),
        other => other.clone(),
    })
}

fn string(value: Option<JsonValue<'_>>) -> Option<Cow<'_, str>> {
    match value? {
        JsonValue::Str(s) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::EventType;

    use crate::domain::validate::test_window::{NOW_MS, window};

    #[test]
    fn a_web_batch_becomes_heartbeats_with_its_dimensions() {
        let body = serde_json::json!({
            "api_key": "key-1",
            "batch": [
                {"event": "$pageview", "uuid": "0190-a", "properties": {
                    "distinct_id": "u1", "$session_id": "s1", "$time": 1_585_137_590.25,
                    "$os": "Linux", "$lib": "web", "$groups": {"organization": "acme"},
                    "$geoip_country_code": "de", "$app_version": "2.1"}},
                {"event": "click", "distinct_id": 42, "timestamp": "2020-03-25T11:59:00Z",
                 "properties": {"$session_id": "s2", "$lib": "posthog-python"}},
                {"event": "late", "offset": 1500, "properties": {"distinct_id": "u3", "$session_id": "s3"}},
            ]
        })
        .to_string();
        let capture = Capture::parse(body.as_bytes(), 100).unwrap();
        assert_eq!(capture.token.as_deref(), Some("key-1"));
        let converted = capture.convert(&window()).unwrap();
        assert_eq!(converted.refused.errors_total, 0);
        let [a, b, c] = converted.events.as_slice() else {
            panic!("three events")
        };
        assert!(
            converted
                .events
                .iter()
                .all(|e| e.kind == EventType::Heartbeat)
        );
        assert_eq!((a.user_id.as_ref(), a.session_id.as_ref()), ("u1", "s1"));
        assert_eq!(a.ts_ms, 1_585_137_590_250);
        assert_eq!(
            (
                a.platform.as_ref(),
                a.country.as_ref(),
                a.org_id.as_ref(),
                a.app_version.as_ref()
            ),
            ("Linux", "DE", "acme", "2.1")
        );
        assert_eq!(a.event_id, "0190-a");
        assert_eq!(
            (b.user_id.as_ref(), b.platform.as_ref()),
            ("42", "posthog-python")
        );
        assert_eq!(b.ts_ms, NOW_MS - 60_000);
        assert_eq!(c.ts_ms, NOW_MS - 1500);
    }

    #[test]
    fn events_without_a_session_are_refused_one_by_one() {
        let body = serde_json::json!([
            {"event": "a", "properties": {"token": "k", "distinct_id": "u1", "$session_id": "s1"}},
            {"event": "b", "properties": {"token": "k", "distinct_id": "u1"}},
            {"event": "c", "properties": {"token": "other", "distinct_id": "u1", "$session_id": "s1"}},
            "not an event",
        ])
        .to_string();
        let capture = Capture::parse(body.as_bytes(), 100).unwrap();
        assert_eq!(capture.token.as_deref(), Some("k"));
        let converted = capture.convert(&window()).unwrap();
        assert_eq!(converted.events.len(), 1);
        let fields: Vec<(usize, &str)> = converted
            .refused
            .errors
            .iter()
            .map(|e| (e.index, e.field.as_str()))
            .collect();
        assert_eq!(
            fields,
            [(1, "properties.$session_id"), (2, "token"), (3, "event")]
        );
    }

    #[test]
    fn a_batch_without_a_valid_event_is_refused_whole() {
        let body =
            br#"{"api_key": "k", "batch": [{"event": "a", "properties": {"$session_id": "s"}}]}"#;
        let capture = Capture::parse(body, 100).unwrap();
        match capture.convert(&window()) {
            Err(BatchError::Invalid { errors, total: 1 }) => {
                assert_eq!(errors[0].field, "distinct_id")
            }
            other => panic!("{:?}", other.map(|c| c.events.len())),
        }
        assert_eq!(
            Capture::parse(br#"{"api_key":"k","batch":[]}"#, 100).err(),
            Some(BatchError::Empty)
        );
        assert!(matches!(
            Capture::parse(br#"[{}, {}, {}]"#, 2).err(),
            Some(BatchError::TooManyEvents { count: 3, limit: 2 })
        ));
        assert!(matches!(
            Capture::parse(b"nope", 2).err(),
            Some(BatchError::Malformed(_))
        ));
    }
}
