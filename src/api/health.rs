//! `GET /healthz` (the process is up) and `GET /readyz` (it can do its
//! work), for load balancers and service managers.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::state::AppState;
use crate::store::connect::ping;

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses((status = 200, description = "The process is up", content_type = "text/plain", body = String)),
)]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The process can do its work: ClickHouse answers (reads and shipping
/// need it) and the log has room (ingest needs it). The body always tells
/// the backlog: acknowledged bytes not yet in ClickHouse, and their age.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "service",
    responses(
        (status = 200, description = "Ready: ClickHouse answers and the log has room; the body tells the log's backlog", body = serde_json::Value),
        (status = 503, description = "Not ready, and why", body = serde_json::Value),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let clickhouse = match tokio::time::timeout(Duration::from_secs(2), ping(&state.db)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".to_owned()),
    };
    let log = state.wal.monitor().status(state.clock.now_ms());
    let log_has_room = !log.full;
    let ready = clickhouse.is_ok() && log_has_room && !log.stalled;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let ingest = if log_has_room {
        "accepting"
    } else {
        "refusing: the log is full"
    };
    // ClickHouse may answer queries and still take no insert (a table gone,
    // rights revoked, a refusal the shipper keeps retrying): say so.
    let shipping = if log.stalled {
        format!(
            "stalled: {} bytes waiting, nothing shipped for {:.0} s ({})",
            log.backlog_bytes,
            log.no_progress_s,
            log.clickhouse_error
                .as_deref()
                .unwrap_or("no error reported yet")
        )
    } else {
        "ok".to_owned()
    };
    let body = json!({
        "ready": ready,
        "clickhouse": clickhouse.err().unwrap_or_else(|| "ok".into()),
        "ingest": ingest,
        "ingest_requests_in_flight": state.admission.requests_in_flight(),
        "shipping": shipping,
        "log": log,
    });
    (status, Json(body))
}
