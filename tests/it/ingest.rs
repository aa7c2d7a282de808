//! Events posted through HTTP arrive in ClickHouse field for field.

use std::io::Write;

use flate2::{Compression, write::GzEncoder};
use highwater::domain::event::{EventType, PresenceStatus};
use highwater::store::rows::EventRow;
use serde_json::json;

use crate::{ALPHA_INGEST, BETA_INGEST, NOW_MS, event_json, spawn_app};

fn row(kind: EventType, user: &str, session: &str, ts_ms: i64) -> EventRow {
    EventRow {
        project: "alpha".into(),
        kind,
        user_id: user.into(),
        session_id: session.into(),
        ts_ms,
        status: PresenceStatus::Unset,
        event_id: String::new(),
        platform: String::new(),
        country: String::new(),
        org_id: String::new(),
        app_version: String::new(),
        received_ms: NOW_MS,
    }
}

#[tokio::test]
async fn a_json_array_is_stored_field_for_field() {
    let app = spawn_app("json_array").await;
    let body = json!([
        {"type": "session_start", "user_id": "U01ABCDEF23", "session_id": "S-1",
         "ts": "2020-03-25T11:00:00.123Z", "event_id": "ev-1", "platform": "macos",
         "country": "us", "org_id": "T0ACME", "app_version": "4.29.149", "ignored": {"x": 1}},
        {"type": "presence", "user_id": "U01ABCDEF23", "session_id": "S-1",
         "ts": NOW_MS - 60_000, "status": "away"},
        {"type": "session_end", "user_id": "U01ABCDEF23", "session_id": "S-1",
         "ts": "2020-03-25T13:00:00+02:00"},
    ]);
    let response = app.post_json(body.to_string()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({"accepted": 3})
    );

    let mut start = row(
        EventType::SessionStart,
        "U01ABCDEF23",
        "S-1",
        NOW_MS - 3_600_000 + 123,
    );
    start.event_id = "ev-1".into();
    start.platform = "macos".into();
    start.country = "US".into();
    start.org_id = "T0ACME".into();
    start.app_version = "4.29.149".into();
    let mut presence = row(EventType::Presence, "U01ABCDEF23", "S-1", NOW_MS - 60_000);
    presence.status = PresenceStatus::Away;
    // 13:00 at +02:00 is 11:00Z, one hour before "now".
    let end = row(
        EventType::SessionEnd,
        "U01ABCDEF23",
        "S-1",
        NOW_MS - 3_600_000,
    );
    assert_eq!(app.stored().await, vec![end, start, presence]);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn gzipped_ndjson_is_stored() {
    let app = spawn_app("gzip_ndjson").await;
    let lines: Vec<String> = (0..50)
        .map(|i| event_json("heartbeat", &format!("U{i:03}"), "S", i).to_string())
        .collect();
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(lines.join("\n").as_bytes()).unwrap();
    let response = app
        .post(ALPHA_INGEST, "application/x-ndjson")
        .header("content-encoding", "gzip")
        .body(encoder.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let stored = app.stored().await;
    let expected: Vec<EventRow> = (0..50)
        .map(|i| {
            row(
                EventType::Heartbeat,
                &format!("U{i:03}"),
                "S",
                NOW_MS - i * 1000,
            )
        })
        .collect();
    assert_eq!(stored, expected);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn each_key_stores_under_its_own_project() {
    let app = spawn_app("two_projects").await;
    for key in [ALPHA_INGEST, BETA_INGEST] {
        let response = app
            .post(key, "application/json")
            .body(json!([event_json("heartbeat", "U1", "S1", 5)]).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let projects: Vec<String> = app.stored().await.into_iter().map(|r| r.project).collect();
    assert_eq!(projects, ["alpha", "beta"]);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn many_concurrent_clients_lose_nothing_and_duplicate_nothing() {
    const CLIENTS: usize = 16;
    const BATCHES: usize = 8;
    const EVENTS: usize = 250;
    let app = spawn_app("concurrent").await;
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let http = app.http.clone();
        let url = format!("{}/v1/events", app.base_url);
        tasks.push(tokio::spawn(async move {
            for batch in 0..BATCHES {
                let events: Vec<_> = (0..EVENTS)
                    .map(|i| {
                        let mut e =
                            event_json("heartbeat", &format!("U{client}"), &format!("S{batch}"), 1);
                        e["event_id"] = json!(format!("{client}-{batch}-{i}"));
                        e
                    })
                    .collect();
                let response = http
                    .post(&url)
                    .bearer_auth(ALPHA_INGEST)
                    .json(&events)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    app.drained().await;
    let (rows, distinct): (u64, u64) = app
        .db
        .query("SELECT count(), uniqExact(event_id) FROM events")
        .fetch_one()
        .await
        .unwrap();
    let expected = (CLIENTS * BATCHES * EVENTS) as u64;
    assert_eq!((rows, distinct), (expected, expected));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn health_and_readiness_answer_while_clickhouse_is_up() {
    let app = spawn_app("ready").await;
    assert_eq!(app.get("/healthz").await.0, 200);
    let (status, body) = app.get("/readyz").await;
    assert_eq!((status, &body["ready"]), (200, &json!(true)));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_answers_requests_in_progress_and_loses_nothing_acknowledged() {
    let app = spawn_app("drain").await;
    let first_ack = std::sync::Arc::new(tokio::sync::Notify::new());
    let mut clients = Vec::new();
    for client in 0..8 {
        let first_ack = first_ack.clone();
        let http = app.http.clone();
        let url = format!("{}/v1/events", app.base_url);
        clients.push(tokio::spawn(async move {
            let mut acknowledged = 0u64;
            for batch in 0..10_000 {
                let events: Vec<_> = (0..100)
                    .map(|i| {
                        event_json(
                            "heartbeat",
                            &format!("U{client}"),
                            &format!("S{batch}-{i}"),
                            1,
                        )
                    })
                    .collect();
                match http
                    .post(&url)
                    .bearer_auth(ALPHA_INGEST)
                    .json(&events)
                    .send()
                    .await
                {
                    Ok(response) if response.status() == 200 => {
                        acknowledged += 100;
                        first_ack.notify_one();
                    }
                    Ok(response) => panic!("unexpected {}", response.status()),
                    // The server has stopped accepting connections.
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    // Stop while requests are in flight: once one was answered (on a
    // loaded machine the first may take a while), and a little later.
    tokio::time::timeout(std::time::Duration::from_secs(60), first_ack.notified())
        .await
        .expect("a first batch acknowledged within 60 s");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let db = app.db.clone();
    app.stop().await.unwrap();
    let mut acknowledged = 0;
    for client in clients {
        acknowledged += client.await.unwrap();
    }
    let stored: u64 = db
        .query("SELECT count() FROM events")
        .fetch_one()
        .await
        .unwrap();
    assert!(acknowledged > 0, "no request finished before the shutdown");
    assert!(
        acknowledged < 8 * 10_000 * 100,
        "the shutdown interrupted nothing"
    );
    assert_eq!(stored, acknowledged);
}
