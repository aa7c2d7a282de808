//! PostHog-compatible capture through real HTTP: every route and body
//! encoding PostHog SDKs use, becoming figures worked out by hand; refused
//! input changes nothing.

use std::io::Write;

use base64::Engine;
use serde_json::{Value, json};

use crate::{ALPHA_INGEST, ALPHA_READ, NOW_MS, TestApp, assert_refused, spawn_app};

fn iso(seconds_ago: i64) -> String {
    chrono::DateTime::from_timestamp_millis(NOW_MS - seconds_ago * 1000)
        .unwrap()
        .to_rfc3339()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// POSTs `body` to `path` with `content_type`; returns status and JSON.
async fn post(app: &TestApp, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let response = app
        .http
        .post(format!("{}{path}", app.base_url))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn posthog_sdk_requests_become_the_expected_figures() {
    let app = spawn_app("posthog_capture").await;
    // What posthog-js asks first: config and flags, for any token.
    for path in ["/array/anything/config", "/array/anything/config.js"] {
        let response = app
            .http
            .get(format!("{}{path}", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let (status, flags) = post(&app, "/flags/?v=2", "text/plain", gzip(b"{}")).await;
    assert_eq!((status, &flags["featureFlags"]), (200, &json!({})));

    // u1 in s1 (the session of two events), as posthog-js sends a batch:
    // gzip as text/plain, no Content-Encoding, the token in properties.
    let web = json!([
        {"event": "$pageview", "properties": {"token": ALPHA_INGEST, "distinct_id": "u1",
          "$session_id": "s1", "$time": (NOW_MS / 1000 - 1500) as f64, "$os": "Linux"}},
        {"event": "click", "properties": {"token": ALPHA_INGEST, "distinct_id": "u1",
          "$session_id": "s1", "$time": (NOW_MS / 1000 - 1200) as f64, "$os": "Linux"}},
    ]);
    let (status, answer) = post(&app, "/e/", "text/plain", gzip(web.to_string().as_bytes())).await;
    assert_eq!(
        (status, answer["accepted"].as_u64()),
        (200, Some(2)),
        "{answer}"
    );

    // u2 through /batch (server SDKs); one event without a session is
    // left out and listed.
    let batch = json!({"api_key": ALPHA_INGEST, "batch": [
        {"event": "signed_in", "distinct_id": "u2", "timestamp": iso(1300),
         "properties": {"$session_id": "s2", "$lib": "posthog-python"}},
        {"event": "no_session", "distinct_id": "u2", "timestamp": iso(100), "properties": {}},
    ]});
    let (status, answer) = post(
        &app,
        "/batch/",
        "application/json",
        batch.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 1);
    assert_eq!(answer["refused"]["errors"][0]["index"], 1);
    assert_eq!(
        answer["refused"]["errors"][0]["field"],
        "properties.$session_id"
    );

    // u2 again in s2 through /capture: one event, lz64 in a form.
    let single = json!({"api_key": ALPHA_INGEST, "event": "typing", "distinct_id": "u2",
                        "timestamp": iso(1000), "properties": {"$session_id": "s2"}});
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("data", &lz_str::compress_to_base64(&single.to_string()))
        .append_pair("compression", "lz64")
        .finish();
    let (status, answer) = post(
        &app,
        "/capture/",
        "application/x-www-form-urlencoded",
        form.into_bytes(),
    )
    .await;
    assert_eq!(
        (status, answer["accepted"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );

    // u3, an hour earlier, base64 on the newer path.
    let early = json!({"token": ALPHA_INGEST, "batch": [
        {"event": "x", "distinct_id": "u3", "timestamp": iso(5000), "properties": {"$session_id": "s3"}}]});
    let b64 = base64::engine::general_purpose::STANDARD.encode(early.to_string());
    let (status, _) = post(
        &app,
        "/i/v0/e/?compression=base64",
        "text/plain",
        b64.into_bytes(),
    )
    .await;
    assert_eq!(status, 200);

    // By hand, T = 600 s: u1 [-1500, -600), u2 [-1300, -400), u3 [-5000,
    // -4400): two users at once from -1300 s, three in the day.
    app.run_jobs("alpha", "2020-03-25", "2020-03-25").await;
    let (status, daily) = app
        .read(
            ALPHA_READ,
            "/v1/metrics/daily?from=2020-03-25&to=2020-03-25",
        )
        .await;
    assert_eq!(status, 200);
    let day = &daily["days"][0];
    assert_eq!(day["dau"], 3, "{day}");
    assert_eq!(day["peak_users"], 2, "{day}");
    assert_eq!(
        day["peak_users_at"],
        iso(1300).replace("+00:00", "Z"),
        "{day}"
    );
    assert_eq!(day["peak_connections"], 2, "{day}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn refused_posthog_requests_say_why_and_store_nothing() {
    let app = spawn_app("posthog_refused").await;
    let event = |token: Option<&str>| {
        let mut body = json!({"batch": [{"event": "x", "distinct_id": "u", "timestamp": iso(10),
                                          "properties": {"$session_id": "s"}}]});
        if let Some(token) = token {
            body["api_key"] = json!(token);
        }
        body.to_string()
    };
    let request = |path: &str, content_type: &str, body: Vec<u8>| {
        app.http
            .post(format!("{}{path}", app.base_url))
            .header("content-type", content_type)
            .body(body)
    };
    let json_type = "application/json";
    assert_refused(
        &app,
        request("/batch", json_type, event(None).into()),
        401,
        "missing_key",
    )
    .await;
    assert_refused(
        &app,
        request("/batch", json_type, event(Some("no-such-key")).into()),
        401,
        "unknown_key",
    )
    .await;
    // A read key cannot send.
    assert_refused(
        &app,
        request("/batch", json_type, event(Some(ALPHA_READ)).into()),
        403,
        "wrong_key_role",
    )
    .await;
    assert_refused(
        &app,
        request(
            "/e/?compression=lz64",
            "text/plain",
            b"not lz-string".to_vec(),
        ),
        400,
        "bad_payload",
    )
    .await;
    assert_refused(
        &app,
        request("/e/", "text/plain", b"%%%".to_vec()),
        400,
        "bad_payload",
    )
    .await;
    assert_refused(
        &app,
        request(
            "/batch",
            json_type,
            br#"{"api_key": "k", "batch": {}}"#.to_vec(),
        ),
        400,
        "malformed_body",
    )
    .await;
    // Every event invalid: nothing taken.
    let no_user = json!({"api_key": ALPHA_INGEST, "batch": [{"event": "x", "properties": {"$session_id": "s"}}]});
    let body = assert_refused(
        &app,
        request("/batch", json_type, no_user.to_string().into()),
        400,
        "invalid_events",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "distinct_id");
    // The body limits of /v1/events.
    let limit = app.settings.ingest.max_body_bytes;
    let huge = format!(
        "{{\"api_key\": \"{ALPHA_INGEST}\", \"pad\": \"{}\"}}",
        "x".repeat(limit)
    );
    assert_refused(
        &app,
        request("/batch", json_type, huge.into()),
        413,
        "body_too_large",
    )
    .await;
    app.stop().await.unwrap();
}
