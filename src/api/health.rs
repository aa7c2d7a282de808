//! `GET /healthz` (the process is up) and `GET /readyz` (it can do its
//! work), for load balancers and service managers.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::access::keys::bearer_token;
use super::error::ApiError;
use super::state::AppState;

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

/// Whether the request may see the causes of failures: it carries a read
/// key or the scrape key. `Err` marks an unknown key (the failed-key guard
/// counts it).
fn may_see_details(state: &AppState, headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(token) = bearer_token(headers) else {
        return Ok(false);
    };
    let scrape = state.scrape_key_digest.is_some_and(|expected| {
        let digest: [u8; 32] = Sha256::digest(token).into();
        bool::from(digest.ct_eq(&expected))
    });
    if scrape || state.keys.read_key(token).is_some() {
        return Ok(true);
    }
    Err(ApiError::UnknownKey)
}

/// The process can do its work: ClickHouse answers (reads and shipping
/// need it) and the log has room (ingest needs it). The body always tells
/// the backlog: acknowledged bytes not yet in ClickHouse, and their age;
/// the causes of failures (ClickHouse's errors) only to a request with a
/// read key or the scrape key.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "service",
    responses(
        (status = 200, description = "Ready: ClickHouse answers and the log has room; the body tells the log's backlog", body = serde_json::Value),
        (status = 503, description = "Not ready, and why", body = serde_json::Value),
    ),
)]
pub async fn readyz(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let details = may_see_details(&state, &headers);
    let clickhouse = state
        .clickhouse_check
        .result(async {
            match tokio::time::timeout(Duration::from_secs(2), state.figures.ping()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer within 2 s".to_owned()),
            }
        })
        .await;
    // Answering is not enough: the schema must be there too.
    let clickhouse = match (clickhouse, state.migrated.borrow().is_some()) {
        (Ok(()), false) => Err("migrating".to_owned()),
        (result, _) => result,
    };
    let mut log = state.wal.monitor().status(state.clock.now_ms());
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
    let shown = matches!(details, Ok(true));
    let clickhouse = match clickhouse {
        Ok(()) => "ok".to_owned(),
        Err(e) if shown => e,
        Err(_) => "unavailable".to_owned(),
    };
    // ClickHouse may answer queries and still take no insert (a table gone,
    // rights revoked, a refusal the shipper keeps retrying): say so.
    let shipping = match (log.stalled, shown) {
        (false, _) => "ok".to_owned(),
        (true, true) => format!(
            "stalled: {} bytes waiting, nothing shipped for {:.0} s ({})",
            log.backlog_bytes,
            log.no_progress_s,
            log.clickhouse_error
                .as_deref()
                .unwrap_or("no error reported yet")
        ),
        (true, false) => "stalled".to_owned(),
    };
    if !shown {
        log.clickhouse_error = None;
    }
    // Each server of a replicated cluster: whether it answers (and, to a
    // reader, which it is).
    let servers: Option<Vec<serde_json::Value>> =
        state.clickhouse_servers.as_ref().map(|servers| {
            servers
                .states()
                .into_iter()
                .enumerate()
                .map(|(index, (url, up))| match shown {
                    true => json!({"server": index + 1, "url": url, "up": up}),
                    false => json!({"server": index + 1, "up": up}),
                })
                .collect()
        });
    let body = json!({
        "ready": ready,
        "clickhouse_servers": servers,
        "clickhouse": clickhouse,
        "ingest": ingest,
        "ingest_requests_in_flight": state.admission.requests_in_flight(),
        "shipping": shipping,
        "log": log,
        "instance": state.instance.to_json(),
    });
    let mut response = (status, Json(body)).into_response();
    if let Err(unknown) = details {
        unknown.mark(&mut response);
    }
    response
}
