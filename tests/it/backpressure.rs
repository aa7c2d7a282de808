//! Beyond its bounds the server sheds load with 429/503 and `Retry-After`,
//! and slow clients are cut off: per-key token buckets, the in-flight
//! bound, header and body timeouts.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{
    ALPHA_INGEST, ALPHA_READ, BETA_INGEST, TestApp, clickhouse_url, event_json, spawn_app_with,
};

fn batch(n: usize) -> String {
    json!(vec![event_json("heartbeat", "U1", "S1", 1); n]).to_string()
}

async fn post(app: &TestApp, key: &str, n: usize) -> (u16, Option<String>, Value) {
    let response = app
        .post(key, "application/json")
        .body(batch(n))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, response.json().await.unwrap())
}

#[tokio::test]
async fn each_key_has_a_token_bucket_set_by_its_project() {
    let app = spawn_app_with("rate_limits", clickhouse_url(), |settings| {
        let limits = &mut settings.projects[0].rate_limits;
        limits.ingest_events_per_s = 10;
        limits.ingest_burst_events = 200;
        limits.read_requests_per_s = 1;
        limits.read_burst_requests = 2;
    })
    .await;
    assert_eq!(post(&app, ALPHA_INGEST, 150).await.0, 200);
    // 50 tokens left, refilling at 10/s: 100 events must wait ~5 s.
    let (status, retry_after, body) = post(&app, ALPHA_INGEST, 100).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("rate_limited"))
    );
    let wait: u64 = retry_after.unwrap().parse().unwrap();
    assert!((4..=6).contains(&wait), "Retry-After {wait}");
    // A batch larger than the burst could never pass: 413, not 429.
    let (status, _, body) = post(&app, ALPHA_INGEST, 201).await;
    assert_eq!(status, 413);
    assert!(
        body["message"].as_str().unwrap().contains("burst of 200"),
        "{body}"
    );
    // Beta's key has a bucket of its own (and the default limits).
    assert_eq!(post(&app, BETA_INGEST, 1_000).await.0, 200);
    // Only the 150 acknowledged events of alpha and beta's 1,000 are stored.
    assert_eq!(app.stored_count().await, 1_150);

    let path = "/v1/records";
    assert_eq!(app.read(ALPHA_READ, path).await.0, 200);
    assert_eq!(app.read(ALPHA_READ, path).await.0, 200);
    let (status, body) = app.read(ALPHA_READ, path).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("rate_limited"))
    );
    app.stop().await.unwrap();
}

/// Opens a connection and sends `head` (and nothing more, for now).
async fn send_head(app: &TestApp, head: &str) -> TcpStream {
    let addr = app.base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

fn post_head(content_length: usize) -> String {
    format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ALPHA_INGEST}\r\n\
         Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    )
}

/// Reads what the server says until it closes, within `limit`.
async fn read_answer(stream: &mut TcpStream, limit: Duration) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server kept a stalled connection open");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn requests_beyond_the_in_flight_bound_get_503_and_slow_bodies_408() {
    let app = spawn_app_with("in_flight", clickhouse_url(), |settings| {
        settings.ingest.max_in_flight_requests = 2;
        settings.ingest.body_timeout_ms = 1_500;
        // The timeout, not the pace (see `stall`), cuts these bodies off.
        settings.ingest.min_body_bytes_per_s = 1;
    })
    .await;
    // Two clients announce a body and send only part of it.
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut stream = send_head(&app, &post_head(1_000)).await;
        stream.write_all(b"[{\"type\":").await.unwrap();
        slow.push(stream);
    }
    // Once both hold their slot, a third request finds none.
    while app.get("/readyz").await.1["ingest_requests_in_flight"] != 2 {
        tokio::task::yield_now().await;
    }
    let (status, retry_after, body) = post(&app, ALPHA_INGEST, 1).await;
    assert_eq!((status, body["error"].as_str()), (503, Some("busy")));
    assert_eq!(retry_after.as_deref(), Some("1"));

    // Their bodies time out: 408, and the slots are free again.
    for stream in &mut slow {
        let answer = read_answer(stream, Duration::from_secs(30)).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("body_timeout"), "{answer}");
    }
    assert_eq!(post(&app, ALPHA_INGEST, 1).await.0, 200);
    assert_eq!(app.stored_count().await, 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = spawn_app_with("header_timeout", clickhouse_url(), |settings| {
        settings.ingest.header_timeout_ms = 500;
    })
    .await;
    let mut stream = send_head(&app, "POST /v1/events HTTP/1.1\r\nHost: x\r\n").await;
    // Closed by the server without a request ever being handled.
    let answer = read_answer(&mut stream, Duration::from_secs(30)).await;
    assert!(!answer.contains("HTTP/1.1 2"), "{answer}");
    assert_eq!(app.stored_count().await, 0);
    // Everyone else is served meanwhile and after.
    assert_eq!(app.get("/healthz").await.0, 200);
    app.stop().await.unwrap();
}
