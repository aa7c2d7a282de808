//! `GET /metrics`: parsed with a Prometheus text-format parser, its
//! counters move with the traffic sent, online now is there per project;
//! on the main address only with the scrape key.

use prometheus_parse::{Scrape, Value};

use crate::{ALPHA_INGEST, ALPHA_READ, NOW_MS, TestApp, event_json, spawn_app, spawn_app_with};

async fn scrape(app: &TestApp) -> Scrape {
    let response = app
        .http
        .get(format!("{}/metrics", app.metrics_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of `metric` with the label `label` (none: the sample
/// without labels); a histogram's count. 0 when absent.
fn value(scrape: &Scrape, metric: &str, label: Option<(&str, &str)>) -> f64 {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .map_or(0.0, |s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
            Value::Summary(_) => panic!("{metric} is not a summary"),
        })
}

#[tokio::test]
async fn metrics_parse_and_move_with_traffic() {
    let app = spawn_app("prometheus_traffic").await;
    let before = scrape(&app).await;
    let good = serde_json::to_string(&vec![
        event_json("session_start", "u1", "s", 60),
        event_json("heartbeat", "u1", "s", 30),
    ])
    .unwrap();
    for _ in 0..3 {
        assert_eq!(app.post_json(good.clone()).await.status(), 200);
    }
    let bad = r#"[{"type": "session_start"}]"#;
    assert_eq!(app.post_json(bad).await.status(), 400);
    let stranger = app
        .post("not-a-key-of-anyone-0123456789", "application/json")
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 401);
    app.drained().await;
    app.clock.set(NOW_MS);
    let (status, _) = app.read(ALPHA_READ, "/v1/online").await;
    assert_eq!(status, 200);

    let after = scrape(&app).await;
    let moved = |metric: &str, label: Option<(&str, &str)>| {
        value(&after, metric, label) - value(&before, metric, label)
    };
    let requests = "highwater_ingest_requests_total";
    assert_eq!(moved(requests, Some(("status", "200"))), 3.0);
    assert_eq!(moved(requests, Some(("status", "400"))), 1.0);
    assert_eq!(moved(requests, Some(("status", "401"))), 1.0);
    assert_eq!(
        moved("highwater_ingest_events_total", Some(("project", "alpha"))),
        6.0
    );
    assert_eq!(
        moved("highwater_ingest_body_bytes_total", Some(("status", "200"))),
        3.0 * good.len() as f64
    );
    assert_eq!(
        moved("highwater_ingest_body_bytes_total", Some(("status", "400"))),
        bad.len() as f64
    );
    assert_eq!(moved("highwater_wal_shipped_rows_total", None), 6.0);
    assert_eq!(value(&after, "highwater_wal_backlog_bytes", None), 0.0);
    assert_eq!(
        moved(
            "highwater_read_duration_seconds",
            Some(("route", "/v1/online"))
        ),
        1.0
    );
    // u1 is online at NOW (alive 30 s before it); nobody in beta.
    assert_eq!(
        value(&after, "highwater_online_users", Some(("project", "alpha"))),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "highwater_online_connections",
            Some(("project", "beta"))
        ),
        0.0
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn metrics_on_the_main_address_need_the_scrape_key() {
    let closed = spawn_app("prometheus_closed").await;
    let (status, _) = closed.get("/metrics").await;
    assert_eq!(
        status, 404,
        "no scrape key: no /metrics on the main address"
    );
    closed.stop().await.unwrap();

    let key = "scrape-key-0123456789abcdefgh";
    let app = spawn_app_with("prometheus_key", crate::clickhouse_url(), |settings| {
        settings.metrics.scrape_key = Some(key.to_owned());
    })
    .await;
    let (status, _) = app.get("/metrics").await;
    assert_eq!(status, 401);
    let (status, _) = app.read(ALPHA_INGEST, "/metrics").await;
    assert_eq!(status, 401, "an ingest key is not the scrape key");
    let response = app
        .http
        .get(format!("{}/metrics", app.base_url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    assert!(
        parsed
            .samples
            .iter()
            .any(|s| s.metric == "highwater_wal_backlog_bytes"),
        "{text}"
    );
    app.stop().await.unwrap();
}
