//! Brings the ClickHouse servers highwater knows to the current schema,
//! however long they take to answer. `serve` starts while none does — a
//! restart during an outage, or a rack coming back with highwater before
//! ClickHouse, is then no ingest outage: the log takes every batch — and
//! this task connects, migrates and tells the shipper (and `/readyz`) once
//! they answer. Reads meanwhile answer 503.

use std::time::Duration;

use clickhouse::Client;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::connect::{connect_one, main_client, topology};
use crate::config::ClickHouseSettings;

/// How long to wait between tries while a server does not answer.
const RETRY: Duration = Duration::from_secs(2);

/// Connects to and migrates every server of `urls` (one, or each shard of
/// a cluster), retrying each until it answers; then publishes the client
/// highwater inserts through in `ready`. Ends early on `stop`.
pub async fn migrate_when_up(
    settings: ClickHouseSettings,
    urls: Vec<String>,
    ready: watch::Sender<Option<Client>>,
    stop: CancellationToken,
) {
    let topology = topology(&settings);
    let mut clients: Vec<Option<Client>> = vec![None; urls.len()];
    let mut reported = false;
    loop {
        for (url, client) in urls.iter().zip(clients.iter_mut()) {
            if client.is_some() {
                continue;
            }
            match connect_one(&settings, url, &topology).await {
                Ok(connected) => *client = Some(connected),
                Err(e) if !reported => {
                    tracing::warn!(%url, error = %e, "ClickHouse does not answer yet; the log keeps every batch until it does");
                }
                Err(_) => {}
            }
        }
        reported = true;
        if clients.iter().all(Option::is_some) {
            let clients: Vec<Client> = clients.into_iter().flatten().collect();
            ready.send_replace(Some(main_client(&settings, &clients)));
            tracing::info!("ClickHouse is migrated: shipping the log");
            return;
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(RETRY) => {}
        }
    }
}
