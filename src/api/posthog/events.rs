//! PostHog events → highwater events. Every PostHog event is a sign of
//! life: a `heartbeat` of user `distinct_id` in session
//! `properties.$session_id` (so a session runs from its first event to its
//! last + the project's timeout `T`; PostHog's own idle timeout is 30
//! minutes). `$os` (or `$lib`) becomes the platform, `$groups.organization`
//! the organisation, `$geoip_country_code` the country, `$app_version` the
//! version, `uuid` the event id.
//!
//! Unlike `/v1/events`, a PostHog batch is taken event by event, as
//! PostHog's capture does (`ingest::partial`): an event without
//! `$session_id`, say, is listed in the answer and the others stored.

use std::borrow::Cow;

use serde_json::Value;

use crate::api::ingest::partial::{Converted, keep_valid};
use crate::domain::batch::BatchError;
use crate::domain::json_value::JsonValue;
use crate::domain::raw_event::RawEvent;
use crate::domain::validate::{AcceptWindow, FieldError};

/// A decoded capture body: its project token and its events.
pub struct Capture {
    pub token: Option<String>,
    events: Vec<Value>,
}

impl Capture {
    /// Reads the envelope: `{"api_key"|"token", "batch": [...]}`, one event
    /// object (with its key), or an array of events (each with
    /// `properties.token`).
    pub fn parse(json: &[u8], max_events: usize) -> Result<Self, BatchError> {
        let value: Value = serde_json::from_slice(json)
            .map_err(|e| BatchError::Malformed(format!("expected PostHog JSON: {e}")))?;
        let (envelope_token, events) = match value {
            Value::Array(events) => (None, events),
            Value::Object(mut envelope) => {
                let token = ["api_key", "token"]
                    .iter()
                    .find_map(|k| envelope.get(*k).and_then(Value::as_str).map(str::to_owned));
                match envelope.remove("batch").or_else(|| envelope.remove("data")) {
                    Some(Value::Array(events)) => (token, events),
                    Some(_) => {
                        return Err(BatchError::Malformed("`batch` must be an array".into()));
                    }
                    None => (token, vec![Value::Object(envelope)]),
                }
            }
            _ => {
                return Err(BatchError::Malformed(
                    "expected a JSON object or array of events".into(),
                ));
            }
        };
        if events.is_empty() {
            return Err(BatchError::Empty);
        }
        if events.len() > max_events {
            return Err(BatchError::TooManyEvents {
                count: events.len(),
                limit: max_events,
            });
        }
        let token = envelope_token.or_else(|| events.iter().find_map(event_token));
        Ok(Self { token, events })
    }

    /// The events as highwater events, each validated against `window`;
    /// an event naming another project's token is refused.
    pub fn convert(&self, window: &AcceptWindow) -> Result<Converted<'_>, BatchError> {
        let events =
            self.events
                .iter()
                .enumerate()
                .map(|(index, event)| match event_token(event) {
                    Some(other) if Some(&other) != self.token.as_ref() => Err(FieldError {
                        index,
                        field: "token".into(),
                        message: "names another project than the batch".into(),
                    }),
                    _ => Ok(raw_event(event, window)),
                });
        keep_valid(events, window, |field| posthog_field(field).to_owned())
    }
}

/// An event's own token (`api_key`, `token` or `properties.token`).
fn event_token(event: &Value) -> Option<String> {
    ["api_key", "token"]
        .iter()
        .find_map(|k| event.get(*k))
        .or_else(|| event.get("properties")?.get("token"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The highwater fields of one PostHog event.
fn raw_event<'a>(event: &'a Value, window: &AcceptWindow) -> RawEvent<'a> {
    let mut raw = RawEvent::default();
    let Value::Object(_) = event else {
        raw.not_an_object = Some(JsonValue::from_json(event).map_or("null", |v| v.kind()));
        return raw;
    };
    let properties = event.get("properties");
    let property = |name: &str| properties.and_then(|p| p.get(name));
    let id = |value: Option<&'a Value>| match value {
        // PostHog takes numeric ids too.
        Some(Value::Number(n)) => Some(JsonValue::Str(Cow::Owned(n.to_string()))),
        other => other.and_then(JsonValue::from_json),
    };
    raw.fields = [
        Some(JsonValue::Str(Cow::Borrowed("heartbeat"))),
        id(event.get("distinct_id").or_else(|| property("distinct_id"))),
        id(property("$session_id")),
        Some(timestamp(event, window.now_ms)),
        None,
        event.get("uuid").and_then(JsonValue::from_json),
        property("$os")
            .or_else(|| property("$lib"))
            .and_then(JsonValue::from_json),
        property("$geoip_country_code").and_then(JsonValue::from_json),
        property("$groups")
            .and_then(|groups| groups.get("organization"))
            .and_then(JsonValue::from_json),
        property("$app_version").and_then(JsonValue::from_json),
    ];
    raw
}

/// When the event happened: `timestamp`, else `properties.$time` (epoch
/// seconds), else `offset` milliseconds before now, else now.
fn timestamp<'a>(event: &'a Value, now_ms: i64) -> JsonValue<'a> {
    if let Some(ts) = event.get("timestamp").and_then(JsonValue::from_json) {
        return ts;
    }
    let time = event
        .get("properties")
        .and_then(|p| p.get("$time"))
        .and_then(Value::as_f64);
    if let Some(seconds) = time {
        return JsonValue::Int((seconds * 1000.0).round() as i64);
    }
    let offset = event.get("offset").and_then(Value::as_i64).unwrap_or(0);
    JsonValue::Int(now_ms - offset)
}

/// A highwater field's name as the PostHog sender knows it.
fn posthog_field(field: &str) -> &str {
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
