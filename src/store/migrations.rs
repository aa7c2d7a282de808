//! Applies the schema's versioned migrations (`super::schema`) in order at
//! start-up and records them in `highwater_migrations`, so running them
//! twice changes nothing. On a cluster, every shard keeps its own record.

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::schema::{AddColumn, Topology, migrations};

#[derive(Debug, Row, Serialize, Deserialize)]
struct MigrationRow {
    version: u32,
    name: String,
    applied_ms: i64,
}

/// Applies every migration of `topology` not yet recorded on the server
/// `client` talks to. Returns how many ran.
pub async fn migrate(client: &Client, topology: &Topology) -> Result<usize, StoreError> {
    migrate_up_to(client, topology, u32::MAX).await
}

/// [`migrate`], stopping after version `last` (tests of upgrades start from
/// an older schema).
pub async fn migrate_up_to(
    client: &Client,
    topology: &Topology,
    last: u32,
) -> Result<usize, StoreError> {
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
    for migration in migrations(topology) {
        let (version, name) = (migration.version, migration.name);
        if applied.contains(&version) || version > last {
            continue;
        }
        tracing::info!(version, name, "applying migration");
        for add in &migration.add_columns {
            add_column(client, add).await?;
        }
        for statement in &migration.statements {
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

/// Adds a column unless the table has it (a migration cut short may have
/// added it already).
async fn add_column(client: &Client, add: &AddColumn) -> Result<(), StoreError> {
    let present: u64 = client
        .query(
            "SELECT count() FROM system.columns
             WHERE database = currentDatabase() AND table = ? AND name = ?",
        )
        .bind(add.table)
        .bind(add.column)
        .fetch_one()
        .await?;
    if present == 0 {
        client
            .query(&format!(
                "ALTER TABLE {} ADD COLUMN {} {}",
                add.table, add.column, add.kind
            ))
            .execute()
            .await?;
    }
    Ok(())
}

/// The newest schema version this build knows for `topology`.
pub fn latest_version(topology: &Topology) -> u32 {
    migrations(topology).last().map_or(0, |m| m.version)
}
