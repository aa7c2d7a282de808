//! Every way an API request can fail, and the one place that turns each into
//! an HTTP status and a JSON body.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header::RETRY_AFTER};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::batch::BatchError;
use crate::domain::validate::FieldError;

/// Seconds a client should wait after 429 / 503.
const RETRY_AFTER_BUSY_S: u64 = 1;
const RETRY_AFTER_UNAVAILABLE_S: u64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing key: send `Authorization: Bearer <key>`")]
    MissingKey,
    #[error("unknown key")]
    UnknownKey,
    /// A key sent another way than the bearer header (a PostHog body, a
    /// beacon's URL): how to send it.
    #[error("missing key: send the project's ingest key {0}")]
    MissingKeyIn(&'static str),
    #[error("{0}")]
    WrongKeyRole(&'static str),
    #[error(
        "unsupported Content-Type {0:?}: send application/json (an array of events) or application/x-ndjson"
    )]
    UnsupportedContentType(String),
    #[error("unsupported Content-Encoding {0:?}: send gzip or no encoding")]
    UnsupportedEncoding(String),
    #[error("the body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("the decompressed body is larger than {limit} bytes")]
    DecompressedTooLarge { limit: usize },
    #[error(
        "the body would take more than {limit} bytes of memory once decoded: send smaller batches"
    )]
    ParsedTooLarge { limit: usize },
    #[error("the body is not valid gzip: {0}")]
    BadGzip(String),
    #[error("the body could not be read: {0}")]
    BodyRead(String),
    /// A PostHog-style body whose encoding (form, base64, lz-string) or
    /// envelope does not decode.
    #[error("the body could not be decoded: {0}")]
    BadPayload(String),
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("the body did not arrive within {0} ms")]
    BodyTimeout(u64),
    #[error("the body arrived slower than {min_bytes_per_s} bytes/s")]
    BodyTooSlow { min_bytes_per_s: u64 },
    /// Bodies without a key in flight from one address, past its share.
    #[error(
        "this address is sending {limit} bytes of bodies without a key already; retry when they are done"
    )]
    AddressBusy { limit: usize },
    #[error("this key's rate limit is reached; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error(
        "too many unknown keys from this address; credentials are not checked for {retry_after_s} s"
    )]
    TooManyFailedKeys { retry_after_s: u64 },
    #[error(
        "the batch holds {cost} events, more than this key's burst of {burst}: send smaller batches"
    )]
    OverBurst { cost: usize, burst: u32 },
    #[error("the server is at its limit of requests in progress; retry later")]
    Busy,
    #[error("{0}; nothing of this batch was acknowledged, retry later")]
    Unavailable(String),
    #[error("{0}")]
    BadQuery(String),
    /// The request is fine; the project's history is too short for it.
    #[error(transparent)]
    NotEnoughHistory(#[from] crate::capacity::report::CapacityError),
    #[error("storage is unavailable; retry later")]
    ReadUnavailable,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingKey | Self::MissingKeyIn(_) | Self::UnknownKey => StatusCode::UNAUTHORIZED,
            Self::WrongKeyRole(_) => StatusCode::FORBIDDEN,
            Self::UnsupportedContentType(_) | Self::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::BodyTooLarge { .. }
            | Self::DecompressedTooLarge { .. }
            | Self::ParsedTooLarge { .. }
            | Self::OverBurst { .. }
            | Self::Batch(BatchError::TooManyEvents { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout(_) | Self::BodyTooSlow { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::BadGzip(_)
            | Self::BodyRead(_)
            | Self::BadPayload(_)
            | Self::Batch(_)
            | Self::BadQuery(_) => StatusCode::BAD_REQUEST,
            Self::NotEnoughHistory(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. }
            | Self::TooManyFailedKeys { .. }
            | Self::AddressBusy { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy | Self::Unavailable(_) | Self::ReadUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// A stable machine-readable name for the error.
    fn code(&self) -> &'static str {
        match self {
            Self::MissingKey | Self::MissingKeyIn(_) => "missing_key",
            Self::UnknownKey => "unknown_key",
            Self::WrongKeyRole(_) => "wrong_key_role",
            Self::UnsupportedContentType(_) => "unsupported_content_type",
            Self::UnsupportedEncoding(_) => "unsupported_content_encoding",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::DecompressedTooLarge { .. } => "decompressed_body_too_large",
            Self::ParsedTooLarge { .. } => "parsed_body_too_large",
            Self::BadGzip(_) => "bad_gzip",
            Self::BodyRead(_) => "body_read_failed",
            Self::BadPayload(_) => "bad_payload",
            Self::Batch(BatchError::Malformed(_)) => "malformed_body",
            Self::Batch(BatchError::Empty) => "empty_batch",
            Self::Batch(BatchError::TooManyEvents { .. }) => "too_many_events",
            Self::Batch(BatchError::Invalid { .. }) => "invalid_events",
            Self::BodyTimeout(_) => "body_timeout",
            Self::BodyTooSlow { .. } => "body_too_slow",
            Self::AddressBusy { .. } => "address_busy",
            Self::RateLimited { .. } => "rate_limited",
            Self::TooManyFailedKeys { .. } => "too_many_failed_attempts",
            Self::OverBurst { .. } => "batch_over_rate_burst",
            Self::Busy => "busy",
            Self::Unavailable(_) | Self::ReadUnavailable => "storage_unavailable",
            Self::BadQuery(_) => "bad_query",
            Self::NotEnoughHistory(_) => "not_enough_history",
        }
    }
}

/// The body of every API error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code (`invalid_events`, `missing_key`, …; docs/api.md, "Ingest API").
    pub error: &'static str,
    /// What was wrong, for people.
    pub message: String,
    /// For `invalid_events`: the first problems, each naming its event and field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// For `invalid_events`: how many problems in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors_total: Option<usize>,
}

/// What every read can answer besides its own answers (OpenAPI).
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "described in the OpenAPI document, never built")]
pub enum ReadErrors {
    /// Missing or unknown read key (403 `wrong_key_role` for an ingest key).
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// Rate limited: the read key's bucket is empty (see `Retry-After`).
    #[response(status = 429)]
    RateLimited(ErrorBody),
    /// Too many reads at once, or ClickHouse unavailable (see `Retry-After`).
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// What every ingest route can answer besides its own answers (OpenAPI).
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "described in the OpenAPI document, never built")]
pub enum IngestErrors {
    /// Missing or unknown key (403 `wrong_key_role` for a read key).
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The body did not arrive within `body_timeout_ms`, or slower than
    /// `min_body_bytes_per_s`.
    #[response(status = 408)]
    BodyTimeout(ErrorBody),
    /// Body, decompressed body or batch over a limit.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// Rate limited: the key's bucket is empty, or the address sends too
    /// many bodies without a key at once (see `Retry-After`).
    #[response(status = 429)]
    RateLimited(ErrorBody),
    /// Busy, or the write-ahead log cannot take the batch (see `Retry-After`).
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (errors, errors_total) = match &self {
            Self::Batch(BatchError::Invalid { errors, total }) => {
                (Some(errors.clone()), Some(*total))
            }
            _ => (None, None),
        };
        let body = ErrorBody {
            error: self.code(),
            message: self.to_string(),
            errors,
            errors_total,
        };
        let mut response = (status, Json(body)).into_response();
        self.mark(&mut response);
        response
    }
}

/// Put into a response's extensions by a handler that was shown a
/// credential it does not know; the failed-key guard
/// (`access::guard`) counts it against the client's address.
#[derive(Debug, Clone, Copy)]
pub struct AuthFailed;

impl ApiError {
    /// What every answer to this error carries besides its body, JSON or
    /// page: `Retry-After`, and the mark that counts an unknown key against
    /// the client's address.
    pub fn mark(&self, response: &mut Response) {
        if let Some(seconds) = self.retry_after_s() {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if matches!(self, Self::UnknownKey) {
            response.extensions_mut().insert(AuthFailed);
        }
    }

    fn retry_after_s(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_s } | Self::TooManyFailedKeys { retry_after_s } => {
                Some(*retry_after_s)
            }
            Self::Busy | Self::AddressBusy { .. } => Some(RETRY_AFTER_BUSY_S),
            Self::Unavailable(_) | Self::ReadUnavailable => Some(RETRY_AFTER_UNAVAILABLE_S),
            _ => None,
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    /// The cause goes to the log once; the client learns only that storage
    /// is unavailable.
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "reading from ClickHouse failed");
        Self::ReadUnavailable
    }
}
