//! `POST /v1/events`, `GET /healthz`, `GET /readyz`.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::json;

use super::AppState;
use super::admission::parsing_bytes;
use super::body::{body_format, gunzip, is_gzip, read_limited};
use super::error::ApiError;
use crate::config::ProjectSettings;
use crate::domain::batch::parse_batch;
use crate::domain::validate::AcceptWindow;
use crate::store::connect::ping;
use crate::store::row_binary::encode_event;
use crate::wal::AppendError;

#[derive(Debug, Serialize)]
pub struct Accepted {
    pub accepted: usize,
}

#[tracing::instrument(skip_all, fields(project, events))]
pub async fn ingest_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Accepted>, ApiError> {
    let (key, project) = state.ingest_key(&headers)?;
    tracing::Span::current().record("project", project.name.as_str());
    let limits = &state.limits;
    // A body declared larger than the limit is refused by `read_limited`
    // (413); it must not look like a busy server (503) here.
    let wire_bytes = declared_length(&headers)
        .unwrap_or(limits.max_body_bytes)
        .min(limits.max_body_bytes);
    let mut admitted = state.admission.admit(wire_bytes)?;
    let format = body_format(&headers)?;
    let gzip = is_gzip(&headers)?;
    let body_timeout = Duration::from_millis(limits.body_timeout_ms);
    let body = tokio::time::timeout(
        body_timeout,
        read_limited(&headers, body, limits.max_body_bytes),
    )
    .await
    .map_err(|_| ApiError::BodyTimeout(limits.body_timeout_ms))??;
    let body = if gzip {
        let plain = gunzip(&body, limits.max_decompressed_bytes)?;
        admitted.grow(plain.len())?;
        plain.into()
    } else {
        body
    };
    admitted.grow(parsing_bytes(body.len(), limits.max_events_per_batch))?;
    let now_ms = state.clock.now_ms();
    let events = parse_batch(
        &body,
        format,
        &accept_window(project, now_ms),
        limits.max_events_per_batch,
    )?;
    let accepted = events.len();
    tracing::Span::current().record("events", accepted);
    state.keys.throttle(key, accepted)?;
    let mut encoded = Vec::with_capacity(body.len());
    for event in &events {
        encode_event(&mut encoded, &project.name, now_ms, event);
    }
    let rows = u32::try_from(accepted).expect("batches are capped far below 2^32 events");
    state
        .wal
        .append(encoded.into(), rows, now_ms)
        .await
        .map_err(|e: AppendError| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(Accepted { accepted }))
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn accept_window(project: &ProjectSettings, now_ms: i64) -> AcceptWindow {
    AcceptWindow {
        now_ms,
        max_ahead_ms: i64::from(project.max_ts_ahead_s) * 1000,
        max_age_ms: (!project.backfill).then_some(i64::from(project.max_ts_age_s) * 1000),
    }
}

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The process can do its work: ClickHouse answers (reads and shipping
/// need it) and the log has room (ingest needs it). The body always tells
/// the backlog: acknowledged bytes not yet in ClickHouse, and their age.
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
        "shipping": shipping,
        "log": log,
    });
    (status, Json(body))
}
