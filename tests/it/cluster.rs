//! highwater on a two-shard cluster of ClickHouse's own (`Distributed`
//! tables, no ZooKeeper): one user's events on one shard, and a shard
//! stopped under load costs nothing. (The hand cases and the brute force run
//! on two shards too, in `cases.rs` and `brute_force.rs`.)

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use highwater::store::local_server::{EMBEDDED_CLUSTER, LocalClickHouse};
use serde_json::Value;

use crate::crash::{DAY_START_MS, all_ids, alpha, batch, expected_peak_and_dau, figures};
use crate::{Place, TestApp, scratch_dir, spawn_app_with};

/// The users whose events shard `url` holds in its own part of `database`.
async fn users_on(url: &str, database: &str) -> BTreeSet<String> {
    clickhouse::Client::default()
        .with_url(url)
        .with_validation(false)
        .with_database(database)
        .query("SELECT DISTINCT user_id FROM events_local")
        .fetch_all::<String>()
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// Posts batches `from..to` (each retried until acknowledged).
async fn post_batches(app: &TestApp, batches: std::ops::Range<usize>) {
    for b in batches {
        let response = app.post_json(batch(b).to_string()).await;
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
    }
}

#[tokio::test]
async fn on_two_shards_every_users_events_live_on_exactly_one_shard() {
    let place = Place::TwoShards;
    let app = spawn_app_with("cluster_placement", place.url(), |settings| {
        settings.projects = vec![alpha()];
        place.apply(settings);
    })
    .await;
    app.clock.set(DAY_START_MS + 3 * 86_400_000);
    post_batches(&app, 0..300).await;
    app.drained().await;

    let database = &app.settings.clickhouse.database;
    let shards = &app.settings.clickhouse.shard_urls;
    let (first, second) = (
        users_on(&shards[0], database).await,
        users_on(&shards[1], database).await,
    );
    assert!(
        first.len() > 10 && second.len() > 10,
        "{} / {}",
        first.len(),
        second.len()
    );
    assert!(first.is_disjoint(&second), "a user on both shards");
    let all: BTreeSet<String> = (0..97).map(|u| format!("U{u}")).collect();
    assert_eq!(first.union(&second).cloned().collect::<BTreeSet<_>>(), all);
    // Through the Distributed table, every event, once.
    let stored: Vec<String> = app
        .db
        .query("SELECT event_id FROM events")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        stored.iter().cloned().collect::<BTreeSet<_>>(),
        all_ids(300)
    );
    assert_eq!(stored.len(), all_ids(300).len());
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_two_shards_a_shard_stopped_for_30_s_under_load_loses_nothing() {
    const OUTAGE: Duration = Duration::from_secs(30);
    let mut servers = LocalClickHouse::start_cluster(&scratch_dir("cluster-outage"), 2)
        .await
        .unwrap();
    let urls: Vec<String> = servers.iter().map(LocalClickHouse::url).collect();
    let app = Arc::new(
        spawn_app_with("cluster_outage", &urls[0], |settings| {
            settings.projects = vec![alpha()];
            settings.clickhouse.url = None;
            settings.clickhouse.cluster = Some(EMBEDDED_CLUSTER.into());
            settings.clickhouse.shard_urls = urls.clone();
        })
        .await,
    );
    app.clock.set(DAY_START_MS + 3 * 86_400_000);
    let (next, done) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let (app, next, done) = (app.clone(), next.clone(), done.clone());
            tokio::spawn(async move {
                let mut acknowledged = 0;
                while !done.load(Ordering::SeqCst) {
                    let b = next.fetch_add(1, Ordering::SeqCst);
                    let response = app.post_json(batch(b).to_string()).await;
                    // Ingest keeps acknowledging into the log throughout.
                    assert_eq!(response.status(), 200, "{:?}", response.text().await);
                    acknowledged += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                acknowledged
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    servers[1].kill().await;
    let at_down = next.load(Ordering::SeqCst);
    tokio::time::sleep(OUTAGE).await;
    let (_, ready) = app.get("/readyz").await;
    assert!(
        ready["log"]["backlog_bytes"].as_u64().unwrap() > 0,
        "{ready}"
    );
    assert!(
        next.load(Ordering::SeqCst) > at_down,
        "nothing acknowledged while a shard was down"
    );
    servers[1].restart().await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    done.store(true, Ordering::SeqCst);
    let mut acknowledged = 0;
    for client in clients {
        acknowledged += client.await.unwrap();
    }
    let batches = next.load(Ordering::SeqCst);
    assert_eq!(acknowledged, batches);

    // Every acknowledged event is in the cluster (a failed insert may have
    // left copies on the shard that took it: duplicates, harmless).
    app.drained().await;
    let stored: BTreeSet<String> = app
        .db
        .query("SELECT DISTINCT event_id FROM events")
        .fetch_all()
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(stored, all_ids(batches));
    // The figures are exact: against an independent sweep, and equal to one
    // node's for the same batches.
    let on_cluster = figures(&app.db).await;
    let march_25 = on_cluster
        .iter()
        .find(|d| d.day_start == (DAY_START_MS / 1000) as u32)
        .expect("figures for 2020-03-25");
    assert_eq!(
        (march_25.peak_users, march_25.dau),
        expected_peak_and_dau(batches)
    );
    let node = spawn_app_with("cluster_outage_node", Place::Node.url(), |s| {
        s.projects = vec![alpha()]
    })
    .await;
    node.clock.set(DAY_START_MS + 3 * 86_400_000);
    post_batches(&node, 0..batches).await;
    node.drained().await;
    assert_eq!(on_cluster, figures(&node.db).await);
    let (_, ready): (u16, Value) = app.get("/readyz").await;
    assert_eq!(ready["log"]["backlog_bytes"], 0, "{ready}");
    node.stop().await.unwrap();
    Arc::into_inner(app).unwrap().stop().await.unwrap();
}
