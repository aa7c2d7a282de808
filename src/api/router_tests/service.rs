//! The routes around the API: health, readiness, the description, the
//! snippet, CORS, `/metrics`, and the dashboard pages before a login.

use axum::http::{Method, StatusCode};

use super::*;

#[tokio::test]
async fn healthz_answers_without_a_store() {
    let app = TestApp::new();
    let response = app.get("/healthz", "").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text_body(response).await, "ok\n");
}

#[tokio::test]
async fn readyz_is_503_while_the_store_is_away_and_hides_why_from_strangers() {
    let figures = InMemoryFigures {
        unavailable: true,
        ..Default::default()
    };
    let app = TestApp::with(|_| {}, figures);
    let response = app.get("/readyz", "").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json_body(response).await.to_string();
    assert!(!body.contains("in-memory store"), "{body}");
    // A read key may see the cause.
    let response = app.get("/readyz", ALPHA_READ).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json_body(response).await.to_string();
    assert!(body.contains("in-memory store is away"), "{body}");
}

#[tokio::test]
async fn readyz_waits_for_the_schema_even_when_the_store_answers() {
    // The store answers, but no migrated client was ever announced.
    let app = TestApp::new();
    let response = app.get("/readyz", ALPHA_READ).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json_body(response).await.to_string();
    assert!(body.contains("migrating"), "{body}");
}

#[tokio::test]
async fn the_openapi_description_lists_every_public_route() {
    let app = TestApp::new();
    let response = app.get("/openapi.json", "").await;
    assert_eq!(response.status(), StatusCode::OK);
    let json = json_body(response).await;
    for path in [
        "/v1/events",
        "/v1/metrics/daily",
        "/v1/online",
        "/batch",
        "/readyz",
    ] {
        assert!(json["paths"].get(path).is_some(), "{path} missing");
    }
}

#[tokio::test]
async fn the_browser_snippet_is_javascript() {
    let app = TestApp::new();
    let response = app.get("/sdk/highwater.js", "").await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.contains("javascript"), "{content_type}");
    assert!(text_body(response).await.contains("highwater"));
}

#[tokio::test]
async fn an_unknown_route_is_404() {
    let app = TestApp::new();
    assert_eq!(
        app.get("/v2/events", "").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// A CORS preflight of `POST /v1/events` from `origin`.
async fn preflight(app: &TestApp, origin: &str) -> Response<Body> {
    app.send(
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/v1/events")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization,content-type",
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_listed_origin_may_send_events_from_the_browser() {
    let app = TestApp::with(
        |s| s.projects[1].allowed_origins = vec!["https://app.example.com".into()],
        InMemoryFigures::default(),
    );
    let response = preflight(&app, "https://app.example.com").await;
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
    let allowed = response.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
}

#[tokio::test]
async fn an_unlisted_origin_gets_no_cors_permission() {
    let app = TestApp::with(
        |s| s.projects[0].allowed_origins = vec!["https://app.example.com".into()],
        InMemoryFigures::default(),
    );
    let response = preflight(&app, "https://evil.example.net").await;
    assert!(
        !response
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    );
}

#[tokio::test]
async fn metrics_on_the_main_address_need_the_scrape_key() {
    let app = TestApp::new();
    assert_eq!(
        app.get("/metrics", "").await.status(),
        StatusCode::NOT_FOUND,
        "no key set"
    );
    let app = TestApp::with(
        |s| s.metrics.scrape_key = Some("scrape-key-0123456789abcdef".into()),
        InMemoryFigures::default(),
    );
    assert_eq!(
        app.get("/metrics", "").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/metrics", "wrong-scrape-key-0123456789")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let response = app.get("/metrics", "scrape-key-0123456789abcdef").await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = text_body(response).await;
    assert!(text.contains("highwater_"), "{text}");
}

#[tokio::test]
async fn a_dashboard_without_a_session_asks_for_a_read_key() {
    let app = TestApp::new();
    let response = app.get("/dashboards/overview", "").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let html = text_body(response).await;
    assert!(
        html.contains("<form") && html.contains("name=\"key\""),
        "{html}"
    );
}

#[tokio::test]
async fn a_name_no_dashboard_can_have_is_404_before_any_login() {
    let app = TestApp::new();
    let response = app.get("/dashboards/no.such.board", "").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// `POST /dashboards/login` of `form`, with `origin` if any.
async fn log_in(app: &TestApp, form: &str, origin: Option<&str>) -> Response<Body> {
    let mut request = Request::post("/dashboards/login")
        .header(header::HOST, "stats.example.com")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    app.send(request.body(Body::from(form.to_owned())).unwrap())
        .await
}

#[tokio::test]
async fn a_login_with_an_ingest_key_is_refused_without_a_cookie() {
    let app = TestApp::new();
    let response = log_in(&app, &format!("key={ALPHA_INGEST}&next=overview"), None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(!response.headers().contains_key(header::SET_COOKIE));
}

#[tokio::test]
async fn a_login_form_from_another_origin_is_refused() {
    let app = TestApp::new();
    let response = log_in(
        &app,
        &format!("key={ALPHA_READ}&next=overview"),
        Some("https://evil.example.net"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!response.headers().contains_key(header::SET_COOKIE));
}

#[tokio::test]
async fn a_form_that_is_not_a_login_form_is_400() {
    let app = TestApp::new();
    let response = log_in(&app, "password=hunter2", None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
