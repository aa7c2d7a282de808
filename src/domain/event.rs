//! A validated event (docs/design.md §1) and the enums it is made of.

use std::borrow::Cow;

use serde_repr::{Deserialize_repr, Serialize_repr};

/// What happened. Stored as ClickHouse `Enum8` with these codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize_repr, Deserialize_repr)]
#[repr(i8)]
pub enum EventType {
    SessionStart = 1,
    SessionEnd = 2,
    Heartbeat = 3,
    Presence = 4,
}

impl EventType {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "session_start" => Self::SessionStart,
            "session_end" => Self::SessionEnd,
            "heartbeat" => Self::Heartbeat,
            "presence" => Self::Presence,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionStart => "session_start",
            Self::SessionEnd => "session_end",
            Self::Heartbeat => "heartbeat",
            Self::Presence => "presence",
        }
    }
}

/// Presence status; `Unset` on every event that is not `presence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize_repr, Deserialize_repr)]
#[repr(i8)]
pub enum PresenceStatus {
    Unset = 0,
    Active = 1,
    Away = 2,
}

impl PresenceStatus {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "active" => Some(Self::Active),
            "away" => Some(Self::Away),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unset => "",
            Self::Active => "active",
            Self::Away => "away",
        }
    }
}

/// One event that passed validation, borrowing its strings from the request
/// body where it can. Optional strings are empty when absent.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    pub kind: EventType,
    pub user_id: Cow<'a, str>,
    pub session_id: Cow<'a, str>,
    /// Client time, epoch milliseconds (never negative).
    pub ts_ms: i64,
    pub status: PresenceStatus,
    pub event_id: Cow<'a, str>,
    pub platform: Cow<'a, str>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Cow<'a, str>,
    pub org_id: Cow<'a, str>,
    pub app_version: Cow<'a, str>,
}
