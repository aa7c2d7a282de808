//! Versioned schema changes, applied in order at start-up and recorded in
//! `highwater_migrations`, so running them twice changes nothing.
//!
//! Every statement must run on ClickHouse 18.16 and on current releases
//! (DESIGN §4): plain MergeTree, `Enum8`, `String`, `Int64`; no `DateTime64`,
//! no `LowCardinality`.

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};

use super::StoreError;

/// The seconds of `ts_ms`, as every figure uses them (DESIGN §2: floored).
macro_rules! ts_s {
    () => {
        "toUInt32(intDiv(ts_ms, 1000))"
    };
}

/// One `session_days` row per (session, UTC day of its events, insert block):
/// the facts [`crate::jobs::session_interval::SessionFacts`] needs, as aggregate
/// states. min/max/groupArray make them immune to duplicates and order.
macro_rules! session_days_select {
    () => {
        concat!(
            "SELECT project, toDate(toDateTime(",
            ts_s!(),
            "), 'UTC') AS day, user_id, session_id,
                minState(if(`type` = 'session_start', ",
            ts_s!(),
            ", toUInt32(4294967295))) AS first_start,
                minState(",
            ts_s!(),
            ") AS first_event,
                minState(if(`type` = 'session_end', ",
            ts_s!(),
            ", toUInt32(4294967295))) AS first_end,
                maxState(if(`type` != 'session_end', ",
            ts_s!(),
            ", toUInt32(0))) AS last_alive,
                groupArrayStateIf((",
            ts_s!(),
            ", CAST(status AS Int8)), `type` = 'presence') AS presence
            FROM events
            GROUP BY project, day, user_id, session_id"
        )
    };
}

/// (version, name, statements). Append only; never edit a shipped entry.
/// Every statement is safe to run twice.
const MIGRATIONS: &[(u32, &str, &[&str])] = &[
    (
        1,
        "events",
        &["CREATE TABLE IF NOT EXISTS events (
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
        ORDER BY (project, user_id, session_id, ts_ms)"],
    ),
    (
        2,
        "session_days",
        &[
            "CREATE TABLE IF NOT EXISTS session_days (
                project String,
                day Date,
                user_id String,
                session_id String,
                first_start AggregateFunction(min, UInt32),
                first_event AggregateFunction(min, UInt32),
                first_end AggregateFunction(min, UInt32),
                last_alive AggregateFunction(max, UInt32),
                presence AggregateFunction(groupArray, Tuple(UInt32, Int8))
            ) ENGINE = AggregatingMergeTree
            PARTITION BY toYYYYMM(day)
            ORDER BY (project, day, user_id, session_id)",
            concat!(
                "CREATE MATERIALIZED VIEW IF NOT EXISTS session_days_mv TO session_days AS ",
                session_days_select!()
            ),
            // Events stored before the view existed. Rows the view also
            // caught meanwhile are harmless: the aggregates ignore repeats.
            concat!("INSERT INTO session_days ", session_days_select!()),
        ],
    ),
    (
        3,
        "figures",
        &[
            "CREATE TABLE IF NOT EXISTS daily_figures (
                project String,
                day Date,
                day_start UInt32,
                day_seconds UInt32,
                dau UInt64,
                wau UInt64,
                mau UInt64,
                peak_users UInt32,
                peak_users_at UInt32,
                peak_connections UInt32,
                peak_connections_at UInt32,
                peak_active_users UInt32,
                peak_active_users_at UInt32,
                acu Float64,
                sessions UInt64,
                session_p50_s UInt64,
                session_p90_s UInt64,
                session_p99_s UInt64,
                session_max_s UInt64,
                session_histogram String,
                final UInt8,
                computed_ms UInt64
            ) ENGINE = ReplacingMergeTree(computed_ms)
            PARTITION BY toYYYYMM(day)
            ORDER BY (project, day)",
            "CREATE TABLE IF NOT EXISTS concurrency_minutes (
                project String,
                day Date,
                minute_start UInt32,
                users UInt32,
                connections UInt32,
                active_users UInt32,
                computed_ms UInt64
            ) ENGINE = ReplacingMergeTree(computed_ms)
            PARTITION BY toYYYYMM(day)
            ORDER BY (project, day, minute_start)",
            // The users active on each day, for exact WAU/MAU: one row per
            // day holding the whole set, so that storing millions of users
            // is one row to write, and a recompute replaces it.
            "CREATE TABLE IF NOT EXISTS daily_active_sets (
                project String,
                day Date,
                computed_ms UInt64,
                users Array(String)
            ) ENGINE = ReplacingMergeTree(computed_ms)
            PARTITION BY toYYYYMM(day)
            ORDER BY (project, day)",
        ],
    ),
];

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
    for &(version, name, statements) in MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        tracing::info!(version, name, "applying migration");
        for statement in statements {
            client.query(statement).execute().await?;
        }
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
