//! `received_sessions`: which sessions had events received when (what
//! live rounds read to bring today up to date since their last cut-off),
//! and its upkeep (days older than yesterday dropped, on every server).

use std::collections::BTreeMap;

use highwater::store::connect::{connect_shards, topology};
use highwater::store::received_sessions::forget_old;
use highwater::store::schema::received_sessions_table;

use crate::{ALPHA_INGEST, NOW_MS, Place, event_json, spawn_app_with};

const DAY_MS: i64 = 86_400_000;

async fn receipts_are_kept_per_session_and_old_days_dropped(place: Place) {
    let app = spawn_app_with("received_sessions", place.url(), |s| place.apply(s)).await;
    // Three posts at three server times: u1 and u2 post twice (their
    // latest counts), u0 once; users enough to reach both shards.
    let posts: [(i64, Vec<String>); 3] = [
        (NOW_MS, vec!["u0".into(), "u1".into()]),
        (NOW_MS + 7_000, vec!["u1".into(), "u2".into()]),
        (NOW_MS + 9_000, (2..20).map(|u| format!("u{u}")).collect()),
    ];
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for (at, users) in posts {
        app.clock.set(at);
        let events: Vec<_> = users
            .iter()
            .map(|user| event_json("heartbeat", user, &format!("{user}-s"), 5))
            .collect();
        app.post_accepted(ALPHA_INGEST, &events).await;
        app.drained().await;
        for user in users {
            expected.insert(user, at);
        }
    }
    let latest: Vec<(String, i64)> = app
        .db
        .query(
            "SELECT user_id, max(received_ms) FROM received_sessions
             WHERE project = 'alpha' GROUP BY user_id ORDER BY user_id",
        )
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(latest, expected.into_iter().collect::<Vec<_>>());

    let settings = &app.settings.clickhouse;
    let urls = match &settings.url {
        Some(url) => vec![url.clone()],
        None => settings.shard_urls.clone(),
    };
    let shards = connect_shards(settings, &urls).await.unwrap();
    let table = received_sessions_table(&topology(settings));
    let count = || async {
        app.db
            .query("SELECT count() FROM received_sessions")
            .fetch_one::<u64>()
            .await
            .unwrap()
    };
    let rows = count().await;
    assert!(rows >= 20, "{rows} rows");
    // The next day, the receipts of yesterday are kept...
    assert_eq!(
        forget_old(&shards, table, NOW_MS + DAY_MS).await.unwrap(),
        0
    );
    assert_eq!(count().await, rows);
    // ...and the day after, dropped on every server that holds some.
    let mut holding = 0;
    for shard in &shards {
        let rows: u64 = shard
            .query(&format!("SELECT count() FROM {table}"))
            .fetch_one()
            .await
            .unwrap();
        holding += usize::from(rows > 0);
    }
    assert_eq!(holding, urls.len(), "every server holds receipts");
    assert_eq!(
        forget_old(&shards, table, NOW_MS + 2 * DAY_MS)
            .await
            .unwrap(),
        holding
    );
    assert_eq!(count().await, 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn receipts_are_kept_per_session_and_old_days_dropped_on_one_node() {
    receipts_are_kept_per_session_and_old_days_dropped(Place::Node).await;
}

#[tokio::test]
async fn receipts_are_kept_per_session_and_old_days_dropped_on_two_shards() {
    receipts_are_kept_per_session_and_old_days_dropped(Place::TwoShards).await;
}
