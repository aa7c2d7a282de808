//! Brings the ClickHouse servers highwater knows to the current schema,
//! however long they take to answer. `serve` starts while none does — a
//! restart during an outage, or a rack coming back with highwater before
//! ClickHouse, is then no ingest outage: the log takes every batch — and
//! this task connects, migrates, and tells the shipper once every shard
//! has a server that answers; a server that answers later is migrated
//! then. Reads meanwhile answer 503.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clickhouse::Client;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::connect::{connect_one, main_client};
use super::replication_check;
use super::schema::Topology;
use crate::config::ClickHouseSettings;

/// How long to wait between tries while a server does not answer.
const RETRY: Duration = Duration::from_secs(2);

/// What to migrate, and where the migrated client will point.
#[derive(Debug)]
pub struct Migration {
    settings: ClickHouseSettings,
    topology: Topology,
    /// The servers, shard after shard with their replicas.
    shards: Vec<Vec<String>>,
    /// Where the main client goes.
    entry: String,
    last_error: Arc<Mutex<Option<String>>>,
}

impl Migration {
    pub fn new(
        settings: ClickHouseSettings,
        topology: Topology,
        shards: Vec<Vec<String>>,
        entry: String,
    ) -> Self {
        Self {
            settings,
            topology,
            shards,
            entry,
            last_error: Arc::default(),
        }
    }

    /// Why the last server that did not answer did not.
    pub fn last_error(&self) -> Arc<Mutex<Option<String>>> {
        self.last_error.clone()
    }

    /// The client the log ships through: the entry, configured as the
    /// migrated `server` is (its version's settings) and as the topology
    /// wants ([`main_client`]).
    fn shipping_client(&self, server: &Client) -> Client {
        main_client(&self.settings, &[server.clone().with_url(&self.entry)])
    }
}

/// Connects to and migrates every server, retrying each until it answers;
/// publishes the shipping client in `ready` once every shard has one that
/// answered. Ends when every server is migrated, or on `stop`.
pub async fn migrate_when_up(
    migration: Migration,
    ready: watch::Sender<Option<Client>>,
    stop: CancellationToken,
) {
    let urls: Vec<&String> = migration.shards.iter().flatten().collect();
    let mut migrated: Vec<Option<Client>> = vec![None; urls.len()];
    let mut reported = vec![false; urls.len()];
    loop {
        for (index, url) in urls.iter().enumerate() {
            if migrated[index].is_some() {
                continue;
            }
            match connect_one(&migration.settings, url, &migration.topology).await {
                Ok(client) => migrated[index] = Some(client),
                Err(e) => {
                    if !reported[index] {
                        tracing::warn!(%url, error = %e, "ClickHouse does not answer yet; the log keeps every batch until it does");
                        reported[index] = true;
                    }
                    *migration.last_error.lock().expect("error lock") = Some(e.to_string());
                }
            }
        }
        let all_migrated = migrated.iter().all(Option::is_some);
        // Checked before shipping when every server answers at once (the
        // usual start), or as soon as the last one does.
        if all_migrated && let Err(e) = check_replication(&migration, &migrated).await {
            tracing::error!(error = %e, "shipping stops until the cluster is fixed");
            *migration.last_error.lock().expect("error lock") = Some(e.to_string());
            ready.send_replace(None);
            return;
        }
        let mut at = 0;
        let every_shard_answers = migration.shards.iter().all(|shard| {
            let answers = migrated[at..at + shard.len()].iter().any(Option::is_some);
            at += shard.len();
            answers
        });
        if every_shard_answers && ready.borrow().is_none() {
            let server = migrated.iter().flatten().next().expect("a server answered");
            ready.send_replace(Some(migration.shipping_client(server)));
            tracing::info!("ClickHouse is migrated: shipping the log");
        }
        if all_migrated {
            return;
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(RETRY) => {}
        }
    }
}

/// A replicated cluster's `internal_replication` (`replication_check`);
/// nothing to check on other topologies.
async fn check_replication(
    migration: &Migration,
    migrated: &[Option<Client>],
) -> Result<(), replication_check::ReplicationCheckError> {
    let Topology::Replicated { name, database } = &migration.topology else {
        return Ok(());
    };
    let servers: Vec<Client> = migrated.iter().flatten().cloned().collect();
    let entry = migration.shipping_client(&servers[0]);
    replication_check::check(name, database, &servers, &entry).await
}
