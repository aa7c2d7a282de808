//! OpenTelemetry log records → highwater events. A record counts when it
//! carries `session.id` (OpenTelemetry's session conventions): event
//! `session.start` → `session_start`, `session.end` → `session_end`, any
//! other record → `heartbeat`. The user is the project's
//! `otel_user_attribute` (`user.id`). Each attribute is looked up on the
//! record, then its scope, then its resource (browser and mobile SDKs set
//! `session.id` and `user.id` once, on the resource). Besides:
//! `os.type` (else `os.name`) → platform, `geo.country.iso_code` → country,
//! `organization.id` → org_id, `service.version` → app_version,
//! `log.record.uid` → event_id. The time is the record's `timeUnixNano`,
//! else its `observedTimeUnixNano`, else now.
//!
//! Records are taken one by one (`ingest::partial`): one without
//! `session.id` — an ordinary log line a collector forwards — is counted
//! as rejected (OTLP's partial success), the others stored.

use std::borrow::Cow;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;

use crate::api::ingest::partial::{Converted, keep_valid};
use crate::domain::batch::BatchError;
use crate::domain::json_value::JsonValue;
use crate::domain::raw_event::RawEvent;
use crate::domain::validate::AcceptWindow;

/// The attribute naming a record's session.
const SESSION: &str = "session.id";

/// The records of `request` as highwater events of a project whose users
/// are named by `user_attribute`, each validated against `window`.
pub fn convert<'a>(
    request: &'a ExportLogsServiceRequest,
    user_attribute: &str,
    window: &AcceptWindow,
    max_events: usize,
) -> Result<Converted<'a>, BatchError> {
    let records: Vec<Layers<'a>> = request
        .resource_logs
        .iter()
        .flat_map(|resource| {
            let resource_attributes = resource
                .resource
                .as_ref()
                .map_or(&[][..], |r| &r.attributes[..]);
            resource.scope_logs.iter().flat_map(move |scope| {
                let scope_attributes = scope.scope.as_ref().map_or(&[][..], |s| &s.attributes[..]);
                scope.log_records.iter().map(move |record| Layers {
                    record,
                    attributes: [
                        &record.attributes[..],
                        scope_attributes,
                        resource_attributes,
                    ],
                })
            })
        })
        .collect();
    if records.is_empty() {
        return Err(BatchError::Empty);
    }
    if records.len() > max_events {
        return Err(BatchError::TooManyEvents {
            count: records.len(),
            limit: max_events,
        });
    }
    let raws = records
        .iter()
        .map(|layers| Ok(layers.raw_event(user_attribute, window.now_ms)));
    keep_valid(raws, window, |field| otel_field(field, user_attribute))
}

/// A record with the attributes it sees: its own, its scope's, its
/// resource's (the first that has a key wins).
struct Layers<'a> {
    record: &'a LogRecord,
    attributes: [&'a [KeyValue]; 3],
}

impl<'a> Layers<'a> {
    fn attribute(&self, key: &str) -> Option<&'a AnyValue> {
        self.attributes
            .iter()
            .find_map(|layer| layer.iter().find(|kv| kv.key == key))
            .and_then(|kv| kv.value.as_ref())
    }

    fn field(&self, key: &str) -> Option<JsonValue<'a>> {
        self.attribute(key).and_then(json_value)
    }

    fn raw_event(&self, user_attribute: &str, now_ms: i64) -> RawEvent<'a> {
        let record = self.record;
        let name = if record.event_name.is_empty() {
            self.attribute("event.name").and_then(|v| match &v.value {
                Some(Any::StringValue(s)) => Some(s.as_str()),
                _ => None,
            })
        } else {
            Some(record.event_name.as_str())
        };
        let kind = match name {
            Some("session.start") => "session_start",
            Some("session.end") => "session_end",
            _ => "heartbeat",
        };
        let nanos = [record.time_unix_nano, record.observed_time_unix_nano]
            .into_iter()
            .find(|t| *t != 0);
        let ts = nanos.map_or(JsonValue::Int(now_ms), |n| {
            JsonValue::Int((n / 1_000_000) as i64)
        });
        let fields = [
            Some(JsonValue::Str(Cow::Borrowed(kind))),
            self.field(user_attribute),
            self.field(SESSION),
            Some(ts),
            None,
            self.field("log.record.uid"),
            self.field("os.type").or_else(|| self.field("os.name")),
            self.field("geo.country.iso_code"),
            self.field("organization.id"),
            self.field("service.version"),
        ];
        RawEvent {
            fields,
            ..RawEvent::default()
        }
    }
}

/// An attribute's value as the validation reads a JSON field: strings as
/// strings (an id may also be an integer), anything else as its kind, so
/// that the error names it.
fn json_value(value: &AnyValue) -> Option<JsonValue<'_>> {
    Some(match value.value.as_ref()? {
        Any::StringValue(s) => JsonValue::Str(Cow::Borrowed(s)),
        Any::IntValue(i) => JsonValue::Str(Cow::Owned(i.to_string())),
        Any::BoolValue(b) => JsonValue::Bool(*b),
        Any::DoubleValue(d) => JsonValue::Float(*d),
        Any::ArrayValue(_) => JsonValue::Array,
        Any::KvlistValue(_) | Any::BytesValue(_) | Any::StringValueStrindex(_) => JsonValue::Object,
    })
}

/// A highwater field's name as the OpenTelemetry sender knows it.
fn otel_field(field: &str, user_attribute: &str) -> String {
    match field {
        "user_id" => user_attribute,
        "session_id" => SESSION,
        "ts" => "timeUnixNano",
        "event_id" => "log.record.uid",
        "platform" => "os.type",
        "country" => "geo.country.iso_code",
        "org_id" => "organization.id",
        "app_version" => "service.version",
        other => other,
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::EventType;
    use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;

    use crate::domain::validate::test_window::{NOW_MS, window};

    fn kv(key: &str, value: Any) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn text(key: &str, value: &str) -> KeyValue {
        kv(key, Any::StringValue(value.into()))
    }

    fn request(resource: Vec<KeyValue>, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn session_events_and_other_records_become_highwater_events() {
        let at = |s: i64| ((NOW_MS - s * 1000) as u64) * 1_000_000;
        let records = vec![
            LogRecord {
                event_name: "session.start".into(),
                time_unix_nano: at(60),
                attributes: vec![text("session.id", "s1"), text("log.record.uid", "r1")],
                ..Default::default()
            },
            LogRecord {
                observed_time_unix_nano: at(30),
                attributes: vec![text("session.id", "s1"), kv("user.id", Any::IntValue(7))],
                ..Default::default()
            },
            LogRecord {
                time_unix_nano: at(10),
                attributes: vec![text("event.name", "session.end"), text("session.id", "s1")],
                ..Default::default()
            },
        ];
        let resource = vec![
            text("user.id", "u1"),
            text("os.type", "linux"),
            text("service.version", "1.2"),
            text("geo.country.iso_code", "se"),
        ];
        let request = request(resource, records);
        let converted = convert(&request, "user.id", &window(), 100).unwrap();
        assert_eq!(converted.refused.errors_total, 0);
        let kinds: Vec<EventType> = converted.events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventType::SessionStart,
                EventType::Heartbeat,
                EventType::SessionEnd
            ]
        );
        let [start, beat, end] = converted.events.as_slice() else {
            panic!("three events")
        };
        assert_eq!(
            (start.user_id.as_ref(), start.session_id.as_ref()),
            ("u1", "s1")
        );
        assert_eq!(start.ts_ms, NOW_MS - 60_000);
        assert_eq!(start.event_id, "r1");
        assert_eq!(
            (
                start.platform.as_ref(),
                start.country.as_ref(),
                start.app_version.as_ref()
            ),
            ("linux", "SE", "1.2")
        );
        // The record's own user.id wins over the resource's.
        assert_eq!(beat.user_id.as_ref(), "7");
        assert_eq!(beat.ts_ms, NOW_MS - 30_000);
        assert_eq!(end.ts_ms, NOW_MS - 10_000);
    }

    #[test]
    fn records_without_a_session_are_rejected_one_by_one() {
        let records = vec![
            LogRecord {
                attributes: vec![text("session.id", "s1")],
                ..Default::default()
            },
            LogRecord::default(),
            LogRecord {
                attributes: vec![
                    text("session.id", "s1"),
                    kv("account", Any::BoolValue(true)),
                ],
                ..Default::default()
            },
        ];
        let request = request(vec![text("account", "a1")], records);
        let converted = convert(&request, "account", &window(), 100).unwrap();
        assert_eq!(converted.events.len(), 1);
        assert_eq!(converted.events[0].ts_ms, NOW_MS);
        let fields: Vec<(usize, &str)> = converted
            .refused
            .errors
            .iter()
            .map(|e| (e.index, e.field.as_str()))
            .collect();
        assert_eq!(fields, [(1, "session.id"), (2, "account")]);
        assert_eq!(converted.refused.events, 2);

        let nothing_valid = self::request(vec![], vec![LogRecord::default()]);
        assert!(matches!(
            convert(&nothing_valid, "user.id", &window(), 100),
            Err(BatchError::Invalid { total: 2, .. })
        ));
        assert!(matches!(
            convert(&self::request(vec![], vec![]), "user.id", &window(), 100),
            Err(BatchError::Empty)
        ));
        let three = self::request(vec![], vec![LogRecord::default(); 3]);
        assert!(matches!(
            convert(&three, "user.id", &window(), 2),
            Err(BatchError::TooManyEvents { count: 3, limit: 2 })
        ));
    }
}
