//! `[[alert]]` webhooks, received by a server in the test: exactly one
//! "record" call when a day beats the record (and one "record in progress"
//! for a provisional day that does), signed with HMAC-SHA256, not repeated
//! by later rounds nor by a restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use highwater::alerts::Alerts;
use highwater::config::{AlertKind, AlertSettings};
use highwater::jobs::schedule::Scheduler;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{ALPHA_INGEST, TestApp, spawn_app_with};

const SECRET: &str = "webhook-secret-0123456789abcdef";

type Calls = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A webhook receiver on a free port: every call, as received.
async fn receiver() -> (String, Calls) {
    let calls: Calls = Arc::default();
    let kept = calls.clone();
    let router = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| async move {
            kept.lock().unwrap().push((headers, body));
            "ok"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, calls)
}

/// The bodies received, once `expected` arrived (deliveries run in tasks
/// of their own) and a moment passed for any extra one.
async fn bodies(calls: &Calls, expected: usize) -> Vec<Value> {
    for _ in 0..100 {
        if calls.lock().unwrap().len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    calls
        .lock()
        .unwrap()
        .iter()
        .map(|(headers, body)| {
            // The signature, recomputed here with the hmac crate.
            let timestamp = headers["x-highwater-timestamp"].to_str().unwrap();
            let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(format!("{timestamp}.{body}").as_bytes());
            let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
            assert_eq!(headers["x-highwater-signature"], expected.as_str());
            serde_json::from_str(body).unwrap()
        })
        .collect()
}

/// `users` sessions of user ids `u0…` all open from `from` to `to` (RFC
/// 3339 seconds; `from` is their session id).
async fn overlapping(app: &TestApp, users: usize, from: &str, to: &str) {
    let ms = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_millis()
    };
    let events: Vec<Value> = (0..users)
        .flat_map(|u| {
            [("session_start", from), ("session_end", to)].map(|(kind, t)| {
                json!({"type": kind, "user_id": format!("u{u}"), "session_id": from, "ts": ms(t)})
            })
        })
        .collect();
    app.post_accepted(ALPHA_INGEST, &events).await;
    app.drained().await;
}

fn scheduler(app: &TestApp) -> Scheduler {
    let alerts = Alerts::new(&app.settings.alerts, app.db.clone(), app.clock.clone());
    Scheduler::new(
        app.db.clone(),
        Arc::new(app.settings.projects.clone()),
        app.clock.clone(),
        Duration::from_secs(300),
    )
    .with_log(app.log.clone())
    .with_alerts(alerts)
}

#[tokio::test]
async fn a_day_beating_the_record_sends_exactly_one_record_alert() {
    let (url, calls) = receiver().await;
    let app = spawn_app_with("alerts_record", crate::clickhouse_url(), |settings| {
        settings.alerts = vec![AlertSettings {
            name: "ops".into(),
            kind: AlertKind::Record,
            url,
            secret: SECRET.into(),
            threshold: None,
            project: Some("alpha".into()),
            timeout_ms: 2_000,
            retries: 2,
        }];
    })
    .await;
    // History before the first check: 2 users on the 23rd. Known, not
    // announced.
    overlapping(&app, 2, "2020-03-23T10:00:00Z", "2020-03-23T11:00:00Z").await;
    app.run_jobs("alpha", "2020-03-23", "2020-03-25").await;
    let mut jobs = scheduler(&app);
    jobs.tick(0).await.unwrap();
    assert_eq!(bodies(&calls, 0).await, Vec::<Value>::new());

    // The 24th (final at the tests' noon on the 25th): 3 users.
    overlapping(&app, 3, "2020-03-24T10:00:00Z", "2020-03-24T11:00:00Z").await;
    app.run_jobs("alpha", "2020-03-24", "2020-03-24").await;
    jobs.tick(0).await.unwrap();
    jobs.tick(0).await.unwrap();
    let received = bodies(&calls, 1).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["alert"], "ops");
    assert_eq!(received[0]["kind"], "record");
    assert_eq!(received[0]["project"], "alpha");
    assert_eq!(
        received[0]["details"],
        json!({"day": "2020-03-24", "peak_users": 3,
               "peak_users_at": "2020-03-24T10:00:00Z", "previous_peak_users": 2})
    );

    // Today, provisional: 4 users by 11:30 → a record in progress.
    overlapping(&app, 4, "2020-03-25T11:00:00Z", "2020-03-25T11:30:00Z").await;
    jobs.tick(0).await.unwrap();
    jobs.tick(0).await.unwrap();
    let received = bodies(&calls, 2).await;
    assert_eq!(received.len(), 2, "{received:?}");
    assert_eq!(received[1]["kind"], "record_in_progress");
    assert_eq!(received[1]["details"]["day"], "2020-03-25");
    assert_eq!(received[1]["details"]["peak_users"], 4);

    // A restart (alerts remembered in ClickHouse, not in memory): nothing
    // again.
    scheduler(&app).tick(0).await.unwrap();
    assert_eq!(bodies(&calls, 2).await.len(), 2);
    app.stop().await.unwrap();
}
