//! Versioned schema changes, applied in order at start-up and recorded in
//! `highwater_migrations`, so running them twice changes nothing.
//!
//! Every statement must run on ClickHouse 18.16 and on current releases
//! (DESIGN §4): plain MergeTree, `Enum8`, `String`, `Int64`; no `DateTime64`,
//! no `LowCardinality`.

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};

use super::StoreError;

/// (version, name, statement). Append only; never edit a shipped entry.
const MIGRATIONS: &[(u32, &str, &str)] = &[(
    1,
    "events",
    "CREATE TABLE IF NOT EXISTS events (
        project String,
        `type` Enum8('session_start' = 1, 'session_end' = 2, 'heartbeat' = 3, 'presence' = 4),
        user_id String,
        session_id String,
        ts_ms Int64,
        status Enum8('' = 0, 'active' = 1, 'away' = 2),
        event_id String,
        platform String,
        country String,
        org_id String,
        app_version String,
        received_ms Int64
    ) ENGINE = MergeTree
    PARTITION BY toYYYYMM(toDateTime(intDiv(ts_ms, 1000), 'UTC'))
    ORDER BY (project, user_id, session_id, ts_ms)",
)];

#[derive(Debug, Row, Serialize, Deserialize)]
struct MigrationRow {
    version: u32,
    name: String,
    applied_ms: i64,
}

/// Applies every migration not yet recorded. Returns how many ran.
pub async fn migrate(client: &Client) -> Result<usize, StoreError> {
    client
        .query(
            "CREATE TABLE IF NOT EXISTS highwater_migrations
             (version UInt32, name String, applied_ms Int64)
             ENGINE = MergeTree ORDER BY version",
        )
        .execute()
        .await?;
    let applied: Vec<u32> = client
        .query("SELECT version FROM highwater_migrations")
        .fetch_all()
        .await?;
    let mut ran = 0;
    for &(version, name, statement) in MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        tracing::info!(version, name, "applying migration");
        client.query(statement).execute().await?;
        let mut insert = client
            .insert::<MigrationRow>("highwater_migrations")
            .await?;
        insert
            .write(&MigrationRow {
                version,
                name: name.to_owned(),
                applied_ms: chrono::Utc::now().timestamp_millis(),
            })
            .await?;
        insert.end().await?;
        ran += 1;
    }
    Ok(ran)
}

/// The newest schema version this build knows.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}
