//! `POST /v1/events` and `/v1/beacon`: what is taken, what is refused and
//! how precisely; a refused batch leaves nothing in the log.

use std::io::Write;

use axum::http::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn a_valid_batch_is_acknowledged_and_logged() {
    let app = TestApp::new();
    let response = app.post_events(ALPHA_INGEST, &session("u1")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(response).await, json!({"accepted": 3}));
    assert!(app.logged_bytes() > 0, "acknowledged means in the log");
}

#[tokio::test]
async fn ndjson_is_taken_line_by_line() {
    let app = TestApp::new();
    let lines: Vec<String> = session("u1")
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect();
    let response = app
        .post(
            "/v1/events",
            ALPHA_INGEST,
            "application/x-ndjson",
            lines.join("\n"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(response).await["accepted"], 3);
}

/// Posts `body` as JSON sent with `Content-Encoding: encoding`.
async fn post_encoded(app: &TestApp, encoding: &str, body: impl Into<Body>) -> Response<Body> {
    let request = Request::post("/v1/events")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, encoding)
        .header(header::AUTHORIZATION, format!("Bearer {ALPHA_INGEST}"))
        .body(body.into())
        .unwrap();
    app.send(request).await
}

#[tokio::test]
async fn a_gzip_body_is_inflated() {
    let app = TestApp::new();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(session("u1").to_string().as_bytes())
        .unwrap();
    let response = post_encoded(&app, "gzip", gzip.finish().unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(response).await["accepted"], 3);
}

/// Posts `body` as JSON with the alpha key; expects `status` and `code`,
/// and nothing in the log.
async fn refused(app: &TestApp, body: &str, status: StatusCode, code: &str) -> Value {
    let response = app
        .post(
            "/v1/events",
            ALPHA_INGEST,
            "application/json",
            body.to_owned(),
        )
        .await;
    assert_eq!(response.status(), status, "{body}");
    let json = json_body(response).await;
    assert_eq!(json["error"], code, "{json}");
    assert_eq!(app.logged_bytes(), 0, "a refused batch leaves nothing");
    json
}

/// Posts `events`; expects 400 `invalid_events` and nothing logged.
async fn invalid(app: &TestApp, events: &Value) -> Value {
    refused(
        app,
        &events.to_string(),
        StatusCode::BAD_REQUEST,
        "invalid_events",
    )
    .await
}

#[tokio::test]
async fn malformed_json_is_a_400_that_says_where() {
    let app = TestApp::new();
    let json = refused(
        &app,
        "[{\"type\": ",
        StatusCode::BAD_REQUEST,
        "malformed_body",
    )
    .await;
    assert!(!json["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn an_empty_batch_is_refused() {
    let app = TestApp::new();
    refused(&app, "[]", StatusCode::BAD_REQUEST, "empty_batch").await;
}

#[tokio::test]
async fn one_invalid_event_refuses_the_whole_batch_and_names_it() {
    let app = TestApp::new();
    let mut events = session("u1");
    events[1].as_object_mut().unwrap().remove("user_id");
    let json = invalid(&app, &events).await;
    assert_eq!(json["errors_total"], 1, "{json}");
    let error = &json["errors"][0];
    assert_eq!(error["index"], 1, "{json}");
    assert_eq!(error["field"], "user_id", "{json}");
}

#[tokio::test]
async fn an_event_from_too_far_in_the_future_is_refused() {
    let app = TestApp::new();
    let mut events = session("u1");
    events[0]["ts"] = json!(NOW_MS + 3_600_000 * 24);
    let json = invalid(&app, &events).await;
    assert_eq!(json["errors"][0]["field"], "ts", "{json}");
}

#[tokio::test]
async fn an_unknown_event_type_is_refused() {
    let app = TestApp::new();
    let mut events = session("u1");
    events[2]["type"] = json!("logout");
    let json = invalid(&app, &events).await;
    assert_eq!(json["errors"][0]["field"], "type", "{json}");
}

#[tokio::test]
async fn other_content_types_get_415() {
    let app = TestApp::new();
    let response = app
        .post(
            "/v1/events",
            ALPHA_INGEST,
            "text/plain",
            session("u1").to_string(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        json_body(response).await["error"],
        "unsupported_content_type"
    );
    assert_eq!(app.logged_bytes(), 0);
}

#[tokio::test]
async fn other_content_encodings_get_415() {
    let app = TestApp::new();
    let response = post_encoded(&app, "br", session("u1").to_string()).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        json_body(response).await["error"],
        "unsupported_content_encoding"
    );
}

#[tokio::test]
async fn a_body_that_is_not_gzip_says_so() {
    let app = TestApp::new();
    let response = post_encoded(&app, "gzip", "plainly not gzip").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_body(response).await["error"], "bad_gzip");
    assert_eq!(app.logged_bytes(), 0);
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_with_the_limit() {
    let app = TestApp::with(
        |s| s.ingest.max_body_bytes = 200,
        InMemoryFigures::default(),
    );
    let json = refused(
        &app,
        &session("u1").to_string(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    )
    .await;
    assert!(json["message"].as_str().unwrap().contains("200"), "{json}");
}

#[tokio::test]
async fn a_batch_over_the_event_limit_gets_413() {
    let app = TestApp::with(
        |s| s.ingest.max_events_per_batch = 2,
        InMemoryFigures::default(),
    );
    refused(
        &app,
        &session("u1").to_string(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_many_events",
    )
    .await;
}

#[tokio::test]
async fn a_batch_over_the_keys_burst_is_too_large_with_advice() {
    let app = TestApp::with(
        |s| s.projects[0].rate_limits.ingest_burst_events = 2,
        InMemoryFigures::default(),
    );
    let json = refused(
        &app,
        &session("u1").to_string(),
        // No wait would let it through: 413, not 429.
        StatusCode::PAYLOAD_TOO_LARGE,
        "batch_over_rate_burst",
    )
    .await;
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("smaller batches")
    );
}

#[tokio::test]
async fn an_empty_bucket_answers_429_with_retry_after() {
    let app = TestApp::with(
        |s| {
            let limits = &mut s.projects[0].rate_limits;
            limits.ingest_burst_events = 3;
            limits.ingest_events_per_s = 1;
        },
        InMemoryFigures::default(),
    );
    assert_eq!(
        app.post_events(ALPHA_INGEST, &session("u1")).await.status(),
        StatusCode::OK
    );
    let response = app.post_events(ALPHA_INGEST, &session("u2")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(json_body(response).await["error"], "rate_limited");
}

#[tokio::test]
async fn the_beacon_takes_its_key_in_the_url() {
    let app = TestApp::new();
    let body = session("u1").to_string();
    let response = app
        .post(
            &format!("/v1/beacon?key={ALPHA_INGEST}"),
            "",
            "text/plain",
            body.clone(),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a beacon sends text/plain"
    );
    let response = app.post("/v1/beacon", "", "text/plain", body).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(response).await["error"], "missing_key");
}
