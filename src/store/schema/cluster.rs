//! The migrations of each server of a cluster without replicas: the events
//! in `*_local` tables under `Distributed` ones, the DDL run on each shard.

use super::Migration;
use super::tables::*;

pub(super) fn migrations(name: &str, database: &str) -> Vec<Migration> {
    let distributed = |table: &str, local: &str| {
        format!(
            "CREATE TABLE IF NOT EXISTS {table} AS {local}
             ENGINE = Distributed({name}, {database}, {local}, cityHash64(user_id))"
        )
    };
    vec![
        Migration {
            version: 1,
            name: "events on every shard",
            add_columns: Vec::new(),
            statements: vec![
                format!("CREATE TABLE IF NOT EXISTS events_local {EVENTS_COLUMNS} {EVENTS_ENGINE}"),
                distributed("events", "events_local"),
            ],
        },
        Migration {
            version: 2,
            name: "sessions by day and bucket on every shard",
            add_columns: Vec::new(),
            statements: vec![
                sessions_by_day_table("sessions_by_day_local"),
                // On the local tables: a view on a `Distributed` table would
                // see only the inserts made through its own node.
                format!(
                    "CREATE MATERIALIZED VIEW IF NOT EXISTS sessions_by_day_local_mv TO sessions_by_day_local AS {}",
                    sessions_by_day_select("events_local")
                ),
                distributed("sessions_by_day", "sessions_by_day_local"),
            ],
        },
        Migration {
            version: 3,
            name: "figures",
            add_columns: Vec::new(),
            statements: figures_tables_and(ACTIVE_BUCKETS_TABLE),
        },
        // The `Distributed` table learns the columns too: it reads them
        // from every shard.
        segments_migration(
            4,
            (
                "sessions_by_day_local",
                "sessions_by_day_local_mv",
                "events_local",
            ),
            Some("sessions_by_day"),
        ),
        // On the first shard only matters (figures live there), but every
        // shard runs the same migrations.
        alerts_migration(5),
        received_users_migration(
            6,
            (
                "received_users_local",
                "received_users_local_mv",
                "events_local",
            ),
            Some(distributed("received_users", "received_users_local")),
        ),
        // Kept on the first shard (every shard has them), like the figures.
        instances_migration(7),
        received_sessions_on_shards(
            8,
            distributed("received_sessions", "received_sessions_local"),
        ),
    ]
}
