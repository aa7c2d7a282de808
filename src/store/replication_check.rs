//! A replicated cluster must leave replication to its tables:
//! `internal_replication` true for every shard. Otherwise a `Distributed`
//! insert writes to every replica itself, and an insert quorum counts
//! copies instead of replicas.
//!
//! Current servers list the flag in `system.clusters`. ClickHouse 18.16
//! does not, so there the check watches what the flag does: one row
//! inserted through a `Distributed` table over a plain table on every
//! server lands on one server with the flag, on every replica of its shard
//! without it.

use clickhouse::Client;
use clickhouse::sql::Identifier;

use super::StoreError;

/// Why the check failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationCheckError {
    #[error(
        "the cluster {cluster:?} sends inserts to every replica itself: set \
         <internal_replication>true</internal_replication> on each of its shards in the \
         servers' <remote_servers> (replicated tables replicate on their own)"
    )]
    NotInternal { cluster: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks `cluster` (its tables in `database`) through `servers` (a
/// client per server; all must answer), inserting through `entry`.
pub async fn check(
    cluster: &str,
    database: &str,
    servers: &[Client],
    entry: &Client,
) -> Result<(), ReplicationCheckError> {
    let first = servers.first().expect("servers");
    let listed: Vec<String> = first
        .query("SELECT name FROM system.columns WHERE database = 'system' AND table = 'clusters'")
        .fetch_all()
        .await
        .map_err(StoreError::from)?;
    let not_internal: u64 = if listed.iter().any(|c| c == "internal_replication") {
        first
            .query("SELECT count() FROM system.clusters WHERE cluster = ? AND internal_replication = 0")
            .bind(cluster)
            .fetch_one()
            .await
            .map_err(StoreError::from)?
    } else {
        copies_of_one_insert(cluster, database, servers, entry).await? - 1
    };
    match not_internal {
        0 => Ok(()),
        _ => Err(ReplicationCheckError::NotInternal {
            cluster: cluster.to_owned(),
        }),
    }
}

/// How many servers one row inserted through a `Distributed` table over a
/// plain table lands on.
async fn copies_of_one_insert(
    cluster: &str,
    database: &str,
    servers: &[Client],
    entry: &Client,
) -> Result<u64, StoreError> {
    let local = format!("highwater_probe_{:08x}", rand::random::<u32>());
    let distributed = format!("{local}_all");
    for server in servers {
        server
            .query("CREATE TABLE IF NOT EXISTS ? (n UInt8) ENGINE = MergeTree ORDER BY n")
            .bind(Identifier(&local))
            .execute()
            .await?;
    }
    let probed = async {
        entry
            .query(&format!(
                "CREATE TABLE IF NOT EXISTS {distributed} AS {local} \
                 ENGINE = Distributed({cluster}, {database}, {local}, n)"
            ))
            .execute()
            .await?;
        entry
            .clone()
            .with_setting("insert_distributed_sync", "1")
            .query(&format!("INSERT INTO {distributed} SELECT 1"))
            .execute()
            .await?;
        let mut copies = 0;
        for server in servers {
            copies += server
                .query("SELECT count() FROM ?")
                .bind(Identifier(&local))
                .fetch_one::<u64>()
                .await?;
        }
        Ok::<u64, StoreError>(copies)
    }
    .await;
    let _ = entry
        .query("DROP TABLE IF EXISTS ?")
        .bind(Identifier(&distributed))
        .execute()
        .await;
    for server in servers {
        let _ = server
            .query("DROP TABLE IF EXISTS ?")
            .bind(Identifier(&local))
            .execute()
            .await;
    }
    probed
}
