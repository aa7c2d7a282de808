use highwater::domain::batch::{BodyFormat, parse_batch};
use highwater::domain::validate::AcceptWindow;
use highwater::store::migrations::{latest_version, migrate, migrate_up_to};
use highwater::store::row_binary::{EVENT_COLUMNS, encode_event};
use highwater::store::schema::Topology;
use serde_json::json;

use crate::{NOW_MS, clickhouse_url, spawn_app};

#[tokio::test]
async fn migrations_are_recorded_and_running_them_again_changes_nothing() {
    let app = spawn_app("migrations").await;
    // spawn_app already migrated the fresh database.
    assert_eq!(migrate(&app.db, &Topology::SingleNode).await.unwrap(), 0);
    let versions: Vec<u32> = app
        .db
        .query("SELECT version FROM highwater_migrations ORDER BY version")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        versions,
        (1..=latest_version(&Topology::SingleNode)).collect::<Vec<_>>()
    );
    let tables: Vec<String> = app
        .db
        .query("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        tables,
        [
            "alert_episodes",
            "alerts_sent",
            "concurrency_minutes",
            "daily_active_buckets",
            "daily_figures",
            "dashboard_sessions",
            "events",
            "highwater_migrations",
            "instances",
            "received_sessions",
            "received_sessions_mv",
            "segment_days",
            "segment_figures",
            "sessions_by_day",
            "sessions_by_day_mv",
        ]
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_older_schema_with_data_is_carried_over_to_buckets() {
    // A database as the version before buckets left it, with events and a
    // stored DAU set in it.
    let db = fresh_database("it_migrate_buckets").await;
    migrate_up_to(&db, &Topology::SingleNode, 3).await.unwrap();
    let events: Vec<_> = (0..40)
        .map(|u| {
            json!({"type": "session_start", "user_id": format!("U{u}"), "session_id": "S",
                   "ts": NOW_MS - 3_600_000})
        })
        .collect();
    insert_events(&db, &events).await;
    let users: Vec<String> = (0..40).map(|u| format!("U{u}")).collect();
    db.query("INSERT INTO daily_active_sets (project, day, computed_ms, users) VALUES ('alpha', toDate('2020-03-25'), 7, ?)")
        .bind(&users)
        .execute()
        .await
        .unwrap();

    assert_eq!(
        migrate_up_to(&db, &Topology::SingleNode, 4).await.unwrap(),
        1
    );
    let sessions: u64 = db
        .query("SELECT count() FROM (SELECT user_id, session_id FROM sessions_by_day GROUP BY user_id, session_id)")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(sessions, 40);
    // Every user in exactly one bucket, the one ClickHouse's hash gives.
    let carried: Vec<(u8, String)> = db
        .query("SELECT bucket, u FROM daily_active_buckets FINAL ARRAY JOIN users AS u ORDER BY u")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(carried.len(), 40);
    let expected: Vec<u8> = db
        .query("SELECT toUInt8(cityHash64(u) % 64) FROM (SELECT arrayJoin(?) AS u) ORDER BY u")
        .bind(&users)
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        carried.iter().map(|(b, _)| *b).collect::<Vec<_>>(),
        expected
    );
    let old: Vec<String> = db
        .query("SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN ('session_days', 'session_days_mv', 'daily_active_sets')")
        .fetch_all()
        .await
        .unwrap();
    assert!(old.is_empty(), "{old:?}");
}

#[tokio::test]
async fn sessions_stored_before_segments_get_their_values() {
    let db = fresh_database("it_migrate_segments").await;
    migrate_up_to(&db, &Topology::SingleNode, 4).await.unwrap();
    let event = |ts_ms: i64, country: &str| {
        json!({"type": "heartbeat", "user_id": "U1", "session_id": "S", "ts": ts_ms,
               "country": country})
    };
    // The earliest event with a country is the DE one.
    insert_events(
        &db,
        &[event(NOW_MS - 60_000, "US"), event(NOW_MS - 120_000, "DE")],
    )
    .await;
    // Segments, then the alerts table, the received users, the
    // instances' tables and the received sessions.
    assert_eq!(migrate(&db, &Topology::SingleNode).await.unwrap(), 5);
    assert_eq!(session_country(&db).await, "DE", "carried over");
    // After the migration the view fills the values as events arrive.
    insert_events(&db, &[event(NOW_MS - 180_000, "FR")]).await;
    assert_eq!(session_country(&db).await, "FR", "from the view");
    // Running it again (a migration cut short) changes nothing.
    assert_eq!(migrate(&db, &Topology::SingleNode).await.unwrap(), 0);
}

async fn session_country(db: &clickhouse::Client) -> String {
    db.query(
        "SELECT substring(minMerge(country_first), 12) FROM sessions_by_day
         GROUP BY user_id, session_id",
    )
    .fetch_one()
    .await
    .unwrap()
}

/// An empty database of its own, on the test server. Row validation off:
/// 18.16 knows nothing of it, and it checks nothing these tests need.
async fn fresh_database(database: &str) -> clickhouse::Client {
    let admin = clickhouse::Client::default().with_url(clickhouse_url());
    admin
        .query("DROP DATABASE IF EXISTS ?")
        .bind(clickhouse::sql::Identifier(database))
        .execute()
        .await
        .unwrap();
    admin
        .query("CREATE DATABASE ?")
        .bind(clickhouse::sql::Identifier(database))
        .execute()
        .await
        .unwrap();
    clickhouse::Client::default()
        .with_url(clickhouse_url())
        .with_compression(clickhouse::Compression::None)
        .with_validation(false)
        .with_database(database)
}

/// Validated events of project "alpha", inserted as the log would.
async fn insert_events(db: &clickhouse::Client, events: &[serde_json::Value]) {
    let body = json!(events).to_string();
    let window = AcceptWindow {
        now_ms: NOW_MS,
        max_ahead_ms: 0,
        max_age_ms: None,
    };
    let parsed = parse_batch(body.as_bytes(), BodyFormat::JsonArray, &window, 100).unwrap();
    let mut rows = Vec::new();
    for event in &parsed {
        encode_event(&mut rows, "alpha", NOW_MS, event);
    }
    let mut insert = db.insert_formatted_with(format!(
        "INSERT INTO events ({EVENT_COLUMNS}) FORMAT RowBinary"
    ));
    insert.send(rows.into()).await.unwrap();
    insert.end().await.unwrap();
}
