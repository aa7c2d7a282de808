//! Row types exactly as ClickHouse stores them.

use clickhouse::Row;
use serde::{Deserialize, Serialize};

use crate::domain::event::{EventType, PresenceStatus};

/// One row of `events` as read back: an event plus its project and when it
/// arrived. Field order follows [`super::row_binary::EVENT_COLUMNS`].
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct EventRow {
    pub project: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub user_id: String,
    pub session_id: String,
    pub ts_ms: i64,
    pub status: PresenceStatus,
    pub event_id: String,
    pub platform: String,
    pub country: String,
    pub org_id: String,
    pub app_version: String,
    /// Server receive time, epoch milliseconds.
    pub received_ms: i64,
}
