//! `kill -9` at random moments, with several clients posting: every
//! acknowledged event reaches ClickHouse, and the figures equal those of a
//! run without crashes. 20 kills by default; the soak run sets
//! `HIGHWATER_KILLS=100` (see README).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use highwater::bench::server_process::{free_addr, spawn_server_from, stop_server};
use highwater::config::{ClickHouseSettings, ProjectSettings};
use highwater::store::figures::{DailyFiguresRow, all_days};
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use crate::{ALPHA_INGEST, ALPHA_READ, clickhouse_url, scratch_dir, spawn_app_with};

const EVENTS_PER_BATCH: usize = 10;
/// 2020-03-25T00:00:00Z
pub(crate) const DAY_START_MS: i64 = 1_585_094_400_000;

fn kills() -> usize {
    std::env::var("HIGHWATER_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Batch `b`: one whole session of one of 97 users on 2020-03-25, start,
/// eight heartbeats and end, each event with its own id.
pub(crate) fn batch(b: usize) -> Value {
    let (start, end) = session(b);
    let length = end - start;
    let events: Vec<Value> = (0..EVENTS_PER_BATCH)
        .map(|k| {
            let kind = match k {
                0 => "session_start",
                k if k == EVENTS_PER_BATCH - 1 => "session_end",
                _ => "heartbeat",
            };
            let at = start + length * k as i64 / (EVENTS_PER_BATCH as i64 - 1);
            json!({
                "type": kind,
                "user_id": format!("U{}", b % 97),
                "session_id": format!("S{b}"),
                "ts": at * 1000,
                "event_id": format!("b{b}-e{k}"),
            })
        })
        .collect();
    json!(events)
}

/// `[start, end)` in epoch seconds of batch `b`'s session, as [`batch`] builds it.
fn session(b: usize) -> (i64, i64) {
    let start = DAY_START_MS / 1000 + (splitmix(b as u64) % 80_000) as i64;
    let length = 30 + (splitmix(b as u64 + 1_000_000) % 7_200) as i64;
    (start, start + length)
}

/// `peak_users` and DAU of 2020-03-25 for batches `0..batches`, by a plain
/// second-by-second sweep over merged per-user intervals (DESIGN §2), not
/// through highwater's jobs.
pub(crate) fn expected_peak_and_dau(batches: usize) -> (u32, u64) {
    let day = DAY_START_MS / 1000;
    let mut by_user: std::collections::BTreeMap<usize, Vec<(i64, i64)>> = Default::default();
    for b in 0..batches {
        by_user.entry(b % 97).or_default().push(session(b));
    }
    let mut delta = vec![0i32; 86_401];
    for intervals in by_user.values_mut() {
        intervals.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::new();
        for &(start, end) in intervals.iter() {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        for (start, end) in merged {
            let (from, to) = ((start - day).clamp(0, 86_400), (end - day).clamp(0, 86_400));
            delta[from as usize] += 1;
            delta[to as usize] -= 1;
        }
    }
    let mut now = 0;
    let peak = delta[..86_400]
        .iter()
        .map(|d| {
            now += d;
            now
        })
        .max()
        .unwrap_or(0);
    (peak as u32, by_user.len() as u64)
}

pub(crate) fn all_ids(batches: usize) -> BTreeSet<String> {
    (0..batches)
        .flat_map(|b| (0..EVENTS_PER_BATCH).map(move |k| format!("b{b}-e{k}")))
        .collect()
}

pub(crate) fn alpha() -> ProjectSettings {
    let mut alpha = ProjectSettings::new("alpha", ALPHA_INGEST, ALPHA_READ);
    alpha.backfill = true;
    alpha
}

/// Figures of 03-24..03-26 computed on `db`, without the time they were computed.
pub(crate) async fn figures(db: &clickhouse::Client) -> Vec<DailyFiguresRow> {
    let project = alpha();
    let later = || DAY_START_MS + 30 * 86_400_000;
    highwater::jobs::runner::run_range(
        db,
        &project,
        highwater::jobs::slicing::Slicing::default(),
        "2020-03-24".parse().unwrap(),
        "2020-03-26".parse().unwrap(),
        later,
        |_| {},
    )
    .await
    .unwrap();
    let mut rows = all_days(db, "alpha").await.unwrap();
    for row in &mut rows {
        row.computed_ms = 0;
    }
    rows
}

/// Clients posting batches (see [`client`]) until stopped.
pub(crate) struct Clients {
    running: Vec<tokio::task::JoinHandle<usize>>,
    stop: Arc<AtomicBool>,
    next: Arc<AtomicUsize>,
}

impl Clients {
    /// `n` clients posting to the server on `listen`.
    pub(crate) fn start(n: usize, listen: &str) -> Self {
        let next = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let running = (0..n)
            .map(|_| {
                tokio::spawn(client(
                    format!("http://{listen}/v1/events"),
                    next.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        Self {
            running,
            stop,
            next,
        }
    }

    /// Stops the clients, waits until the server on `listen` has shipped
    /// its log (however busy ClickHouse is: a graceful stop ships for at
    /// most `shutdown_drain_s`), then stops it; returns how many batches
    /// were acknowledged and every event id stored in `db`.
    pub(crate) async fn stop_with(
        self,
        server: &mut tokio::process::Child,
        listen: &str,
        db: &clickhouse::Client,
    ) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let mut sent = 0;
        for client in self.running {
            sent += client.await.unwrap();
        }
        highwater::bench::server_process::wait_shipped(listen, Duration::from_secs(180))
            .await
            .unwrap();
        stop_server(server).await;
        let batches = self.next.load(Ordering::SeqCst);
        assert_eq!(sent, batches, "every batch taken was acknowledged");
        let stored = db
            .query("SELECT event_id FROM events")
            .fetch_all()
            .await
            .unwrap();
        (batches, stored)
    }
}

/// A `highwater serve` process of its own on a fresh database, with its log
/// in `wal` (`wal_settings`, `ingest_settings`: more lines of its `[wal]`
/// and `[ingest]` sections), to be killed and started again.
pub(crate) struct KillableServer {
    pub db: clickhouse::Client,
    pub listen: String,
    config: std::path::PathBuf,
}

impl KillableServer {
    pub(crate) async fn prepare(
        dir: &std::path::Path,
        database: &str,
        wal: &std::path::Path,
        wal_settings: &str,
        ingest_settings: &str,
    ) -> Self {
        let url = clickhouse_url();
        let admin = clickhouse::Client::default().with_url(url);
        admin
            .query("DROP DATABASE IF EXISTS ?")
            .bind(clickhouse::sql::Identifier(database))
            .execute()
            .await
            .unwrap();
        let settings = ClickHouseSettings {
            url: Some(url.to_owned()),
            database: database.to_owned(),
            ..ClickHouseSettings::default()
        };
        let db = highwater::store::connect(&settings, url).await.unwrap();
        let listen = free_addr().unwrap();
        let config = dir.join("highwater.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"{listen}\"\n\
                 [clickhouse]\nurl = \"{url}\"\ndatabase = \"{database}\"\n\
                 [wal]\ndir = \"{}\"\nretry_max_ms = 1000\nship_linger_ms = 20\n{wal_settings}\n\
                 [ingest]\n{ingest_settings}\n[jobs]\nenabled = false\n\
                 [[project]]\nname = \"alpha\"\nbackfill = true\n\
                 ingest_keys = [\"{ALPHA_INGEST}\"]\nread_keys = [\"{ALPHA_READ}\"]\n",
                wal.display()
            ),
        )
        .unwrap();
        Self { db, listen, config }
    }

    /// Starts the server; returns once it is ready.
    pub(crate) async fn start(&self) -> tokio::process::Child {
        let exe = std::path::Path::new(env!("CARGO_BIN_EXE_highwater"));
        spawn_server_from(exe, &self.config, &self.listen, &[])
            .await
            .unwrap_or_else(|e| panic!("highwater serve did not start: {e:#}"))
    }

    /// Kills it (`kill -9`) and waits until it is gone.
    pub(crate) async fn kill(server: &mut tokio::process::Child) {
        server.start_kill().unwrap();
        server.wait().await.unwrap();
    }
}

/// Posts batches from `next` until `stop`; each batch is retried until a
/// 200 (connection errors and 503 are what a crash looks like from here).
async fn client(url: String, next: Arc<AtomicUsize>, stop: Arc<AtomicBool>) -> usize {
    let http = crate::http_client()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut sent = 0;
    while !stop.load(Ordering::SeqCst) {
        let b = next.fetch_add(1, Ordering::SeqCst);
        let body = batch(b).to_string();
        loop {
            let response = http
                .post(&url)
                .bearer_auth(ALPHA_INGEST)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            match response {
                Ok(r) if r.status() == 200 => break,
                Ok(r) if r.status() == 503 => {}
                Ok(r) => panic!("batch {b}: {} {}", r.status(), r.text().await.unwrap()),
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sent += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_at_random_moments_loses_nothing_acknowledged() {
    let kills = kills();
    let seed: u64 = std::env::var("HIGHWATER_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    println!("kill -9 test: {kills} kills, HIGHWATER_KILL_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let dir = scratch_dir("kill9");
    let server_setup = KillableServer::prepare(
        &dir,
        "it_kill9",
        &dir.join("wal"),
        "segment_bytes = 65536",
        "",
    )
    .await;
    let (db, listen) = (server_setup.db.clone(), server_setup.listen.clone());
    let mut server = server_setup.start().await;

    let clients = Clients::start(4, &listen);
    for kill in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..600))).await;
        KillableServer::kill(&mut server).await;
        println!("restarting after kill {kill}");
        server = server_setup.start().await;
    }
    let (batches, stored) = clients.stop_with(&mut server, &listen, &db).await;
    let distinct: BTreeSet<String> = stored.iter().cloned().collect();
    println!(
        "{batches} batches acknowledged across {kills} kills; {} rows stored, {} distinct, {} duplicates",
        stored.len(),
        distinct.len(),
        stored.len() - distinct.len()
    );
    assert!(batches > kills * 5, "too little traffic to mean anything");
    assert_eq!(
        distinct,
        all_ids(batches),
        "acknowledged events are missing"
    );

    // The same batches into a server that never crashed.
    let clean = spawn_app_with("kill9_clean", clickhouse_url(), |s| {
        s.projects = vec![alpha()]
    })
    .await;
    clean.clock.set(DAY_START_MS + 3 * 86_400_000);
    for b in 0..batches {
        let response = clean.post_json(batch(b).to_string()).await;
        assert_eq!(response.status(), 200);
    }
    clean.drained().await;
    let crashed = figures(&db).await;
    let march_25 = crashed
        .iter()
        .find(|d| d.day_start == (DAY_START_MS / 1000) as u32);
    let march_25 = march_25.expect("figures for 2020-03-25");
    assert!(march_25.peak_users > 10, "{crashed:?}");
    assert_eq!(
        (march_25.peak_users, march_25.dau),
        expected_peak_and_dau(batches),
        "against a sweep independent of the jobs"
    );
    assert_eq!(crashed, figures(&clean.db).await);
    clean.stop().await.unwrap();
}

/// Posts batches `range` to the server on `listen`; each must get 200.
async fn post_batches(listen: &str, range: std::ops::Range<usize>) {
    let http = crate::http_client().build().unwrap();
    for b in range {
        post_batch(&http, listen, b).await;
    }
}

/// Posts batch `b` to the server on `listen`; it must get 200.
pub(crate) async fn post_batch(http: &reqwest::Client, listen: &str, b: usize) {
    let response = http
        .post(format!("http://{listen}/v1/events"))
        .bearer_auth(ALPHA_INGEST)
        .json(&batch(b))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "batch {b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_clickhouse_lost_are_shipped_again_after_an_unclean_stop() {
    use highwater::bench::server_process::wait_shipped;
    let dir = scratch_dir("reship");
    let server_setup = KillableServer::prepare(&dir, "it_reship", &dir.join("wal"), "", "").await;
    let (db, listen) = (server_setup.db.clone(), server_setup.listen.clone());
    let mut server = server_setup.start().await;
    post_batches(&listen, 0..20).await;
    wait_shipped(&listen, Duration::from_secs(30))
        .await
        .unwrap();
    post_batches(&listen, 20..40).await;
    wait_shipped(&listen, Duration::from_secs(30))
        .await
        .unwrap();
    // ClickHouse loses the newest rows, as a power cut of its machine
    // would lose parts it never fsynced (18.16 never does)...
    let newest: i64 = db
        .query("SELECT max(received_ms) FROM events")
        .fetch_one()
        .await
        .unwrap();
    db.query("ALTER TABLE events DELETE WHERE received_ms >= ?")
        .bind(newest - 100)
        .execute()
        .await
        .unwrap();
    for _ in 0..100 {
        let left: u64 = db
            .query("SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0")
            .fetch_one()
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored = |db: clickhouse::Client| async move {
        db.query("SELECT DISTINCT event_id FROM events")
            .fetch_all::<String>()
            .await
            .unwrap()
            .into_iter()
            .collect::<BTreeSet<String>>()
    };
    assert!(
        stored(db.clone()).await.len() < all_ids(40).len(),
        "nothing was lost"
    );
    // ...and highwater dies with it: the restart ships its tail again.
    KillableServer::kill(&mut server).await;
    let mut server = server_setup.start().await;
    wait_shipped(&listen, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        stored(db.clone()).await,
        all_ids(40),
        "acknowledged events are missing"
    );
    stop_server(&mut server).await;
}
