//! The HTTP side: router, handlers, auth and rate limits, admission and body
//! limits. Accepted batches go to the write-ahead log (`crate::wal`).

pub mod admission;
pub mod auth;
pub mod body;
pub mod capacity_api;
pub mod dashboard_page;
pub mod error;
pub mod handlers;
pub mod http_server;
pub mod read_api;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

use crate::clock::Clock;
use crate::config::{IngestSettings, ProjectSettings};
use admission::Admission;
use auth::{Authorized, KeyRing, KeyRole};

use crate::wal::Wal;

/// What every handler may use; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub projects: Arc<Vec<ProjectSettings>>,
    pub keys: Arc<KeyRing>,
    pub limits: Arc<IngestSettings>,
    pub admission: Admission,
    pub wal: Wal,
    pub db: clickhouse::Client,
    pub clock: Arc<dyn Clock>,
    pub dashboards_dir: Arc<std::path::PathBuf>,
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
    Router::new()
        .route("/v1/events", post(handlers::ingest_events))
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz))
        .route("/v1/metrics/daily", get(read_api::daily))
        .route("/v1/metrics/concurrency", get(read_api::concurrency))
        .route("/v1/records", get(read_api::records_list))
        .route("/v1/growth", get(capacity_api::growth))
        .route("/v1/capacity", get(capacity_api::capacity))
        .route(
            "/dashboards/login",
            get(dashboard_page::login_page).post(dashboard_page::login),
        )
        .route("/dashboards/{name}", get(dashboard_page::show))
        // Bodies are read with our own limits, so that 413 says which one.
        .layer(DefaultBodyLimit::disable())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
