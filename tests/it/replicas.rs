//! A replicated cluster — two shards of two replicas, Debian's ZooKeeper —
//! losing machines while `serve` takes events: one replica of each shard
//! killed (`kill -9`) under load, the server highwater reads through
//! killed, ZooKeeper stopped for 30 s. Every acknowledged event is stored,
//! ingest answers 200 throughout, the figures equal the independent
//! answers, and the killed replicas catch up. 18.16 lane only: chDB
//! cannot form a cluster.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use highwater::bench::server_process::{free_addr, spawn_server_from, stop_server, wait_shipped};
use highwater::config::ClickHouseSettings;
use highwater::store::local_cluster::{self, Layout};
use highwater::store::local_server::{EMBEDDED_CLUSTER, LocalClickHouse, ServerBinary};
use highwater::store::local_zookeeper::LocalZooKeeper;

use crate::crash::{DAY_START_MS, all_ids, expected_peak_and_dau, figures, post_batch};
use crate::{ALPHA_INGEST, ALPHA_READ, scratch_dir};

/// A private replicated cluster and a `serve` process on it.
struct Setup {
    zookeeper: LocalZooKeeper,
    /// Shard after shard, replica after replica.
    servers: Vec<LocalClickHouse>,
    listen: String,
    config: std::path::PathBuf,
    database: String,
}

impl Setup {
    async fn start(name: &str) -> Self {
        let dir = scratch_dir(name);
        let zookeeper = LocalZooKeeper::start(&dir.join("zookeeper")).await.unwrap();
        let binary = ServerBinary::find().unwrap();
        let layout = Layout {
            shards: 2,
            replicas: 2,
        };
        let servers = local_cluster::start(&binary, &dir, layout, Some(zookeeper.port()))
            .await
            .unwrap();
        let urls: Vec<String> = servers.iter().map(|s| format!("\"{}\"", s.url())).collect();
        let listen = free_addr().unwrap();
        let config = dir.join("highwater.toml");
        let database = format!("it_{name}");
        std::fs::write(
            &config,
            format!(
                "listen = \"{listen}\"\n\
                 [clickhouse]\ncluster = \"{EMBEDDED_CLUSTER}\"\nreplicated = true\n\
                 replicas = [[{}], [{}]]\ndatabase = \"{database}\"\n\
                 [wal]\ndir = \"{}\"\nretry_max_ms = 1000\nship_linger_ms = 20\n\
                 [jobs]\nenabled = false\n\
                 [[project]]\nname = \"alpha\"\nbackfill = true\n\
                 ingest_keys = [\"{ALPHA_INGEST}\"]\nread_keys = [\"{ALPHA_READ}\"]\n",
                urls[..2].join(", "),
                urls[2..].join(", "),
                dir.join("wal").display()
            ),
        )
        .unwrap();
        Self {
            zookeeper,
            servers,
            listen,
            config,
            database,
        }
    }

    async fn serve(&self) -> tokio::process::Child {
        let exe = std::path::Path::new(env!("CARGO_BIN_EXE_highwater"));
        spawn_server_from(exe, &self.config, &self.listen, &[])
            .await
            .unwrap()
    }

    /// A client of the cluster through `server`'s `Distributed` tables.
    async fn client(&self, server: usize) -> clickhouse::Client {
        let settings = ClickHouseSettings {
            url: Some(self.servers[server].url()),
            database: self.database.clone(),
            ..ClickHouseSettings::default()
        };
        highwater::store::connect::main_client(
            &settings,
            &[highwater::store::connect::bare_client(
                &settings,
                &self.servers[server].url(),
            )],
        )
        .with_setting("insert_distributed_sync", "1")
    }

    /// Rows of `events_local` on `server`.
    async fn local_rows(&self, server: usize) -> u64 {
        self.client(server)
            .await
            .query("SELECT count() FROM events_local")
            .fetch_one()
            .await
            .unwrap()
    }
}

/// Posts batches from `next` until `stop`; every answer must be 200
/// (an outage of replicas is no reason to refuse a batch).
async fn post_until(listen: String, next: Arc<AtomicUsize>, stop: Arc<AtomicBool>) {
    let http = crate::http_client().build().unwrap();
    while !stop.load(Ordering::SeqCst) {
        post_batch(&http, &listen, next.fetch_add(1, Ordering::SeqCst)).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Once the log has shipped, every batch below `batches` is stored, read
/// through `server`.
async fn every_acknowledged_event_is_stored(setup: &Setup, server: usize, batches: usize) {
    wait_shipped(&setup.listen, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(
        stored(setup, server).await,
        all_ids(batches),
        "acknowledged events are missing"
    );
}

/// Every event id stored, through `server`.
async fn stored(setup: &Setup, server: usize) -> BTreeSet<String> {
    setup
        .client(server)
        .await
        .query("SELECT DISTINCT event_id FROM events")
        .fetch_all::<String>()
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_two_shards_with_replicas_machines_die_under_load_and_nothing_is_lost() {
    let mut setup = Setup::start("replicas_die").await;
    let mut server = setup.serve().await;
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let posting = tokio::spawn(post_until(setup.listen.clone(), next.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;

    // One replica of each shard dies; ingest goes on.
    setup.servers[1].kill().await;
    setup.servers[3].kill().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    // The server highwater reads through dies too: reads move on.
    let read = || async {
        crate::http_client()
            .build()
            .unwrap()
            .get(format!("http://{}/v1/records", setup.listen))
            .bearer_auth(ALPHA_READ)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(read().await, 200);
    setup.servers[1].restart().await.unwrap();
    setup.servers[3].restart().await.unwrap();
    setup.servers[0].kill().await;
    let killed = Instant::now();
    while read().await != 200 {
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "reads did not move on"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "reads answered again {:?} after their server died",
        killed.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    setup.servers[0].restart().await.unwrap();
    stop.store(true, Ordering::SeqCst);
    posting.await.unwrap();
    let batches = next.load(Ordering::SeqCst);
    every_acknowledged_event_is_stored(&setup, 2, batches).await;

    // The killed replicas catch up with their shard.
    let caught_up = Instant::now();
    while setup.local_rows(0).await != setup.local_rows(1).await
        || setup.local_rows(2).await != setup.local_rows(3).await
    {
        assert!(
            caught_up.elapsed() < Duration::from_secs(60),
            "replicas did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let figures = figures(&setup.client(0).await).await;
    let march_25 = figures
        .iter()
        .find(|d| d.day_start == (DAY_START_MS / 1000) as u32)
        .expect("figures for 2020-03-25");
    assert_eq!(
        (march_25.peak_users, march_25.dau),
        expected_peak_and_dau(batches),
        "against a sweep independent of the jobs"
    );
    stop_server(&mut server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_two_shards_with_replicas_zookeeper_away_for_30_s_loses_nothing() {
    let mut setup = Setup::start("zookeeper_away").await;
    let mut server = setup.serve().await;
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let posting = tokio::spawn(post_until(setup.listen.clone(), next.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Without its coordinator, replicated tables are read-only: the log
    // holds every batch.
    setup.zookeeper.kill().await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let ready: serde_json::Value = reqwest::get(format!("http://{}/readyz", setup.listen))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        ready["log"]["backlog_bytes"].as_u64().unwrap() > 0,
        "{ready}"
    );
    setup.zookeeper.restart().await.unwrap();
    stop.store(true, Ordering::SeqCst);
    posting.await.unwrap();
    let batches = next.load(Ordering::SeqCst);
    every_acknowledged_event_is_stored(&setup, 0, batches).await;
    stop_server(&mut server).await;
}
