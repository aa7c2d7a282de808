//! `POST /v1/events`: a batch is admitted, read within its limits,
//! decompressed and parsed off the async workers, charged to its key, and
//! acknowledged once it is in the write-ahead log.

pub(crate) mod admission;
pub(crate) mod body;
pub(crate) mod partial;

use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::access::keys::{Authorized, KeyRole};
use super::error::{ApiError, ErrorBody, IngestErrors};
use super::state::AppState;
use crate::config::ProjectSettings;
use crate::domain::batch::{BatchError, BodyFormat, parse_batch};
use crate::domain::event::Event;
use crate::domain::raw_event::RawEvent;
use crate::domain::validate::AcceptWindow;
use crate::store::row_binary::encode_event;
use crate::wal::AppendError;
use admission::{Admitted, parsing_bytes};
use body::{BodyPace, body_format, gunzip, is_gzip, read_charged};

/// What was stored: every event of the batch.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub accepted: usize,
}

/// Sends a batch of events (docs/design.md §1): stored whole, or refused whole.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "ingest",
    request_body(
        description = "A JSON array of events, or one event per line (NDJSON); gzip with `Content-Encoding: gzip`",
        content(
            (Vec<crate::api::openapi::EventDoc> = "application/json"),
            (crate::api::openapi::EventDoc = "application/x-ndjson"),
        ),
    ),
    responses(
        (status = 200, description = "Every event is in the write-ahead log", body = Accepted),
        (status = 400, description = "Malformed body or invalid events; nothing stored", body = ErrorBody),
        IngestErrors,
        (status = 415, description = "Unsupported content type or encoding", body = ErrorBody),
    ),
    security(("ingest_key" = [])),
)]
#[tracing::instrument(skip_all, fields(project, events))]
pub async fn ingest_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Accepted>, ApiError> {
    let (key, project) = state.ingest_key(&headers)?;
    let format = body_format(&headers)?;
    ingest_batch(&state, key, project, format, &headers, body).await
}

#[derive(Debug, Deserialize)]
pub struct BeaconQuery {
    key: Option<String>,
}

/// `POST /v1/beacon?key=<ingest key>`: `/v1/events` for what cannot set
/// headers — `navigator.sendBeacon` as a page closes, and requests that
/// must avoid a CORS preflight. The key is in the URL (an ingest key can
/// only write); a `text/plain` body is a JSON array.
#[utoipa::path(
    post,
    path = "/v1/beacon",
    tag = "ingest",
    request_body(
        description = "As on /v1/events; `text/plain` (what sendBeacon sends) is a JSON array",
        content(
            (Vec<crate::api::openapi::EventDoc> = "text/plain"),
            (Vec<crate::api::openapi::EventDoc> = "application/json"),
        ),
    ),
    responses(
        (status = 200, description = "Every event is in the write-ahead log", body = Accepted),
        (status = 400, description = "Malformed body or invalid events; nothing stored", body = ErrorBody),
        IngestErrors,
    ),
    security(("beacon_key" = [])),
)]
#[tracing::instrument(skip_all, fields(project, events))]
pub async fn ingest_beacon(
    State(state): State<AppState>,
    Query(query): Query<BeaconQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Accepted>, ApiError> {
    let token = query.key.ok_or(ApiError::MissingKeyIn("as `?key=`"))?;
    let key = state
        .keys
        .authorize_token(token.as_bytes(), KeyRole::Ingest)?;
    let project = &state.projects[key.project];
    // sendBeacon's text/plain, or no type at all: a JSON array.
    let format = body_format(&headers).unwrap_or(BodyFormat::JsonArray);
    ingest_batch(&state, key, project, format, &headers, body).await
}

/// A batch of `format` for `project`, sent with `key`.
async fn ingest_batch(
    state: &AppState,
    key: Authorized,
    project: &ProjectSettings,
    format: BodyFormat,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<Accepted>, ApiError> {
    tracing::Span::current().record("project", project.name.as_str());
    // Every attempt costs at least one event from the key's bucket before
    // any work is done: an empty bucket refuses even invalid batches.
    state.keys.throttle(key, 1)?;
    let admitted = state.admission.admit()?;
    let (body, mut admitted) = read_body(state, headers, body, admitted).await?;
    let limits = &state.limits;
    let parsed_event = std::mem::size_of::<RawEvent>();
    admitted.grow(parsing_bytes(
        body.len(),
        limits.max_events_per_batch,
        parsed_event,
    ))?;
    let max_events = limits.max_events_per_batch;
    let size = body.len();
    let (accepted, ()) = append_validated(state, key, project, size, move |window, rows| {
        let events = parse_batch(&body, format, window, max_events)?;
        Ok((rows.encode(&events), ()))
    })
    .await?;
    Ok(Json(accepted))
}

/// Encodes valid events as rows of the log, stamped with one receive time.
pub struct RowEncoder {
    project: String,
    received_ms: i64,
}

impl RowEncoder {
    /// Rows of `project`, received at `received_ms`.
    pub fn new(project: &ProjectSettings, received_ms: i64) -> Self {
        Self {
            project: project.name.clone(),
            received_ms,
        }
    }

    /// The rows of `events`, and how many.
    pub fn encode(&self, events: &[Event<'_>]) -> (Vec<u8>, usize) {
        // Each row: its strings, their lengths and the fixed columns.
        let capacity: usize = events
            .iter()
            .map(|e| {
                let strings = [&e.user_id, &e.session_id, &e.event_id, &e.platform];
                let more = [&e.country, &e.org_id, &e.app_version];
                strings.iter().chain(&more).map(|s| s.len()).sum::<usize>()
                    + self.project.len()
                    + 48
            })
            .sum();
        let mut encoded = Vec::with_capacity(capacity);
        for event in events {
            encode_event(&mut encoded, &self.project, self.received_ms, event);
        }
        (encoded, events.len())
    }
}

/// The body of an ingest request `admitted` (`admission`): read within
/// the body limit and pace, and gunzipped if `Content-Encoding` says so
/// (within the decompressed limit), its memory charged as it grows. The
/// admission lasts as long as the returned guard.
pub async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    mut admitted: Admitted,
) -> Result<(Bytes, Admitted), ApiError> {
    let limits = &state.limits;
    let gzip = is_gzip(headers)?;
    let pace = BodyPace {
        grace: Duration::from_millis(limits.body_grace_ms),
        min_bytes_per_s: limits.min_body_bytes_per_s,
        timeout: Duration::from_millis(limits.body_timeout_ms),
    };
    let body = read_charged(headers, body, limits.max_body_bytes, pace, &mut admitted).await?;
    if !gzip {
        return Ok((body, admitted));
    }
    let limit = limits.max_decompressed_bytes;
    off_the_workers(move || {
        let plain = gunzip(&body, limit, &mut admitted)?;
        Ok((plain.into(), admitted))
    })
    .await
}

/// The end every ingest route shares, once it knows the key: `parse` (run
/// off the async workers) turns the body into valid events of `project`
/// within its accepted window, encoded as rows (and whatever else the
/// route answers), or refuses the whole batch; the rows are charged to
/// `key`, appended to the write-ahead log and acknowledged. A refused batch
/// is charged what it made the server do (`size`: the body's bytes).
pub async fn append_validated<P, R>(
    state: &AppState,
    key: Authorized,
    project: &ProjectSettings,
    size: usize,
    parse: P,
) -> Result<(Accepted, R), ApiError>
where
    P: FnOnce(&AcceptWindow, &RowEncoder) -> Result<((Vec<u8>, usize), R), ApiError>
        + Send
        + 'static,
    R: Send + 'static,
{
    let now_ms = state.clock.now_ms();
    let window = accept_window(project, now_ms);
    let encoder = RowEncoder::new(project, now_ms);
    let parsed = off_the_workers(move || parse(&window, &encoder)).await;
    let ((encoded, accepted), extra) = match parsed {
        Ok(parsed) => parsed,
        Err(refused) => {
            state.keys.charge(key, refused_cost(&refused, size));
            return Err(refused);
        }
    };
    let accepted = append_rows(state, key, project, encoded, accepted, now_ms).await?;
    Ok((accepted, extra))
}

/// Valid rows of `project` received at `received_ms`: charged to `key`,
/// appended to the write-ahead log, acknowledged.
pub async fn append_rows(
    state: &AppState,
    key: Authorized,
    project: &ProjectSettings,
    encoded: Vec<u8>,
    accepted: usize,
    received_ms: i64,
) -> Result<Accepted, ApiError> {
    tracing::Span::current().record("events", accepted);
    state.keys.throttle_rest(key, accepted, 1)?;
    let rows = u32::try_from(accepted).expect("batches are capped far below 2^32 events");
    state
        .wal
        .append(encoded.into(), rows, received_ms)
        .await
        .map_err(|e: AppendError| ApiError::Unavailable(e.to_string()))?;
    state
        .monitoring
        .events_acknowledged(&project.name, accepted as u64);
    Ok(Accepted { accepted })
}

/// A typical event's size, to price a batch that could not be counted.
const BYTES_PER_EVENT: usize = 256;

/// What a refused batch costs its key, in events: what it made the server
/// do — the events it counted, or for a body that could not be counted,
/// as many events as its size would hold.
pub fn refused_cost(refused: &ApiError, body_bytes: usize) -> usize {
    let counted = match refused {
        ApiError::Batch(BatchError::Invalid { total, .. }) => *total,
        ApiError::Batch(BatchError::TooManyEvents { count, .. }) => *count,
        _ => 0,
    };
    counted.max(body_bytes / BYTES_PER_EVENT)
}

/// Runs CPU-heavy work (gunzip, parsing a batch of up to tens of MiB) on
/// tokio's blocking pool, so that a few large batches cannot stall the
/// async workers that answer every other request. The in-flight bounds of
/// [`super::admission`] bound how many run at once.
pub async fn off_the_workers<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::BodyRead(format!("the batch could not be processed: {e}")))?
}

/// The times `project` accepts events at, at `now_ms`.
pub fn accept_window(project: &ProjectSettings, now_ms: i64) -> AcceptWindow {
    AcceptWindow {
        now_ms,
        max_ahead_ms: i64::from(project.max_ts_ahead_s) * 1000,
        max_age_ms: (!project.backfill).then_some(i64::from(project.max_ts_age_s) * 1000),
    }
}
