//! `POST /v1/events`, `GET /healthz`, `GET /readyz`.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::json;

use super::AppState;
use super::auth::KeyRole;
use super::body::{body_format, gunzip, is_gzip, read_limited};
use super::error::ApiError;
use super::writer::{EncodedRows, WriteError};
use crate::config::ProjectSettings;
use crate::domain::batch::parse_batch;
use crate::domain::validate::AcceptWindow;
use crate::store::connect::ping;
use crate::store::row_binary::encode_event;

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
    let project = state.project_for(&headers, KeyRole::Ingest)?;
    tracing::Span::current().record("project", project.name.as_str());
    let _in_progress = state.writer.track_request();
    let format = body_format(&headers)?;
    let gzip = is_gzip(&headers)?;
    let limits = &state.limits;
    let body = read_limited(&headers, body, limits.max_body_bytes).await?;
    let body = if gzip {
        gunzip(&body, limits.max_decompressed_bytes)?.into()
    } else {
        body
    };
    let now_ms = state.clock.now_ms();
    let events = parse_batch(
        &body,
        format,
        &accept_window(project, now_ms),
        limits.max_events_per_batch,
    )?;
    let accepted = events.len();
    tracing::Span::current().record("events", accepted);
    let mut encoded = Vec::with_capacity(body.len());
    for event in &events {
        encode_event(&mut encoded, &project.name, now_ms, event);
    }
    let rows = EncodedRows {
        bytes: encoded.into(),
        count: accepted,
    };
    state.writer.write(rows).await.map_err(|e| match e {
        WriteError::Overloaded => ApiError::Overloaded,
        WriteError::Unavailable(_) | WriteError::Closed => ApiError::Unavailable,
    })?;
    Ok(Json(Accepted { accepted }))
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

/// The process can do its work: ClickHouse answers.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    match tokio::time::timeout(Duration::from_secs(2), ping(&state.db)).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(json!({"ready": true, "clickhouse": "ok"})),
        ),
        Ok(Err(e)) => not_ready(e.to_string()),
        Err(_) => not_ready("no answer within 2 s".into()),
    }
}

fn not_ready(reason: String) -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"ready": false, "clickhouse": reason})),
    )
}
