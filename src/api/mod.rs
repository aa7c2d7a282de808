//! The HTTP surface, one folder per concern:
//!
//! - `ingest/` — `POST /v1/events`: admission, body limits, parsing, into
//!   the write-ahead log (`crate::wal`);
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
//! [`app`] below is the router: which limits apply to which routes.

pub mod access;
pub mod cors;
pub mod error;
pub mod health;
pub mod http_server;
pub mod ingest;
pub mod middleware;
pub mod pages;
pub mod posthog;
pub mod read;
pub mod sdk;
pub mod state;
pub mod unread_body;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use state::AppState;

pub fn app(state: AppState) -> Router {
    let limits = state.limits.clone();
    // Ingest reads its body itself, with its own limits and timeout, so
    // that a 413 or 408 says which limit it met.
    let mut ingest = Router::new()
        .route("/v1/events", post(ingest::ingest_events))
        .route("/v1/beacon", post(ingest::ingest_beacon));
    for path in posthog::CAPTURE_PATHS {
        ingest = ingest.route(path, post(posthog::capture));
    }
    let ingest = ingest
        .layer(DefaultBodyLimit::disable())
        .layer(from_fn_with_state(state.clone(), middleware::count_ingest))
        // What posthog-js asks before it sends (no body read).
        .route("/array/{token}/config", get(posthog::remote_config))
        .route(
            "/array/{token}/config.js",
            get(posthog::remote_config_script),
        )
        .route("/flags", post(posthog::flags))
        .route("/flags/", post(posthog::flags))
        .route("/decide", post(posthog::flags))
        .route("/decide/", post(posthog::flags))
        .layer(cors::ingest_cors(&state.projects));
    // Reads take no body; they are bounded in number and in time.
    let reads = Router::new()
        .route("/v1/metrics/daily", get(read::figures::daily))
        .route("/v1/metrics/concurrency", get(read::figures::concurrency))
        .route("/v1/metrics/segments", get(read::segments::segments))
        .route("/v1/online", get(read::online::online))
        .route("/v1/records", get(read::figures::records_list))
        .route("/v1/growth", get(read::capacity::growth))
        .route("/v1/capacity", get(read::capacity::capacity))
        .route("/dashboards/{name}", get(pages::dashboard::show))
        .route("/dashboards/live.json", get(pages::dashboard::live))
        .layer(from_fn_with_state(state.clone(), middleware::bound_reads))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_millis(limits.read_timeout_ms),
        ))
        .route_layer(from_fn_with_state(state.clone(), middleware::time_reads));
    // Forms: a few KiB, within the body timeout.
    let forms = Router::new()
        .route(
            "/dashboards/login",
            get(pages::login::login_page).post(pages::login::login),
        )
        .route("/dashboards/logout", post(pages::login::logout))
        .layer(DefaultBodyLimit::max(pages::login::FORM_BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(limits.body_timeout_ms),
        ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::monitoring::scrape::scrape_with_key))
        .route("/sdk/highwater.js", get(sdk::snippet))
        .merge(ingest)
        .merge(reads)
        .merge(forms)
        .layer(from_fn_with_state(
            state.clone(),
            middleware::limit_failed_keys,
        ))
        .layer(from_fn(unread_body::close_if_unread))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
