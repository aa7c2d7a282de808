//! A request body → the events of one batch, all valid, or the reasons why
//! not. A batch is all or nothing (docs/design.md §1).

use serde::de::DeserializeSeed;

use super::bounded_seq::{Bounded, BoundedSeq};
use super::event::Event;
use super::raw_event::RawEvent;
use super::validate::{AcceptWindow, FieldError, validate_event};

/// At most this many problems are reported for one batch.
pub const MAX_REPORTED_ERRORS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `[{...}, {...}]`
    JsonArray,
    /// One object per line.
    Ndjson,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BatchError {
    #[error("malformed body: {0}")]
    Malformed(String),
    #[error("the batch holds no events")]
    Empty,
    #[error("the batch holds {count} events; at most {limit} allowed")]
    TooManyEvents { count: usize, limit: usize },
    #[error("{total} problems in the batch; nothing was stored")]
    Invalid {
        /// The first [`MAX_REPORTED_ERRORS`] problems.
        errors: Vec<FieldError>,
        total: usize,
    },
}

/// Parses and validates a whole batch; the events borrow from `body`.
pub fn parse_batch<'a>(
    body: &'a [u8],
    format: BodyFormat,
    window: &AcceptWindow,
    max_events: usize,
) -> Result<Vec<Event<'a>>, BatchError> {
    let items = parse_items(body, format, max_events)?;
    if items.is_empty() {
        return Err(BatchError::Empty);
    }
    let mut events = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    let mut total = 0;
    for (index, item) in items.into_iter().enumerate() {
        let before = errors.len();
        match item {
            Ok(raw) => {
                if let Some(event) = validate_event(raw, index, window, &mut errors) {
                    events.push(event);
                }
            }
            Err(message) => errors.push(FieldError {
                index,
                field: "event".into(),
                message,
            }),
        }
        total += errors.len() - before;
        errors.truncate(MAX_REPORTED_ERRORS);
    }
    if total > 0 {
        return Err(BatchError::Invalid { errors, total });
    }
    Ok(events)
}

/// One pass over the body. A JSON array that does not parse is refused
/// whole; in NDJSON a line that does not parse is that event's problem.
/// More than `max_events` events are counted, never held: a body of tiny
/// elements must not cost memory in proportion to its element count.
type Item<'a> = Result<RawEvent<'a>, String>;

fn parse_items(
    body: &[u8],
    format: BodyFormat,
    max_events: usize,
) -> Result<Vec<Item<'_>>, BatchError> {
    let too_many = |count| BatchError::TooManyEvents {
        count,
        limit: max_events,
    };
    match format {
        BodyFormat::JsonArray => {
            let malformed = |e: serde_json::Error| {
                BatchError::Malformed(format!("expected a JSON array of event objects: {e}"))
            };
            let mut deserializer = serde_json::Deserializer::from_slice(body);
            let bounded = BoundedSeq::<RawEvent>::new(max_events, "a JSON array")
                .deserialize(&mut deserializer)
                .map_err(malformed)?;
            deserializer.end().map_err(malformed)?;
            match bounded {
                Bounded::Items(events) => Ok(events.into_iter().map(Ok).collect()),
                Bounded::TooMany(count) => Err(too_many(count)),
            }
        }
        BodyFormat::Ndjson => {
            let lines = || {
                body.split(|&b| b == b'\n')
                    .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            };
            let count = lines().count();
            if count > max_events {
                return Err(too_many(count));
            }
            Ok(lines()
                .map(|line| serde_json::from_slice(line).map_err(|e| format!("invalid JSON: {e}")))
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{EventType, PresenceStatus};

    use crate::domain::validate::test_window::{NOW_MS, window};

    fn parse(body: &str, format: BodyFormat) -> Result<Vec<Event<'_>>, BatchError> {
        parse_batch(body.as_bytes(), format, &window(), 1000)
    }

    fn only_error(body: &str) -> FieldError {
        match parse(body, BodyFormat::JsonArray) {
            Err(BatchError::Invalid { errors, total }) => {
                assert_eq!(total, 1, "{errors:?}");
                errors.into_iter().next().unwrap()
            }
            other => panic!("expected one invalid field, got {other:?}"),
        }
    }

    #[test]
    fn a_full_event_parses_field_for_field() {
        let body = r#"[{"type":"presence","user_id":"U1","session_id":"S1",
            "ts":"2020-03-25T11:59:00.250Z","status":"away","event_id":"e-1",
            "platform":"ios","country":"de","org_id":"T42","app_version":"4.2","extra":[1]}]"#;
        let events = parse(body, BodyFormat::JsonArray).unwrap();
        assert_eq!(
            events,
            vec![Event {
                kind: EventType::Presence,
                user_id: "U1".into(),
                session_id: "S1".into(),
                ts_ms: NOW_MS - 59_750,
                status: PresenceStatus::Away,
                event_id: "e-1".into(),
                platform: "ios".into(),
                country: "DE".into(),
                org_id: "T42".into(),
                app_version: "4.2".into(),
            }]
        );
    }

    #[test]
    fn epoch_milliseconds_and_ndjson_are_accepted() {
        let body = format!(
            "{{\"type\":\"heartbeat\",\"user_id\":\"U\",\"session_id\":\"S\",\"ts\":{NOW_MS}}}\n\n\
             {{\"type\":\"session_end\",\"user_id\":\"U\",\"session_id\":\"S\",\"ts\":{}}}\n",
            NOW_MS + 1
        );
        let events = parse(&body, BodyFormat::Ndjson).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].ts_ms, NOW_MS + 1);
        assert_eq!(events[0].status, PresenceStatus::Unset);
    }

    #[test]
    fn each_bad_field_is_named_with_its_index() {
        let cases = [
            (
                r#"{"type":"login","user_id":"U","session_id":"S","ts":1585137600000}"#,
                "type",
            ),
            (
                r#"{"type":"heartbeat","session_id":"S","ts":1585137600000}"#,
                "user_id",
            ),
            (
                r#"{"type":"heartbeat","user_id":"","session_id":"S","ts":1585137600000}"#,
                "user_id",
            ),
            (
                r#"{"type":"heartbeat","user_id":7,"session_id":"S","ts":1585137600000}"#,
                "user_id",
            ),
            (
                r#"{"type":"heartbeat","user_id":"U","session_id":"S","ts":"yesterday"}"#,
                "ts",
            ),
            (
                r#"{"type":"heartbeat","user_id":"U","session_id":"S","ts":1.5}"#,
                "ts",
            ),
            (
                r#"{"type":"heartbeat","user_id":"U","session_id":"S","ts":-1}"#,
                "ts",
            ),
            (
                r#"{"type":"heartbeat","user_id":"U","session_id":"S","ts":1585137900001}"#,
                "ts",
            ),
            (
                r#"{"type":"heartbeat","user_id":"U","session_id":"S","ts":1582545599999}"#,
                "ts",
            ),
            (
                r#"{"type":"presence","user_id":"U","session_id":"S","ts":1585137600000}"#,
                "status",
            ),
            (
                r#"{"type":"presence","status":"busy","user_id":"U","session_id":"S","ts":1585137600000}"#,
                "status",
            ),
            (
                r#"{"type":"heartbeat","country":"USA","user_id":"U","session_id":"S","ts":1585137600000}"#,
                "country",
            ),
            (
                r#"{"type":"heartbeat","user_id":"U\u0000","session_id":"S","ts":1585137600000}"#,
                "user_id",
            ),
            (r#"5"#, "event"),
            (
                r#"{"type":"heartbeat","type":"heartbeat","user_id":"U","session_id":"S","ts":1585137600000}"#,
                "type",
            ),
        ];
        for (event, field) in cases {
            let body = format!(
                r#"[{{"type":"heartbeat","user_id":"U","session_id":"S","ts":{NOW_MS}}},{event}]"#
            );
            let error = only_error(&body);
            assert_eq!(
                (error.index, error.field.as_str()),
                (1, field),
                "{event}: {error:?}"
            );
        }
    }

    #[test]
    fn oversize_ids_are_rejected_at_the_byte_limit() {
        let ok = "u".repeat(256);
        let body =
            format!(r#"[{{"type":"heartbeat","user_id":"{ok}","session_id":"S","ts":{NOW_MS}}}]"#);
        assert!(parse(&body, BodyFormat::JsonArray).is_ok());
        let long = "u".repeat(257);
        let body = format!(
            r#"[{{"type":"heartbeat","user_id":"{long}","session_id":"S","ts":{NOW_MS}}}]"#
        );
        assert!(only_error(&body).message.contains("257 bytes"));
        let id = "e".repeat(65);
        let body = format!(
            r#"[{{"type":"heartbeat","event_id":"{id}","user_id":"U","session_id":"S","ts":{NOW_MS}}}]"#
        );
        assert_eq!(only_error(&body).field, "event_id");
    }

    #[test]
    fn backfill_accepts_old_timestamps() {
        let body =
            r#"[{"type":"heartbeat","user_id":"U","session_id":"S","ts":"2019-01-01T00:00:00Z"}]"#;
        assert!(parse(body, BodyFormat::JsonArray).is_err());
        let backfill = AcceptWindow {
            max_age_ms: None,
            ..window()
        };
        assert!(parse_batch(body.as_bytes(), BodyFormat::JsonArray, &backfill, 10).is_ok());
    }

    #[test]
    fn malformed_empty_and_oversized_batches_are_refused_whole() {
        assert!(matches!(
            parse("{\"type\":", BodyFormat::JsonArray),
            Err(BatchError::Malformed(_))
        ));
        assert!(matches!(
            parse("{}", BodyFormat::JsonArray),
            Err(BatchError::Malformed(_))
        ));
        assert_eq!(parse("[]", BodyFormat::JsonArray), Err(BatchError::Empty));
        assert_eq!(parse("\n \n", BodyFormat::Ndjson), Err(BatchError::Empty));
        let body = format!("[{}]", vec!["{}"; 1001].join(","));
        assert_eq!(
            parse(&body, BodyFormat::JsonArray),
            Err(BatchError::TooManyEvents {
                count: 1001,
                limit: 1000
            })
        );
    }

    #[test]
    fn at_most_a_hundred_problems_are_reported_but_all_are_counted() {
        let body = format!("[{}]", vec!["{}"; 500].join(","));
        match parse(&body, BodyFormat::JsonArray) {
            Err(BatchError::Invalid { errors, total }) => {
                assert_eq!(errors.len(), MAX_REPORTED_ERRORS);
                // Each `{}` lacks type, user_id, session_id and ts.
                assert_eq!(total, 2000);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn events_beyond_the_limit_are_counted_not_kept() {
        let tiny = format!("[{}1]", "1,".repeat(99_999));
        let error = parse_batch(tiny.as_bytes(), BodyFormat::JsonArray, &window(), 10);
        assert_eq!(
            error.unwrap_err(),
            BatchError::TooManyEvents {
                count: 100_000,
                limit: 10
            }
        );
        let lines = "1\n".repeat(11);
        let error = parse_batch(lines.as_bytes(), BodyFormat::Ndjson, &window(), 10);
        assert_eq!(
            error.unwrap_err(),
            BatchError::TooManyEvents {
                count: 11,
                limit: 10
            }
        );
        // Trailing garbage after the array is still malformed.
        let body = "[] x";
        assert!(matches!(
            parse_batch(body.as_bytes(), BodyFormat::JsonArray, &window(), 10),
            Err(BatchError::Malformed(_))
        ));
    }
}
