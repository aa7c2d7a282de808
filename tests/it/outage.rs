//! ClickHouse outages: ingest keeps acknowledging into the write-ahead log,
//! `/readyz` tells the truth, the backlog drains after recovery, nothing
//! acknowledged is lost; a full log answers 503.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::lane::TestClickHouse;
use crate::{TestApp, event_json, scratch_dir, spawn_app_with};

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

    let mut clients = Vec::new();
    for client in 0..4 {
        let (app, done, acknowledged) = (app.clone(), done.clone(), acknowledged.clone());
        clients.push(tokio::spawn(async move {
            let mut sent = 0;
            while !done.load(Ordering::SeqCst) {
                let (events, ids) = batch(&format!("c{client}-b{sent}"), 50);
                let response = app.post_json(events.to_string()).await;
                // Ingest must keep acknowledging throughout the outage.
                assert_eq!(response.status(), 200, "{:?}", response.text().await);
                acknowledged.lock().await.extend(ids);
                sent += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            sent
        }));
    }
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
    tokio::time::sleep(OUTAGE).await;
    let acknowledged_during_outage = acknowledged.lock().await.len();
    clickhouse.restart().await;
    let up_at = started.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    done.store(true, Ordering::SeqCst);
    for client in clients {
        assert!(client.await.unwrap() > 100, "a client sent too little");
    }
    let seen = probe.await.unwrap();

    // While ClickHouse was down: not ready, and the backlog grew.
    let during: Vec<&Readiness> = seen
        .iter()
        .filter(|r| r.at > down_at + Duration::from_secs(3) && r.at < up_at)
        .collect();
    assert!(during.len() > 20, "{seen:?}");
    assert!(
        during.iter().all(|r| r.status == 503 && !r.clickhouse_ok),
        "{during:?}"
    );
    let first = during.first().unwrap().backlog_bytes;
    let last = during.last().unwrap().backlog_bytes;
    assert!(first > 0 && last > first, "backlog {first} -> {last}");
    assert!(acknowledged_during_outage > 0);

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
