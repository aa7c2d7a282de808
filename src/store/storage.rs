//! ClickHouse as highwater uses it: the servers (configured, or embedded:
//! one, a cluster, or a replicated cluster with its ZooKeeper), their
//! clients, and the task that migrates them once they answer.
//!
//! Every query goes through one main client: to the server (or the first
//! shard of a plain cluster), or, on a replicated cluster, through the
//! failover forwarder over every server (`failover`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clickhouse::Client;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::connect::{bare_client, main_client, topology};
use super::failover::{self, Failover};
use super::local_cluster::{self, Layout};
use super::local_server::{LocalClickHouse, ServerBinary};
use super::local_zookeeper::LocalZooKeeper;
use super::migrator::{Migration, migrate_when_up};
use crate::config::Settings;

/// How long a command waits for ClickHouse to answer before it gives up.
const COMMAND_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Storage {
    /// The client every query goes through (made before the server
    /// answers: it fails until then).
    pub client: Client,
    /// The main client configured for the servers' version, once every
    /// shard answered and was migrated: what the log ships through.
    pub ready: watch::Receiver<Option<Client>>,
    /// A client per server, for upkeep each server does on its own tables.
    pub servers: Vec<Client>,
    /// Where the main client goes (the forwarder's address on a replicated
    /// cluster).
    pub url: String,
    /// Every server, shard after shard.
    pub urls: Vec<String>,
    /// The forwarder of a replicated cluster, and its servers' health.
    pub failover: Option<Failover>,
    local: Vec<LocalClickHouse>,
    zookeeper: Option<LocalZooKeeper>,
    stop: CancellationToken,
    last_error: Arc<Mutex<Option<String>>>,
}

impl Storage {
    /// Opens ClickHouse for a command: waits until it answers, migrated.
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let storage = Self::open_for_serving(settings).await?;
        let mut ready = storage.ready.clone();
        let migrated = tokio::time::timeout(COMMAND_WAIT, ready.wait_for(Option::is_some))
            .await
            .is_ok_and(|r| r.is_ok());
        if !migrated {
            let why = storage.last_error.lock().expect("error lock").clone();
            anyhow::bail!(
                "could not open ClickHouse at {}: {}",
                storage.urls.join(", "),
                why.unwrap_or_else(|| format!("no answer within {} s", COMMAND_WAIT.as_secs()))
            );
        }
        let client = ready.borrow().clone().expect("migrated");
        Ok(Self { client, ..storage })
    }

    /// Opens ClickHouse for `serve`, which starts whether or not it answers:
    /// the clients are made without asking it anything, and a task of its
    /// own connects and migrates once it answers (`migrator`), publishing
    /// the client to insert through in `ready`.
    pub async fn open_for_serving(settings: &Settings) -> anyhow::Result<Self> {
        let clickhouse = &settings.clickhouse;
        let (shards, local, zookeeper) = servers(settings).await?;
        let urls: Vec<String> = shards.iter().flatten().cloned().collect();
        let stop = CancellationToken::new();
        let failover = match clickhouse.is_replicated() {
            true => Some(
                failover::start(&urls, stop.clone())
                    .await
                    .context("cannot start the forwarder to the ClickHouse servers")?,
            ),
            false => None,
        };
        let url = failover
            .as_ref()
            .map_or_else(|| urls[0].clone(), |f| f.url.clone());
        let servers: Vec<Client> = urls.iter().map(|u| bare_client(clickhouse, u)).collect();
        let client = main_client(clickhouse, &[bare_client(clickhouse, &url)]);
        let (ready_tx, ready) = watch::channel(None);
        let migration = Migration::new(
            clickhouse.clone(),
            topology(clickhouse),
            shards,
            url.clone(),
        );
        let last_error = migration.last_error();
        tokio::spawn(migrate_when_up(migration, ready_tx, stop.clone()));
        Ok(Self {
            client,
            ready,
            servers,
            url,
            urls,
            failover,
            local,
            zookeeper,
            stop,
            last_error,
        })
    }

    /// Whether this process started the embedded servers (and stops them).
    pub fn owns_servers(&self) -> bool {
        !self.local.is_empty()
    }

    /// Stops the migration, the forwarder and the embedded servers, if
    /// any. The clients go first: a server with idle keep-alive connections
    /// open waits for them before exiting.
    pub async fn close(self) {
        let Self {
            client,
            servers,
            ready,
            local,
            zookeeper,
            stop,
            ..
        } = self;
        stop.cancel();
        drop((client, servers, ready));
        // Together: each waits a while for the others' connections to it.
        futures::future::join_all(local.into_iter().map(LocalClickHouse::stop)).await;
        if let Some(mut zookeeper) = zookeeper {
            zookeeper.kill().await;
        }
    }
}

/// The servers, shard after shard with their replicas; the local ones and
/// their ZooKeeper when highwater runs its own.
type Servers = (
    Vec<Vec<String>>,
    Vec<LocalClickHouse>,
    Option<LocalZooKeeper>,
);

async fn servers(settings: &Settings) -> anyhow::Result<Servers> {
    let clickhouse = &settings.clickhouse;
    if let Some(url) = &clickhouse.url {
        return Ok((vec![vec![url.clone()]], Vec::new(), None));
    }
    if clickhouse.cluster.is_some() {
        let shards = match clickhouse.replicas.is_empty() {
            true => clickhouse
                .shard_urls
                .iter()
                .map(|u| vec![u.clone()])
                .collect(),
            false => clickhouse.replicas.clone(),
        };
        return Ok((shards, Vec::new(), None));
    }
    let layout = Layout {
        shards: clickhouse.embedded_shards,
        replicas: clickhouse.embedded_replicas,
    };
    let by_shard = |urls: Vec<String>| {
        urls.chunks(layout.replicas)
            .map(<[String]>::to_vec)
            .collect()
    };
    // Another highwater (serve, demo) runs them on this directory: share them.
    if let Some(urls) = running_embedded(&settings.data_dir, layout.servers()).await {
        return Ok((by_shard(urls), Vec::new(), None));
    }
    let zookeeper = match layout.replicas > 1 {
        true => Some(
            LocalZooKeeper::start(&settings.data_dir.join("zookeeper"))
                .await
                .context("could not start the embedded ZooKeeper")?,
        ),
        false => None,
    };
    let binary = ServerBinary::find().context("could not start the embedded ClickHouse")?;
    let zookeeper_port = zookeeper.as_ref().map(LocalZooKeeper::port);
    let local = local_cluster::start(&binary, &settings.data_dir, layout, zookeeper_port)
        .await
        .context("could not start the embedded ClickHouse")?;
    let urls = local.iter().map(LocalClickHouse::url).collect();
    Ok((by_shard(urls), local, zookeeper))
}

/// The URLs of the `count` embedded servers that another highwater process
/// runs on `data_dir`, if every one answers.
async fn running_embedded(data_dir: &std::path::Path, count: usize) -> Option<Vec<String>> {
    let http = reqwest::Client::new();
    let mut urls = Vec::with_capacity(count);
    for index in 0..count {
        let url = LocalClickHouse::advertised_url_of(data_dir, index)?;
        let ping = http
            .get(format!("{url}/ping"))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if !ping.is_ok_and(|r| r.status().is_success()) {
            return None;
        }
        urls.push(url);
    }
    Some(urls)
}
