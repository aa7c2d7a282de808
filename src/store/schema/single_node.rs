//! The migrations of one node.

use super::Migration;
use super::tables::*;

pub(super) fn migrations() -> Vec<Migration> {
    // Versions 2 and 3 made tables that version 4 replaces; they stay as
    // they shipped, so that every database walks the same path.
    let old_session_days_select = format!(
        "SELECT project, toDate(toDateTime({TS_S}), 'UTC') AS day, user_id, session_id,
                {states}
         FROM events
         GROUP BY project, day, user_id, session_id",
        states = session_states()
    );
    vec![
        Migration {
            version: 1,
            name: "events",
            add_columns: Vec::new(),
            statements: vec![format!(
                "CREATE TABLE IF NOT EXISTS events {EVENTS_COLUMNS} {EVENTS_ENGINE}"
            )],
        },
        Migration {
            version: 2,
            name: "session_days",
            add_columns: Vec::new(),
            statements: vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS session_days (
                        project String, day Date, user_id String, session_id String,
                        {SESSION_STATE_COLUMNS}
                    ) ENGINE = AggregatingMergeTree
                    PARTITION BY toYYYYMM(day)
                    ORDER BY (project, day, user_id, session_id)"
                ),
                format!(
                    "CREATE MATERIALIZED VIEW IF NOT EXISTS session_days_mv TO session_days AS {old_session_days_select}"
                ),
                format!("INSERT INTO session_days {old_session_days_select}"),
            ],
        },
        Migration {
            version: 3,
            name: "figures",
            add_columns: Vec::new(),
            statements: figures_tables_and(
                "CREATE TABLE IF NOT EXISTS daily_active_sets (
                    project String, day Date, computed_ms UInt64, users Array(String)
                ) ENGINE = ReplacingMergeTree(computed_ms)
                PARTITION BY toYYYYMM(day)
                ORDER BY (project, day)",
            ),
        },
        Migration {
            version: 4,
            name: "sessions and active users by bucket",
            add_columns: Vec::new(),
            statements: vec![
                sessions_by_day_table("sessions_by_day"),
                format!(
                    "CREATE MATERIALIZED VIEW IF NOT EXISTS sessions_by_day_mv TO sessions_by_day AS {}",
                    sessions_by_day_select("events")
                ),
                // Events stored before the view existed. Rows the view
                // also caught meanwhile are harmless: the aggregates
                // ignore repeats.
                format!(
                    "INSERT INTO sessions_by_day {}",
                    sessions_by_day_select("events")
                ),
                "DROP TABLE IF EXISTS session_days_mv".into(),
                "DROP TABLE IF EXISTS session_days".into(),
                ACTIVE_BUCKETS_TABLE.into(),
                String::from(
                    "INSERT INTO daily_active_buckets
                     SELECT project, day, toUInt8(cityHash64(active_user) % 64) AS bucket, computed_ms,
                            groupArray(active_user) AS bucket_users
                     FROM daily_active_sets FINAL ARRAY JOIN users AS active_user
                     GROUP BY project, day, bucket, computed_ms"
                ),
                "DROP TABLE IF EXISTS daily_active_sets".into(),
            ],
        },
        segments_migration(
            5,
            ("sessions_by_day", "sessions_by_day_mv", "events"),
            None,
        ),
        alerts_migration(6),
        received_users_migration(7, ("received_users", "received_users_mv", "events"), None),
        instances_migration(8),
        received_sessions_migration(
            9,
            ("received_sessions", "received_sessions_mv", "events"),
            None,
            &["received_users_mv", "received_users"],
        ),
    ]
}
