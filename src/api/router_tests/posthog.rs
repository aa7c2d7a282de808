//! PostHog's capture routes as posthog-js and the server SDKs call them
//! (docs/api.md, "PostHog"): the key in the body, gzip announced or not.

use std::io::Write;

use axum::http::StatusCode;
use serde_json::json;

use super::*;

/// A `$pageview` of `user` a minute before the server's clock.
fn pageview(user: &str) -> Value {
    json!({
        "event": "$pageview",
        "uuid": format!("0190b3c4-0000-7000-8000-{:012}", user.len()),
        "properties": {
            "distinct_id": user,
            "$session_id": format!("session-{user}"),
            "$time": (NOW_MS - 60_000) as f64 / 1000.0,
            "$lib": "web",
        },
    })
}

#[tokio::test]
async fn a_batch_with_its_key_in_the_body_is_taken() {
    let app = TestApp::new();
    let body = json!({"api_key": ALPHA_INGEST, "batch": [pageview("u1"), pageview("u22")]});
    let response = app
        .post("/batch/", "", "application/json", body.to_string())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let json = json_body(response).await;
    assert_eq!(
        (json["status"].as_u64(), json["accepted"].as_u64()),
        (Some(1), Some(2)),
        "{json}"
    );
    assert!(app.logged_bytes() > 0);
}

#[tokio::test]
async fn a_gzip_body_sent_as_text_is_recognised_by_its_magic_bytes() {
    let app = TestApp::new();
    let body = json!({"api_key": ALPHA_INGEST, "batch": [pageview("u1")]});
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(body.to_string().as_bytes()).unwrap();
    let response = app
        .post("/e/", "", "text/plain", gzip.finish().unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(response).await["accepted"], 1);
}

#[tokio::test]
async fn a_batch_without_a_key_is_401_and_stores_nothing() {
    let app = TestApp::new();
    let body = json!({"batch": [pageview("u1")]});
    let response = app
        .post("/batch/", "", "application/json", body.to_string())
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(response).await["error"], "missing_key");
    assert_eq!(app.logged_bytes(), 0);
}

#[tokio::test]
async fn a_body_that_is_not_posthogs_is_400() {
    let app = TestApp::new();
    let body = json!({"api_key": ALPHA_INGEST, "batch": "not a list"});
    let response = app
        .post("/batch/", "", "application/json", body.to_string())
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.logged_bytes(), 0);
}

#[tokio::test]
async fn a_body_without_a_key_anywhere_is_401_before_it_is_decoded() {
    let app = TestApp::new();
    let response = app
        .post("/batch/", "", "application/json", "[1, 2, 3]")
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.logged_bytes(), 0);
}

#[tokio::test]
async fn the_sdks_setup_calls_get_empty_answers() {
    let app = TestApp::new();
    let config = app.get(&format!("/array/{ALPHA_INGEST}/config"), "").await;
    assert_eq!(config.status(), StatusCode::OK);
    assert_eq!(json_body(config).await, json!({}));
    let flags = app.post("/flags/?v=2", "", "text/plain", "{}").await;
    assert_eq!(flags.status(), StatusCode::OK);
    let flags = json_body(flags).await;
    assert_eq!(flags["featureFlags"], json!({}), "{flags}");
}
