//! Row types exactly as ClickHouse stores them.

use clickhouse::Row;
use serde::{Deserialize, Serialize};

use crate::domain::event::{Event, EventType, PresenceStatus};

/// One row of `events`: an [`Event`] plus who sent it and when it arrived.
/// Field order and names follow the table (RowBinary is positional).
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

impl EventRow {
    pub fn new(project: &str, received_ms: i64, event: Event) -> Self {
        Self {
            project: project.to_owned(),
            kind: event.kind,
            user_id: event.user_id,
            session_id: event.session_id,
            ts_ms: event.ts_ms,
            status: event.status,
            event_id: event.event_id,
            platform: event.platform,
            country: event.country,
            org_id: event.org_id,
            app_version: event.app_version,
            received_ms,
        }
    }
}

/// The columns of [`EventRow`] in order, for `SELECT`s that fetch it.
pub const EVENT_COLUMNS: &str = "project, `type`, user_id, session_id, ts_ms, status, \
     event_id, platform, country, org_id, app_version, received_ms";
