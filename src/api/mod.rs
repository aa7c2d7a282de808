//! The HTTP surface, one folder per concern:
//!
//! - `ingest/` — `POST /v1/events`: admission, body limits, parsing, into
//!   the write-ahead log (`crate::wal`); the same for what other senders
//!   speak: `posthog/` (PostHog's capture), `otlp/` (OpenTelemetry logs),
//!   `sdk/` (the browser snippet), `cors.rs`;
//! - `read/` — the read API (`/v1/metrics/*`, `/v1/records`, `/v1/growth`,
//!   `/v1/capacity`) and the bound on reads in flight;
//! - `pages/` — the live dashboard, its login and sessions, page errors;
//! - `access/` — API keys and their buckets, the failed-key guard per
//!   client address, what proxies and browsers say about a request;
//! - `health.rs` (`/healthz`, `/readyz`), `error.rs` (API errors → status,
//!   in one place), `state.rs`, `middleware.rs` (the guard and the read
//!   bound in front of handlers), `unread_body.rs` (keep-alive after early
//!   refusals), `http_server.rs` (the accept loop).
//!
//! [`app`] below is the router: which limits apply to which routes; every
//! route comes with its OpenAPI description (`openapi.rs`, [`spec`]).

pub mod access;
pub(crate) mod clickhouse_check;
pub(crate) mod cors;
pub(crate) mod error;
pub(crate) mod health;
pub(crate) mod http_server;
pub(crate) mod ingest;
pub(crate) mod metrics_scrape;
pub(crate) mod middleware;
pub(crate) mod openapi;
pub(crate) mod otlp;
pub mod pages;
pub(crate) mod posthog;
pub(crate) mod read;
#[cfg(test)]
mod router_tests;
pub(crate) mod sdk;
pub(crate) mod state;
pub(crate) mod unread_body;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use state::AppState;

/// The routes that take events. Ingest reads its body itself, with its own
/// limits and timeout, so that a 413 or 408 says which limit it met.
fn ingest_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ingest::ingest_events))
        .routes(routes!(ingest::ingest_beacon))
        .routes(routes!(otlp::ingest_logs))
        .routes(routes!(posthog::batch))
        .routes(routes!(posthog::batch_slash))
        .routes(routes!(posthog::e))
        .routes(routes!(posthog::e_slash))
        .routes(routes!(posthog::capture_path))
        .routes(routes!(posthog::capture_slash))
        .routes(routes!(posthog::i_v0_e))
        .routes(routes!(posthog::i_v0_e_slash))
}

/// What posthog-js asks before it sends (no body read).
fn posthog_setup_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(posthog::remote_config))
        .routes(routes!(posthog::remote_config_script))
        .routes(routes!(posthog::flags_path))
        .routes(routes!(posthog::flags_slash))
        .routes(routes!(posthog::decide))
        .routes(routes!(posthog::decide_slash))
}

/// Reads take no body; they are bounded in number and in time.
fn read_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(read::figures::daily))
        .routes(routes!(read::figures::concurrency))
        .routes(routes!(read::segments::segments))
        .routes(routes!(read::online::online))
        .routes(routes!(read::figures::records_list))
        .routes(routes!(read::capacity::growth))
        .routes(routes!(read::capacity::capacity))
        .routes(routes!(pages::dashboard::show))
        .routes(routes!(pages::dashboard::live))
}

/// Forms: a few KiB, within the body timeout.
fn form_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pages::login::login_page, pages::login::login))
        .routes(routes!(pages::login::logout))
}

fn service_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(crate::api::metrics_scrape::scrape_with_key))
        .routes(routes!(sdk::snippet))
        .routes(routes!(openapi::openapi_json))
}

/// The OpenAPI description of every route (`openapi`).
pub fn spec() -> utoipa::openapi::OpenApi {
    let (_, spec) = OpenApiRouter::<AppState>::with_openapi(openapi::ApiDoc::openapi())
        .merge(service_routes())
        .merge(ingest_routes())
        .merge(posthog_setup_routes())
        .merge(read_routes())
        .merge(form_routes())
        .split_for_parts();
    spec
}

pub fn app(state: AppState) -> Router {
    let limits = state.limits.clone();
    let ingest = ingest_routes()
        .layer(DefaultBodyLimit::disable())
        .layer(from_fn_with_state(state.clone(), middleware::count_ingest))
        .merge(posthog_setup_routes())
        .layer(cors::ingest_cors(&state.projects));
    let reads = read_routes()
        .layer(from_fn_with_state(state.clone(), middleware::bound_reads))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_millis(state.read.timeout_ms),
        ))
        .route_layer(from_fn_with_state(state.clone(), middleware::time_reads));
    let forms = form_routes()
        .layer(DefaultBodyLimit::max(pages::login::FORM_BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(limits.body_timeout_ms),
        ));
    let (router, _) = service_routes()
        .merge(ingest)
        .merge(reads)
        .merge(forms)
        .split_for_parts();
    router
        .layer(from_fn_with_state(
            state.clone(),
            middleware::limit_failed_keys,
        ))
        .layer(from_fn(unread_body::close_if_unread))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
