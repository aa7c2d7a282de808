//! Every bad request of DESIGN §1 gets its status and a precise message, and
//! leaves nothing in ClickHouse.

use std::io::Write;

use flate2::{Compression, write::GzEncoder};
use serde_json::{Value, json};

use crate::{ALPHA_INGEST, ALPHA_READ, NOW_MS, TestApp, assert_refused, event_json, spawn_app};

/// Sends `request`, checks it is refused with `status` and `code` (see
/// [`assert_refused`]) and that `needle` is in the message. Returns the body.
async fn assert_rejected(
    app: &TestApp,
    request: reqwest::RequestBuilder,
    status: u16,
    code: &str,
    needle: &str,
) -> Value {
    let body = assert_refused(app, request, status, code).await;
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    body
}

/// A batch of one good event and `bad`; returns the single reported problem.
async fn assert_bad_event(app: &TestApp, bad: Value, field: &str, needle: &str) {
    let batch = json!([event_json("session_start", "U1", "S1", 1), bad]).to_string();
    let body = assert_rejected(
        app,
        app.post(ALPHA_INGEST, "application/json").body(batch),
        400,
        "invalid_events",
        "nothing was stored",
    )
    .await;
    assert_eq!(body["errors_total"], 1, "{body}");
    let problem = &body["errors"][0];
    assert_eq!(problem["index"], 1, "{body}");
    assert_eq!(problem["field"], field, "{body}");
    let message = problem["message"].as_str().unwrap();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}

fn good_batch() -> String {
    json!([event_json("heartbeat", "U1", "S1", 1)]).to_string()
}

#[tokio::test]
async fn malformed_json_is_refused_whole() {
    let app = spawn_app("malformed").await;
    for body in [r#"[{"type":"heartbeat","#, r#"{"type":"heartbeat"}"#] {
        let request = app.post(ALPHA_INGEST, "application/json").body(body);
        assert_rejected(
            &app,
            request,
            400,
            "malformed_body",
            "expected a JSON array",
        )
        .await;
    }
}

#[tokio::test]
async fn a_bad_ndjson_line_is_reported_by_its_index() {
    let app = spawn_app("bad_ndjson_line").await;
    let body = format!("{}\nnot json\n", event_json("heartbeat", "U1", "S1", 1));
    let request = app.post(ALPHA_INGEST, "application/x-ndjson").body(body);
    let body = assert_rejected(&app, request, 400, "invalid_events", "1 problems").await;
    assert_eq!(body["errors"][0]["index"], 1);
    assert_eq!(body["errors"][0]["field"], "event");
}

#[tokio::test]
async fn an_empty_batch_is_refused() {
    let app = spawn_app("empty_batch").await;
    let request = app.post(ALPHA_INGEST, "application/json").body("[]");
    assert_rejected(&app, request, 400, "empty_batch", "no events").await;
}

#[tokio::test]
async fn wrong_types_are_named() {
    let app = spawn_app("wrong_types").await;
    let mut bad = event_json("heartbeat", "U2", "S2", 1);
    bad["session_id"] = json!(42);
    assert_bad_event(&app, bad, "session_id", "must be a string, got an integer").await;
    assert_bad_event(&app, json!("heartbeat"), "event", "must be a JSON object").await;
}

#[tokio::test]
async fn a_missing_field_is_named() {
    let app = spawn_app("missing_field").await;
    let mut bad = event_json("heartbeat", "U2", "S2", 1);
    bad.as_object_mut().unwrap().remove("user_id");
    assert_bad_event(&app, bad, "user_id", "is required").await;
}

#[tokio::test]
async fn an_unknown_type_is_named() {
    let app = spawn_app("unknown_type").await;
    assert_bad_event(
        &app,
        event_json("login", "U2", "S2", 1),
        "type",
        "unknown type \"login\"",
    )
    .await;
}

#[tokio::test]
async fn a_bad_timestamp_is_named() {
    let app = spawn_app("bad_ts").await;
    let mut bad = event_json("heartbeat", "U2", "S2", 1);
    bad["ts"] = json!("25/03/2020 10:00");
    assert_bad_event(&app, bad, "ts", "is not an RFC 3339 timestamp").await;
    let mut bad = event_json("heartbeat", "U2", "S2", 1);
    bad["ts"] = json!(1.5e12);
    assert_bad_event(&app, bad, "ts", "integer epoch milliseconds").await;
}

#[tokio::test]
async fn timestamps_outside_the_window_are_refused() {
    let app = spawn_app("ts_window").await;
    // Six minutes ahead of the server clock (at most five allowed).
    let mut ahead = event_json("heartbeat", "U2", "S2", 0);
    ahead["ts"] = json!(NOW_MS + 360_000);
    assert_bad_event(&app, ahead, "ts", "360 s ahead of the server clock").await;
    // Thirty-one days old (at most thirty).
    let old = event_json("heartbeat", "U2", "S2", 31 * 86_400);
    assert_bad_event(&app, old, "ts", "enable backfill").await;
}

#[tokio::test]
async fn oversize_ids_are_refused() {
    let app = spawn_app("oversize_id").await;
    let bad = event_json("heartbeat", &"u".repeat(257), "S2", 1);
    assert_bad_event(&app, bad, "user_id", "257 bytes long; at most 256").await;
    let mut bad = event_json("heartbeat", "U2", "S2", 1);
    bad["event_id"] = json!("e".repeat(65));
    assert_bad_event(&app, bad, "event_id", "at most 64").await;
}

#[tokio::test]
async fn problems_are_listed_up_to_a_hundred() {
    let app = spawn_app("many_problems").await;
    let batch = json!(vec![json!({"type": "heartbeat"}); 150]).to_string();
    let request = app.post(ALPHA_INGEST, "application/json").body(batch);
    let body = assert_rejected(&app, request, 400, "invalid_events", "450 problems").await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 100);
    assert_eq!(body["errors_total"], 450);
}

#[tokio::test]
async fn bad_gzip_is_refused() {
    let app = spawn_app("bad_gzip").await;
    let request = app
        .post(ALPHA_INGEST, "application/json")
        .header("content-encoding", "gzip")
        .body(good_batch());
    assert_rejected(&app, request, 400, "bad_gzip", "not valid gzip").await;
}

#[tokio::test]
async fn bodies_over_the_limits_are_refused() {
    let app = spawn_app("too_large").await;
    // Test settings: 256 KiB on the wire, 1 MiB decompressed, 2,000 events.
    let big = " ".repeat(300 * 1024) + &good_batch();
    let request = app.post(ALPHA_INGEST, "application/json").body(big);
    assert_rejected(&app, request, 413, "body_too_large", "262144 bytes").await;

    let bomb = " ".repeat(2 * 1024 * 1024) + &good_batch();
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bomb.as_bytes()).unwrap();
    let request = app
        .post(ALPHA_INGEST, "application/json")
        .header("content-encoding", "gzip")
        .body(encoder.finish().unwrap());
    assert_rejected(
        &app,
        request,
        413,
        "decompressed_body_too_large",
        "1048576 bytes",
    )
    .await;

    let batch = json!(vec![event_json("heartbeat", "U", "S", 1); 2_001]).to_string();
    let request = app.post(ALPHA_INGEST, "application/json").body(batch);
    assert_rejected(
        &app,
        request,
        413,
        "too_many_events",
        "2001 events; at most 2000",
    )
    .await;
}

#[tokio::test]
async fn unsupported_content_types_and_encodings_are_refused() {
    let app = spawn_app("content_type").await;
    let request = app.post(ALPHA_INGEST, "text/plain").body(good_batch());
    assert_rejected(
        &app,
        request,
        415,
        "unsupported_content_type",
        "application/x-ndjson",
    )
    .await;
    let request = app
        .post(ALPHA_INGEST, "application/json")
        .header("content-encoding", "br")
        .body(good_batch());
    assert_rejected(&app, request, 415, "unsupported_content_encoding", "\"br\"").await;
}

#[tokio::test]
async fn missing_unknown_and_read_keys_cannot_write() {
    let app = spawn_app("keys").await;
    let request = app
        .http
        .post(format!("{}/v1/events", app.base_url))
        .header("content-type", "application/json")
        .body(good_batch());
    assert_rejected(&app, request, 401, "missing_key", "Authorization: Bearer").await;
    let request = app
        .post("no-such-key-0000000000", "application/json")
        .body(good_batch());
    assert_rejected(&app, request, 401, "unknown_key", "unknown key").await;
    let request = app.post(ALPHA_READ, "application/json").body(good_batch());
    assert_rejected(&app, request, 403, "wrong_key_role", "needs an ingest key").await;
}
