//! The HTTP side: router, handlers, auth and rate limits, admission and body
//! limits. Accepted batches go to the write-ahead log (`crate::wal`).

pub mod admission;
pub mod auth;
pub mod body;
pub mod capacity_api;
pub mod client;
pub mod dashboard_page;
pub mod error;
pub mod guard;
pub mod handlers;
pub mod http_server;
pub mod read_api;
pub mod reads_in_flight;
pub mod sessions;
pub mod unread_body;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::clock::Clock;
use crate::config::{IngestSettings, ProjectSettings};
use admission::Admission;
use auth::{Authorized, KeyRing, KeyRole};
use client::WebSettings;
use guard::AuthGuard;
use reads_in_flight::ReadsInFlight;
use sessions::SessionStore;

use crate::wal::Wal;

/// What every handler may use; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub projects: Arc<Vec<ProjectSettings>>,
    pub keys: Arc<KeyRing>,
    pub limits: Arc<IngestSettings>,
    pub admission: Admission,
    pub wal: Wal,
    /// For reads: every query carries `max_execution_time`.
    pub db: clickhouse::Client,
    pub clock: Arc<dyn Clock>,
    pub dashboards_dir: Arc<std::path::PathBuf>,
    pub web: Arc<WebSettings>,
    pub guard: Arc<AuthGuard>,
    pub sessions: Arc<SessionStore>,
    pub reads: ReadsInFlight,
}

impl AppState {
    /// The project the request's read key may read; each call is one
    /// request against the key's rate limit.
    pub fn readable_project(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<&ProjectSettings, error::ApiError> {
        let key = self.keys.authorize(headers, KeyRole::Read)?;
        self.keys.throttle(key, 1)?;
        Ok(&self.projects[key.project])
    }

    /// The request's ingest key and its project (rate-limited per event by
    /// the handler, once it knows how many there are).
    pub fn ingest_key(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<(Authorized, &ProjectSettings), error::ApiError> {
        let key = self.keys.authorize(headers, KeyRole::Ingest)?;
        Ok((key, &self.projects[key.project]))
    }
}

pub fn app(state: AppState) -> Router {
    let limits = state.limits.clone();
    // Ingest reads its body itself, with its own limits and timeout, so
    // that a 413 or 408 says which limit it met.
    let ingest = Router::new()
        .route("/v1/events", post(handlers::ingest_events))
        .layer(DefaultBodyLimit::disable());
    // Reads take no body; they are bounded in number and in time.
    let reads = Router::new()
        .route("/v1/metrics/daily", get(read_api::daily))
        .route("/v1/metrics/concurrency", get(read_api::concurrency))
        .route("/v1/records", get(read_api::records_list))
        .route("/v1/growth", get(capacity_api::growth))
        .route("/v1/capacity", get(capacity_api::capacity))
        .route("/dashboards/{name}", get(dashboard_page::show))
        .layer(from_fn_with_state(state.clone(), reads_in_flight::bound))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_millis(limits.read_timeout_ms),
        ));
    // Forms: a few KiB, within the body timeout.
    let forms = Router::new()
        .route(
            "/dashboards/login",
            get(dashboard_page::login_page).post(dashboard_page::login),
        )
        .route("/dashboards/logout", post(dashboard_page::logout))
        .layer(DefaultBodyLimit::max(dashboard_page::FORM_BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(limits.body_timeout_ms),
        ));
    Router::new()
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz))
        .merge(ingest)
        .merge(reads)
        .merge(forms)
        .layer(from_fn_with_state(state.clone(), guard::limit_failed_keys))
        .layer(from_fn(unread_body::close_if_unread))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
