//! Turns one parsed JSON object into an [`Event`], or into every problem it
//! has, each naming its field (docs/design.md §1).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::event::{Event, EventType, PresenceStatus};
use super::json_value::JsonValue;
use super::raw_event::{FIELD_NAMES, RawEvent};

pub const MAX_ID_BYTES: usize = 256;
pub const MAX_EVENT_ID_BYTES: usize = 64;
pub const MAX_DIMENSION_BYTES: usize = 256;

/// One problem with one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Position of the event in the batch, from 0.
    pub index: usize,
    /// The offending field, or `"event"` when the event as a whole is wrong.
    pub field: String,
    pub message: String,
}

/// The range of client timestamps a project accepts, in epoch milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct AcceptWindow {
    pub now_ms: i64,
    pub max_ahead_ms: i64,
    /// `None` under backfill: any time since 1970 is accepted.
    pub max_age_ms: Option<i64>,
}

/// Collects the problems of one event.
struct Problems<'e> {
    index: usize,
    errors: &'e mut Vec<FieldError>,
    found: bool,
}

impl Problems<'_> {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.found = true;
        self.errors.push(FieldError {
            index: self.index,
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// A string field: present or not, the right type, within `max` bytes.
    fn string<'a>(
        &mut self,
        field: &str,
        value: Option<JsonValue<'a>>,
        required: bool,
        max: usize,
    ) -> Option<Cow<'a, str>> {
        match value {
            None if required => self.add(field, "is required"),
            None => {}
            Some(JsonValue::Str(s)) if required && s.is_empty() => {
                self.add(field, "must not be empty")
            }
            Some(JsonValue::Str(s)) if s.len() > max => self.add(
                field,
                format!("is {} bytes long; at most {max} allowed", s.len()),
            ),
            Some(JsonValue::Str(s)) if s.contains('\0') => {
                self.add(field, "must not contain NUL characters")
            }
            Some(JsonValue::Str(s)) => return Some(s),
            Some(other) => self.add(field, format!("must be a string, got {}", other.kind())),
        }
        None
    }
}

/// Validates one event. Problems are appended to `errors`; `None` if any.
pub fn validate_event<'a>(
    mut raw: RawEvent<'a>,
    index: usize,
    window: &AcceptWindow,
    errors: &mut Vec<FieldError>,
) -> Option<Event<'a>> {
    let mut p = Problems {
        index,
        errors,
        found: false,
    };
    if let Some(kind) = raw.not_an_object {
        p.add("event", format!("must be a JSON object, got {kind}"));
        return None;
    }
    for (i, name) in FIELD_NAMES.iter().enumerate() {
        if raw.repeated & (1 << i) != 0 {
            p.add(name, "appears more than once");
        }
    }
    let kind = p
        .string("type", raw.take(0), true, 32)
        .and_then(|name| match EventType::parse(&name) {
            Some(kind) => Some(kind),
            None => {
                p.add(
                    "type",
                    format!(
                        "unknown type {name:?}; expected session_start, session_end, heartbeat or presence"
                    ),
                );
                None
            }
        });
    let user_id = p.string("user_id", raw.take(1), true, MAX_ID_BYTES);
    let session_id = p.string("session_id", raw.take(2), true, MAX_ID_BYTES);
    let ts_ms = parse_ts(raw.take(3), window, &mut p);
    let status = match kind {
        // `status` means nothing on other types; it is ignored like an unknown field.
        Some(EventType::Presence) => p.string("status", raw.take(4), true, 16).and_then(|s| {
            match PresenceStatus::parse(&s) {
                Some(status) => Some(status),
                None => {
                    p.add(
                        "status",
                        format!("unknown status {s:?}; expected active or away"),
                    );
                    None
                }
            }
        }),
        _ => Some(PresenceStatus::Unset),
    };
    let event_id = p.string("event_id", raw.take(5), false, MAX_EVENT_ID_BYTES);
    let platform = p.string("platform", raw.take(6), false, MAX_DIMENSION_BYTES);
    let country = p
        .string("country", raw.take(7), false, MAX_DIMENSION_BYTES)
        .and_then(|c| {
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                p.add(
                    "country",
                    format!("{c:?} is not an ISO 3166-1 alpha-2 code such as \"US\""),
                );
                None
            } else if c.bytes().all(|b| b.is_ascii_uppercase()) {
                Some(c)
            } else {
                Some(Cow::Owned(c.to_ascii_uppercase()))
            }
        });
    let org_id = p.string("org_id", raw.take(8), false, MAX_DIMENSION_BYTES);
    let app_version = p.string("app_version", raw.take(9), false, MAX_DIMENSION_BYTES);
    if p.found {
        return None;
    }
    Some(Event {
        kind: kind?,
        user_id: user_id?,
        session_id: session_id?,
        ts_ms: ts_ms?,
        status: status?,
        event_id: event_id.unwrap_or_default(),
        platform: platform.unwrap_or_default(),
        country: country.unwrap_or_default(),
        org_id: org_id.unwrap_or_default(),
        app_version: app_version.unwrap_or_default(),
    })
}

/// `text` quoted for an error message, cut short: a client's megabyte of
/// garbage should not come back a hundred times in the answer.
fn quoted_prefix(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    if text.chars().count() <= MAX_CHARS {
        format!("{text:?}")
    } else {
        let prefix: String = text.chars().take(MAX_CHARS).collect();
        format!("{prefix:?}… ({} bytes)", text.len())
    }
}

fn parse_ts(value: Option<JsonValue<'_>>, window: &AcceptWindow, p: &mut Problems) -> Option<i64> {
    let ts_ms = match value {
        None => {
            p.add("ts", "is required");
            return None;
        }
        Some(JsonValue::Int(ms)) => ms,
        Some(JsonValue::Str(text)) => match chrono::DateTime::parse_from_rfc3339(&text) {
            Ok(t) => t.timestamp_millis(),
            Err(e) => {
                p.add(
                    "ts",
                    format!(
                        "{} is not an RFC 3339 timestamp such as 2020-03-25T14:03:00Z ({e})",
                        quoted_prefix(&text)
                    ),
                );
                return None;
            }
        },
        Some(JsonValue::BigUint(_)) => {
            p.add("ts", "is out of range for epoch milliseconds");
            return None;
        }
        Some(other) => {
            p.add(
                "ts",
                format!(
                    "must be an RFC 3339 string or integer epoch milliseconds, got {}",
                    other.kind()
                ),
            );
            return None;
        }
    };
    if ts_ms < 0 {
        p.add("ts", "is before 1970-01-01T00:00:00Z");
        return None;
    }
    let ahead_ms = ts_ms.saturating_sub(window.now_ms);
    if ahead_ms > window.max_ahead_ms {
        p.add(
            "ts",
            format!(
                "is {} s ahead of the server clock; at most {} s allowed",
                ahead_ms / 1000,
                window.max_ahead_ms / 1000
            ),
        );
        return None;
    }
    if let Some(max_age_ms) = window.max_age_ms {
        let age_ms = window.now_ms.saturating_sub(ts_ms);
        if age_ms > max_age_ms {
            p.add(
                "ts",
                format!(
                    "is {} s old; the project accepts events at most {} s old (enable backfill to import history)",
                    age_ms / 1000,
                    max_age_ms / 1000
                ),
            );
            return None;
        }
    }
    Some(ts_ms)
}

/// The window the unit tests validate against: the tests' "now"
/// (2020-03-25T12:00:00Z) and a project's default limits.
#[cfg(test)]
pub mod test_window {
    use super::AcceptWindow;

    pub const NOW_MS: i64 = 1_585_137_600_000;

    pub fn window() -> AcceptWindow {
        AcceptWindow {
            now_ms: NOW_MS,
            max_ahead_ms: 300_000,
            max_age_ms: Some(30 * 86_400_000),
        }
    }
}
