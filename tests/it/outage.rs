//! ClickHouse outages: ingest keeps acknowledging into the write-ahead log,
//! `/readyz` tells the truth, the backlog drains after recovery, nothing
//! acknowledged is lost; a full log answers 503.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::lane::TestClickHouse;
use crate::{ALPHA_INGEST, ALPHA_READ, TestApp, event_json, scratch_dir, spawn_app_with};

/// A batch of `n` heartbeats with event ids `{tag}-{i}`.
fn batch(tag: &str, n: usize) -> (Value, Vec<String>) {
    let ids: Vec<String> = (0..n).map(|i| format!("{tag}-{i}")).collect();
    let events: Vec<Value> = ids
        .iter()
        .map(|id| {
            let mut e = event_json("heartbeat", &format!("U-{tag}"), "S", 1);
            e["event_id"] = json!(id);
            e
        })
        .collect();
    (json!(events), ids)
}

async fn stored_ids(app: &TestApp) -> BTreeSet<String> {
    app.drained().await;
    app.db
        .query("SELECT DISTINCT event_id FROM events")
        .fetch_all::<String>()
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// One `/readyz` answer, as the test saw it.
#[derive(Debug)]
struct Readiness {
    at: Duration,
    status: u16,
    clickhouse_ok: bool,
    backlog_bytes: u64,
}

#[tokio::test]
async fn thirty_seconds_without_clickhouse_under_load_lose_nothing() {
    const OUTAGE: Duration = Duration::from_secs(30);
    let mut clickhouse = TestClickHouse::start(&scratch_dir("outage-30s")).await;
    let app = Arc::new(spawn_app_with("outage_30s", &clickhouse.url(), |_| {}).await);
    let started = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    // Batches acknowledged per client so far.
    let sent: Arc<[AtomicUsize; 4]> = Arc::new(Default::default());

    let mut clients = Vec::new();
    for client in 0..4 {
        let (app, done, acknowledged, sent) = (
            app.clone(),
            done.clone(),
            acknowledged.clone(),
            sent.clone(),
        );
        clients.push(tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let b = sent[client].load(Ordering::SeqCst);
                let (events, ids) = batch(&format!("c{client}-b{b}"), 50);
                let response = app.post_json(events.to_string()).await;
                // Ingest must keep acknowledging throughout the outage.
                assert_eq!(response.status(), 200, "{:?}", response.text().await);
                acknowledged.lock().await.extend(ids);
                sent[client].fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    let snapshot = |sent: &[AtomicUsize; 4]| -> Vec<usize> {
        sent.iter().map(|s| s.load(Ordering::SeqCst)).collect()
    };
    let probe = {
        let (app, done) = (app.clone(), done.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !done.load(Ordering::SeqCst) {
                let (status, body) = app.get("/readyz").await;
                seen.push(Readiness {
                    at: started.elapsed(),
                    status,
                    clickhouse_ok: body["clickhouse"] == "ok",
                    backlog_bytes: body["log"]["backlog_bytes"].as_u64().unwrap(),
                });
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            seen
        })
    };

    tokio::time::sleep(Duration::from_secs(3)).await;
    let down_at = started.elapsed();
    clickhouse.kill().await;
    let at_down = snapshot(&sent);
    tokio::time::sleep(OUTAGE).await;
    let at_up = snapshot(&sent);
    // Down until the restart begins: the server may answer (and /readyz
    // see it) before `restart` has finished its own checks.
    let restarting_at = started.elapsed();
    clickhouse.restart().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    done.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }
    let seen = probe.await.unwrap();
    // Every client kept being acknowledged while ClickHouse was away.
    for (down, up) in at_down.iter().zip(&at_up) {
        assert!(
            up > down,
            "acknowledged per client: {at_down:?} -> {at_up:?}"
        );
    }

    // While ClickHouse was down: not ready, and the backlog grew.
    let during: Vec<&Readiness> = seen
        .iter()
        .filter(|r| r.at > down_at + Duration::from_secs(3) && r.at < restarting_at)
        .collect();
    assert!(during.len() >= 2, "{seen:?}");
    assert!(
        during.iter().all(|r| r.status == 503 && !r.clickhouse_ok),
        "{during:?}"
    );
    let first = during.first().unwrap().backlog_bytes;
    let last = during.last().unwrap().backlog_bytes;
    assert!(first > 0 && last > first, "backlog {first} -> {last}");

    // Afterwards everything acknowledged is in ClickHouse, and /readyz
    // says so.
    let acknowledged = acknowledged.lock().await.clone();
    assert_eq!(stored_ids(&app).await, acknowledged);
    let (status, body) = app.get("/readyz").await;
    assert_eq!((status, &body["log"]["backlog_bytes"]), (200, &json!(0)));
    assert_eq!(body["log"]["clickhouse_error"], Value::Null);
    Arc::into_inner(app).unwrap().stop().await.unwrap();
}

#[tokio::test]
async fn a_full_log_answers_503_and_accepts_again_once_shipped() {
    let mut clickhouse = TestClickHouse::start(&scratch_dir("outage-full")).await;
    let app = spawn_app_with("outage_full", &clickhouse.url(), |settings| {
        settings.wal.segment_bytes = 16 * 1024;
        settings.wal.max_bytes = 64 * 1024;
    })
    .await;
    clickhouse.kill().await;

    let mut acknowledged = BTreeSet::new();
    let mut refused = None;
    for b in 0..200 {
        let (events, ids) = batch(&format!("b{b}"), 20);
        let response = app.post_json(events.to_string()).await;
        if response.status() == 200 {
            acknowledged.extend(ids);
            continue;
        }
        refused = Some(response);
        break;
    }
    let refused = refused.expect("a 64 KiB log never filled up");
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "5");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "storage_unavailable");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("65536 bytes not yet shipped"), "{message}");
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body["ingest"], "refusing: the log is full");

    clickhouse.restart().await;
    assert_eq!(stored_ids(&app).await, acknowledged);
    let (events, ids) = batch("after", 20);
    assert_eq!(app.post_json(events.to_string()).await.status(), 200);
    acknowledged.extend(ids);
    assert_eq!(stored_ids(&app).await, acknowledged);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_log_stops_saying_full_as_soon_as_a_batch_fits_again() {
    let mut clickhouse = TestClickHouse::start(&scratch_dir("outage-full-clears")).await;
    let app = spawn_app_with("outage_full_clears", &clickhouse.url(), |settings| {
        settings.wal.segment_bytes = 16 * 1024;
        settings.wal.max_bytes = 64 * 1024;
    })
    .await;
    clickhouse.kill().await;
    let mut acknowledged = BTreeSet::new();
    // Fill the log to about 40 KiB: over 20 KiB of room is left.
    let mut b = 0;
    while app.get("/readyz").await.1["log"]["disk_bytes"]
        .as_u64()
        .unwrap()
        < 40 * 1024
    {
        let (events, ids) = batch(&format!("b{b}"), 20);
        assert_eq!(app.post_json(events.to_string()).await.status(), 200);
        acknowledged.extend(ids);
        b += 1;
    }
    // A batch larger than the room left is refused: the log is full for it...
    let (big, _) = batch("big", 1_500);
    let refused = app.post_json(big.to_string()).await;
    assert_eq!(refused.status(), 503);
    let refused = refused.text().await.unwrap();
    let (_, ready) = app.get("/readyz").await;
    assert_eq!(ready["log"]["full"], true, "{refused} / {ready}");
    // ...but a small one fits, and then it no longer says it is full.
    let (small, ids) = batch("small", 1);
    assert_eq!(app.post_json(small.to_string()).await.status(), 200);
    acknowledged.extend(ids);
    let (_, ready) = app.get("/readyz").await;
    assert_eq!(ready["log"]["full"], false, "{ready}");
    assert_eq!(ready["ingest"], "accepting", "{ready}");

    clickhouse.restart().await;
    assert_eq!(stored_ids(&app).await, acknowledged);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_and_takes_events_while_clickhouse_is_down() {
    use highwater::bench::server_process::{free_addr, stop_server, wait_shipped};
    let dir = scratch_dir("serve-without-clickhouse");
    let mut clickhouse = TestClickHouse::start(&dir.join("clickhouse")).await;
    let url = clickhouse.url();
    clickhouse.kill().await;
    let listen = free_addr().unwrap();
    let config = dir.join("highwater.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{listen}\"\n[clickhouse]\nurl = \"{url}\"\ndatabase = \"it_no_clickhouse\"\n\
             [wal]\ndir = \"{}\"\nretry_max_ms = 500\nship_linger_ms = 20\n[jobs]\nenabled = false\n\
             [[project]]\nname = \"alpha\"\nbackfill = true\ningest_keys = [\"{ALPHA_INGEST}\"]\nread_keys = [\"{ALPHA_READ}\"]\n",
            dir.join("wal").display()
        ),
    )
    .unwrap();
    // Started with nothing at `url`: it serves anyway (it used to exit
    // with "could not open ClickHouse").
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_highwater"));
    let mut server = tokio::process::Command::new(exe)
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "highwater=warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = crate::http_client().build().unwrap();
    let base = format!("http://{listen}");
    let mut answered = false;
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            answered = r.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "serve did not start without ClickHouse");
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    // A read has nothing to answer from: 503.
    let read = http
        .get(format!("{base}/v1/records"))
        .bearer_auth(ALPHA_READ)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 503);
    // 1,000 events, every batch acknowledged into the log.
    let mut ids = BTreeSet::new();
    for b in 0..10 {
        let (events, batch_ids) = batch(&format!("down{b}"), 100);
        ids.extend(batch_ids);
        let response = http
            .post(format!("{base}/v1/events"))
            .bearer_auth(ALPHA_INGEST)
            .json(&events)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // ClickHouse comes: the schema is made, the log ships, reads answer.
    clickhouse.restart().await;
    wait_shipped(&listen, Duration::from_secs(60))
        .await
        .unwrap();
    let db = clickhouse::Client::default()
        .with_url(&url)
        .with_database("it_no_clickhouse")
        .with_validation(false);
    let stored: BTreeSet<String> = db
        .query("SELECT DISTINCT event_id FROM events")
        .fetch_all::<String>()
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(stored, ids);
    let read = http
        .get(format!("{base}/v1/records"))
        .bearer_auth(ALPHA_READ)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    stop_server(&mut server).await;
}
