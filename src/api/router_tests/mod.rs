//! Request-level tests of the router: each request goes through [`app`]
//! with `tower::ServiceExt::oneshot`, as axum's own examples test, over an
//! in-memory figures source and a write-ahead log in a temporary
//! directory. No ClickHouse: each test takes milliseconds. What needs the
//! database (shipping, figures computed from events) is in `tests/it`.

mod auth;
mod ingest;
mod posthog;
mod reads;
mod service;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::app;
use super::state::{AppState, StateParts};
use crate::clock::ManualClock;
use crate::config::{ProjectSettings, Settings};
use crate::figures::in_memory::InMemoryFigures;
use crate::instances::InstanceView;
use crate::monitoring::Monitoring;
use crate::wal::{Wal, WalTasks};

const ALPHA_INGEST: &str = "alpha-ingest-key-0123456789";
const ALPHA_READ: &str = "alpha-read-key-0123456789ab";
const BETA_INGEST: &str = "beta-ingest-key-01234567890";
const BETA_READ: &str = "beta-read-key-0123456789abc";
/// 2020-03-25T12:00:00Z: the server's clock in these tests.
const NOW_MS: i64 = 1_585_137_600_000;

/// The router over its state, and what the test may look into.
struct TestApp {
    state: AppState,
    figures: Arc<InMemoryFigures>,
    /// The log's tasks and lock, held while the test runs.
    _log: WalTasks,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// Projects `alpha` and `beta`, default limits, no figures.
    fn new() -> Self {
        Self::with(|_| {}, InMemoryFigures::default())
    }

    /// As [`TestApp::new`], with `configure` applied to the settings and
    /// `figures` as the store's content.
    fn with(configure: impl FnOnce(&mut Settings), figures: InMemoryFigures) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut settings = Settings {
            data_dir: dir.path().to_owned(),
            projects: vec![
                ProjectSettings::new("alpha", ALPHA_INGEST, ALPHA_READ),
                ProjectSettings::new("beta", BETA_INGEST, BETA_READ),
            ],
            ..Settings::default()
        };
        configure(&mut settings);
        // Nothing is ever shipped: no ClickHouse is "ready".
        let (_, never_ready) = tokio::sync::watch::channel(None);
        let (wal, log) =
            Wal::open_shipping_when(&settings.wal_dir(), &settings.wal, never_ready.clone())
                .expect("log opens");
        let clock = Arc::new(ManualClock::new(NOW_MS));
        let figures = Arc::new(figures);
        let (_, leads) = tokio::sync::watch::channel(true);
        let state = AppState::new(
            &settings,
            StateParts {
                monitoring: Arc::new(Monitoring::new(wal.monitor(), clock.clone())),
                wal,
                figures: figures.clone(),
                // Never connected to: no request here reaches the sessions.
                sessions_client: clickhouse::Client::default().with_url("http://127.0.0.1:9"),
                clock,
                instance: InstanceView {
                    id: "test".into(),
                    role: settings.server.role,
                    leads,
                },
                migrated: never_ready,
            },
        )
        .expect("state builds");
        Self {
            state,
            figures,
            _log: log,
            _dir: dir,
        }
    }

    async fn send(&self, request: Request<Body>) -> Response<Body> {
        app(self.state.clone())
            .oneshot(request)
            .await
            .expect("the router is infallible")
    }

    /// `GET path` with `key` as bearer (none if empty).
    async fn get(&self, path: &str, key: &str) -> Response<Body> {
        let mut request = Request::get(path);
        if !key.is_empty() {
            request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// `POST path` of `body` as `content_type`, with `key` as bearer (none
    /// if empty).
    async fn post(
        &self,
        path: &str,
        key: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> Response<Body> {
        let mut request = Request::post(path).header(header::CONTENT_TYPE, content_type);
        if !key.is_empty() {
            request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        self.send(request.body(body.into()).unwrap()).await
    }

    /// `POST /v1/events` of `events` as a JSON array with `key`.
    async fn post_events(&self, key: &str, events: &Value) -> Response<Body> {
        self.post("/v1/events", key, "application/json", events.to_string())
            .await
    }

    /// Bytes the log holds, not yet shipped.
    fn logged_bytes(&self) -> u64 {
        self.state.wal.monitor().status(NOW_MS).backlog_bytes
    }
}

/// The response's body as JSON.
async fn json_body(response: Response<Body>) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

/// The response's body as text.
async fn text_body(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

/// One valid session of `user`: start, heartbeat, end, a minute apart,
/// ending a minute before the server's clock.
fn session(user: &str) -> Value {
    let start = NOW_MS - 180_000;
    json!([
        {"type": "session_start", "user_id": user, "session_id": format!("s-{user}"), "ts": start, "event_id": format!("{user}-1")},
        {"type": "heartbeat", "user_id": user, "session_id": format!("s-{user}"), "ts": start + 60_000, "event_id": format!("{user}-2")},
        {"type": "session_end", "user_id": user, "session_id": format!("s-{user}"), "ts": start + 120_000, "event_id": format!("{user}-3")},
    ])
}
