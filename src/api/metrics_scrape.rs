//! `GET /metrics`: on `[metrics] listen`, open to whoever reaches that
//! address; on the main address only with `Authorization: Bearer
//! <metrics.scrape_key>` (404 when no key is set, so the endpoint's
//! existence says nothing).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::access::keys::bearer_token;
use crate::api::error::ApiError;
use crate::api::state::AppState;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The router of the metrics address.
pub fn open_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(scrape_open))
        .with_state(state)
}

async fn scrape_open(State(state): State<AppState>) -> Response {
    exposition(&state).await
}

/// `/metrics` on the main address.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    responses(
        (status = 200, description = "Prometheus metrics (OpenMetrics text); also on `[metrics] listen` without a key", content_type = "application/openmetrics-text", body = String),
        (status = 401, description = "A missing or wrong scrape key", body = crate::api::error::ErrorBody),
        (status = 404, description = "No `metrics.scrape_key` set: not served on this address"),
    ),
    security(("scrape_key" = [])),
)]
pub async fn scrape_with_key(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(expected) = state.scrape_key_digest else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(token) = bearer_token(&headers) else {
        return ApiError::MissingKey.into_response();
    };
    let digest: [u8; 32] = Sha256::digest(token).into();
    if !bool::from(digest.ct_eq(&expected)) {
        return ApiError::UnknownKey.into_response();
    }
    exposition(&state).await
}

/// Online now is evaluated for every project first (a failed evaluation
/// leaves the last value and is logged: the other metrics still matter
/// most when ClickHouse is away).
async fn exposition(state: &AppState) -> Response {
    let now_ms = state.clock.now_ms();
    for project in state.projects.iter() {
        match state
            .figures
            .online_at(project, now_ms.div_euclid(1000), None)
            .await
        {
            Ok(online) => state.monitoring.set_online(&project.name, online.counts),
            Err(e) => {
                tracing::warn!(project = %project.name, error = %e, "online now unavailable for /metrics")
            }
        }
    }
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.monitoring.encode(now_ms),
    )
        .into_response()
}
