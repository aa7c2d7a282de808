//! `POST /v1/logs`: OpenTelemetry's OTLP/HTTP logs, protobuf
//! (`application/x-protobuf`) or JSON (`application/json`), gzip or not,
//! with a project's ingest key as `Authorization: Bearer` (an OpenTelemetry
//! Collector's `otlphttp` exporter sets it under `headers`). Records with
//! `session.id` become events (`records`), through the write-ahead log,
//! limits and rate limits of `/v1/events`. The answer is OTLP's
//! `ExportLogsServiceResponse` in the request's encoding; records left out
//! are counted in its `partialSuccess`, with the first problems in its
//! message. Errors are highwater's JSON errors (status codes as OTLP
//! expects: 400 is not retried, 429/503 are, after `Retry-After`).

pub(crate) mod cost;
pub(crate) mod records;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use prost::Message;

use super::error::{ApiError, ErrorBody, IngestErrors};
use super::ingest::admission::parsing_bytes;
use super::ingest::body::media_type;
use super::ingest::partial::Refused;
use super::ingest::{append_validated, off_the_workers, read_body};
use super::state::AppState;
use crate::domain::batch::BatchError;
use crate::domain::raw_event::RawEvent;
use cost::CostError;

/// OTLP/HTTP's two encodings.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn of(headers: &HeaderMap) -> Result<Self, ApiError> {
        let (value, media_type) = media_type(headers);
        match media_type.as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(Self::Protobuf),
            "application/json" => Ok(Self::Json),
            _ => Err(ApiError::UnsupportedContentType(format!(
                "{value} (OTLP/HTTP sends application/x-protobuf or application/json)"
            ))),
        }
    }

    /// What decoding `body` will hold in memory (`cost`), at most `limit`.
    fn cost(self, body: &[u8], limit: usize) -> Result<usize, ApiError> {
        let cost = match self {
            Self::Protobuf => cost::protobuf(body, limit),
            Self::Json => cost::json(body, limit),
        };
        cost.map_err(|e| match e {
            CostError::OverLimit => ApiError::ParsedTooLarge { limit },
            CostError::Malformed(why) => ApiError::Batch(BatchError::Malformed(format!(
                "expected OTLP logs: {}",
                clipped(&why)
            ))),
        })
    }

    fn decode(self, body: &[u8]) -> Result<ExportLogsServiceRequest, BatchError> {
        let malformed = |what: &str, e: &dyn std::fmt::Display| {
            BatchError::Malformed(format!("expected OTLP {what} logs: {}", clipped(e)))
        };
        match self {
            Self::Protobuf => {
                ExportLogsServiceRequest::decode(body).map_err(|e| malformed("protobuf", &e))
            }
            Self::Json => serde_json::from_slice(body).map_err(|e| malformed("JSON", &e)),
        }
    }

    fn answer(self, refused: &Refused) -> Response {
        let response = ExportLogsServiceResponse {
            partial_success: (refused.events > 0).then(|| ExportLogsPartialSuccess {
                rejected_log_records: refused.events as i64,
                error_message: summary(refused),
            }),
        };
        match self {
            Self::Protobuf => (
                [(CONTENT_TYPE, "application/x-protobuf")],
                response.encode_to_vec(),
            )
                .into_response(),
            Self::Json => axum::Json(response).into_response(),
        }
    }
}

/// A decoding error cut short: serde quotes the value it could not take,
/// and a client's megabyte of garbage should not come back in the answer.
fn clipped(error: &dyn std::fmt::Display) -> String {
    const MAX_CHARS: usize = 160;
    let text = error.to_string();
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// The problems of the records left out, as one line each.
fn summary(refused: &Refused) -> String {
    let mut lines: Vec<String> = refused
        .errors
        .iter()
        .map(|e| format!("record {}: {} {}", e.index, e.field, e.message))
        .collect();
    if refused.errors_total > refused.errors.len() {
        lines.push(format!("… {} problems in all", refused.errors_total));
    }
    lines.join("; ")
}

#[utoipa::path(
    post,
    path = "/v1/logs",
    tag = "OpenTelemetry",
    request_body(
        description = "OTLP/HTTP `ExportLogsServiceRequest`; gzip with `Content-Encoding: gzip`",
        content(
            (Vec<u8> = "application/x-protobuf"),
            (serde_json::Value = "application/json"),
        ),
    ),
    responses(
        (status = 200, description = "The records with `session.id` are in the write-ahead log; `partialSuccess` counts the others (`ExportLogsServiceResponse`, in the request's encoding)",
         content((serde_json::Value = "application/json"), (Vec<u8> = "application/x-protobuf"))),
        (status = 400, description = "Not OTLP, or no record with a session; nothing stored", body = ErrorBody),
        IngestErrors,
        (status = 415, description = "Not protobuf or JSON", body = ErrorBody),
    ),
    security(("ingest_key" = [])),
)]
#[tracing::instrument(skip_all, fields(project, events))]
pub async fn ingest_logs(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (key, project) = state.ingest_key(&headers)?;
    tracing::Span::current().record("project", project.name.as_str());
    let encoding = Encoding::of(&headers)?;
    // As on /v1/events: one token from the key's bucket before any work.
    state.keys.throttle(key, 1)?;
    let admitted = state.admission.admit()?;
    let (body, admitted) = read_body(&state, &headers, body, admitted).await?;
    let max_events = state.limits.max_events_per_batch;
    let limit = state.limits.max_parsed_bytes;
    // The decoded request is charged before it is built, and then the
    // events made of its records.
    let (body, _admitted) = off_the_workers(move || {
        let mut admitted = admitted;
        admitted.grow(encoding.cost(&body, limit)?)?;
        let parsed_event = std::mem::size_of::<RawEvent>();
        admitted.grow(parsing_bytes(body.len(), max_events, parsed_event))?;
        Ok((body, admitted))
    })
    .await?;
    let size = body.len();
    let user_attribute = project.otel_user_attribute.clone();
    let (_, refused) = append_validated(&state, key, project, size, move |window, rows| {
        let request = encoding.decode(&body)?;
        let converted = records::convert(&request, &user_attribute, window, max_events)?;
        Ok((rows.encode(&converted.events), converted.refused))
    })
    .await?;
    Ok(encoding.answer(&refused))
}
