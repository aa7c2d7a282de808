//! The migrations of each server of a replicated cluster: the same tables
//! as a plain cluster's, as `Replicated*MergeTree` kept in ZooKeeper (or
//! ClickHouse Keeper) at paths from the servers' `{shard}` and `{replica}`
//! macros.
//!
//! - The events and what the views derive from them (`*_local`) are
//!   replicated within their shard: path `/clickhouse/tables/{shard}/…`,
//!   replica `{replica}`.
//! - What every reader needs — figures, segment figures, alert history and
//!   episodes, the lease, dashboard sessions — is one logical shard that
//!   spans the cluster: path `/clickhouse/tables/all/…`, replica
//!   `{shard}-{replica}`. Any server can answer every read.
//!
//! The statements run on every server (`CREATE … IF NOT EXISTS`; a server
//! joins the replicas of a table as it creates it). Materialized views are
//! local to each server: a view fires on the inserts its server takes, and
//! the replicated fetch of the parts it wrote brings them to the others.

use super::Migration;
use super::tables::*;

pub(super) fn migrations(name: &str, database: &str) -> Vec<Migration> {
    let distributed = |table: &str, local: &str| {
        format!(
            "CREATE TABLE IF NOT EXISTS {table} AS {local}
             ENGINE = Distributed({name}, {database}, {local}, cityHash64(user_id))"
        )
    };
    let per_shard = |create: &str| replicated(create, database, "{shard}", "{replica}");
    let everywhere = |create: &str| replicated(create, database, "all", "{shard}-{replica}");
    let mut everyone_reads: Vec<String> = FIGURES_TABLES
        .iter()
        .chain(&[ACTIVE_BUCKETS_TABLE])
        .chain(&SEGMENT_TABLES)
        .map(|create| everywhere(create))
        .collect();
    everyone_reads.extend(alerts_migration(0).statements.iter().map(|c| everywhere(c)));
    everyone_reads.extend(
        instances_migration(0)
            .statements
            .iter()
            .map(|c| everywhere(c)),
    );
    let received = received_users_migration(
        0,
        (
            "received_users_local",
            "received_users_local_mv",
            "events_local",
        ),
        Some(distributed("received_users", "received_users_local")),
    );
    let received_sessions = received_sessions_on_shards(
        0,
        distributed("received_sessions", "received_sessions_local"),
    );
    // A migration's statements with the `CREATE` of `local` made
    // replicated within each shard.
    let replicated_within_shards = |migration: Migration, local: &str| -> Vec<String> {
        let create = format!("CREATE TABLE IF NOT EXISTS {local}");
        migration
            .statements
            .iter()
            .map(|s| match s.starts_with(&create) {
                true => per_shard(s),
                false => s.clone(),
            })
            .collect()
    };
    vec![
        Migration {
            version: 1,
            name: "events, replicated within each shard",
            add_columns: Vec::new(),
            statements: vec![
                per_shard(&format!(
                    "CREATE TABLE IF NOT EXISTS events_local {EVENTS_COLUMNS} {EVENTS_ENGINE}"
                )),
                distributed("events", "events_local"),
            ],
        },
        Migration {
            version: 2,
            name: "sessions by day and bucket, replicated within each shard",
            add_columns: Vec::new(),
            statements: vec![
                per_shard(&sessions_by_day_table_with_segments(
                    "sessions_by_day_local",
                )),
                format!(
                    "CREATE MATERIALIZED VIEW IF NOT EXISTS sessions_by_day_local_mv TO sessions_by_day_local AS {}",
                    sessions_with_segments_select("events_local")
                ),
                distributed("sessions_by_day", "sessions_by_day_local"),
            ],
        },
        Migration {
            version: 3,
            name: "received users, replicated within each shard",
            add_columns: Vec::new(),
            statements: replicated_within_shards(received, "received_users_local"),
        },
        Migration {
            version: 4,
            name: "figures, alerts, instances and sessions on every server",
            add_columns: Vec::new(),
            statements: everyone_reads,
        },
        Migration {
            version: 5,
            name: "received sessions, replicated within each shard",
            add_columns: Vec::new(),
            statements: replicated_within_shards(received_sessions, "received_sessions_local"),
        },
    ]
}

/// `create`, a `CREATE TABLE` of this schema, with its engine made the
/// replicated one, kept at `/clickhouse/tables/{scope}/{database}/{table}`
/// as replica `replica`.
fn replicated(create: &str, database: &str, scope: &str, replica: &str) -> String {
    const CREATE: &str = "CREATE TABLE IF NOT EXISTS ";
    const ENGINE: &str = "ENGINE = ";
    let named = create.find(CREATE).expect("a CREATE TABLE") + CREATE.len();
    let table: String = create[named..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let at = create.find(ENGINE).expect("an engine") + ENGINE.len();
    let rest = &create[at..];
    let engine_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let (engine, after) = rest.split_at(engine_len);
    let (arguments, tail) = match after.strip_prefix('(') {
        Some(inner) => {
            let close = inner.find(')').expect("closed arguments");
            (format!(", {}", &inner[..close]), &inner[close + 1..])
        }
        None => (String::new(), after),
    };
    format!(
        "{}Replicated{engine}('/clickhouse/tables/{scope}/{database}/{table}', '{replica}'{arguments}){tail}",
        &create[..at]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_become_replicated_at_their_paths() {
        let plain = "CREATE TABLE IF NOT EXISTS daily_figures (x UInt8) ENGINE = ReplacingMergeTree(computed_ms)\n ORDER BY x";
        assert_eq!(
            replicated(plain, "hw", "all", "{shard}-{replica}"),
            "CREATE TABLE IF NOT EXISTS daily_figures (x UInt8) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/hw/daily_figures', '{shard}-{replica}', computed_ms)\n ORDER BY x"
        );
        let bare =
            "CREATE TABLE IF NOT EXISTS events_local (x UInt8) ENGINE = MergeTree\n ORDER BY x";
        assert_eq!(
            replicated(bare, "hw", "{shard}", "{replica}"),
            "CREATE TABLE IF NOT EXISTS events_local (x UInt8) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/hw/events_local', '{replica}')\n ORDER BY x"
        );
    }

    #[test]
    fn every_table_is_replicated() {
        for migration in migrations("hw", "hw") {
            for statement in migration.statements {
                if statement.contains("CREATE TABLE") && !statement.contains("Distributed(") {
                    assert!(statement.contains("ENGINE = Replicated"), "{statement}");
                }
            }
        }
    }
}
