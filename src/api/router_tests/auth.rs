//! Keys: which key opens which route, what a failure says, and the guard
//! that stops an address guessing keys.

use axum::http::StatusCode;

use super::*;

#[tokio::test]
async fn ingest_without_a_key_says_how_to_send_one() {
    let app = TestApp::new();
    let response = app.post_events("", &session("u1")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let json = json_body(response).await;
    assert_eq!(json["error"], "missing_key");
    assert!(
        json["message"].as_str().unwrap().contains("Bearer"),
        "{json}"
    );
    assert_eq!(app.logged_bytes(), 0);
}

#[tokio::test]
async fn an_unknown_key_is_401() {
    let app = TestApp::new();
    let response = app
        .post_events("no-such-key-0123456789abcdef", &session("u1"))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(response).await["error"], "unknown_key");
    assert_eq!(app.logged_bytes(), 0);
}

#[tokio::test]
async fn a_read_key_cannot_ingest() {
    let app = TestApp::new();
    let response = app.post_events(ALPHA_READ, &session("u1")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_body(response).await["error"], "wrong_key_role");
    assert_eq!(app.logged_bytes(), 0);
}

#[tokio::test]
async fn an_ingest_key_cannot_read() {
    let app = TestApp::new();
    let response = app.get("/v1/records", ALPHA_INGEST).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_body(response).await["error"], "wrong_key_role");
}

#[tokio::test]
async fn reads_without_a_key_are_401() {
    let app = TestApp::new();
    for path in [
        "/v1/metrics/daily?from=2020-03-01&to=2020-03-02",
        "/v1/metrics/concurrency?day=2020-03-01",
        "/v1/metrics/segments?dimension=platform&from=2020-03-01&to=2020-03-02",
        "/v1/online",
        "/v1/records",
        "/v1/growth",
        "/v1/capacity",
    ] {
        let response = app.get(path, "").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(json_body(response).await["error"], "missing_key", "{path}");
    }
}

#[tokio::test]
async fn a_key_reads_its_own_project_only() {
    let mut figures = InMemoryFigures::default();
    for project in ["alpha", "beta"] {
        figures.days.push(crate::store::figures::DailyFiguresRow {
            project: project.into(),
            day: 18_346, // 2020-03-25
            peak_users: if project == "alpha" { 7 } else { 9 },
            r#final: 1,
            ..Default::default()
        });
    }
    let app = TestApp::with(|_| {}, figures);
    let response = app.get("/v1/records", BETA_READ).await;
    assert_eq!(response.status(), StatusCode::OK);
    let json = json_body(response).await;
    assert_eq!(json["project"], "beta", "{json}");
    assert_eq!(json["records"][0]["peak_users"], 9, "{json}");
}

#[tokio::test]
async fn an_address_that_keeps_failing_is_stopped_before_keys_are_compared() {
    let app = TestApp::with(
        |s| {
            s.ingest.auth_failure_burst = 3;
            s.ingest.auth_failures_per_minute = 1;
        },
        InMemoryFigures::default(),
    );
    for _ in 0..3 {
        let response = app.get("/v1/records", "wrong-key-0123456789abcdefgh").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // The burst is spent: this failure blocks the address...
    app.get("/v1/records", "wrong-key-0123456789abcdefgh").await;
    // ...and then even the right key waits: nothing is compared.
    let response = app.get("/v1/records", ALPHA_READ).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(
        json_body(response).await["error"],
        "too_many_failed_attempts"
    );
}

#[tokio::test]
async fn a_read_keys_bucket_empties_to_429() {
    let app = TestApp::with(
        |s| {
            let limits = &mut s.projects[0].rate_limits;
            limits.read_burst_requests = 2;
            limits.read_requests_per_s = 1;
        },
        InMemoryFigures::default(),
    );
    for _ in 0..2 {
        assert_eq!(
            app.get("/v1/records", ALPHA_READ).await.status(),
            StatusCode::OK
        );
    }
    let response = app.get("/v1/records", ALPHA_READ).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json_body(response).await["error"], "rate_limited");
    // Another key has its own bucket.
    assert_eq!(
        app.get("/v1/records", BETA_READ).await.status(),
        StatusCode::OK
    );
}
