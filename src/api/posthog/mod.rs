//! PostHog-compatible capture, so that a PostHog SDK (`api_host` = this
//! server, the project's ingest key as its token) counts users here:
//! `POST /batch`, `/e`, `/capture`, `/i/v0/e` (each with or without a
//! trailing slash) take PostHog bodies (`payload`) and turn their events
//! into heartbeats (`events`), through the write-ahead log, limits and rate
//! limits of `/v1/events`. What posthog-js asks for besides — its remote
//! config (`/array/<token>/config`, `config.js`) and feature flags
//! (`/flags`, `/decide`) — gets empty answers, the same for any token (no
//! oracle for guessing keys), so the SDK proceeds.

pub(crate) mod events;
pub(crate) mod lz64;
pub(crate) mod payload;

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::access::client::ClientAddress;
use super::access::keys::KeyRole;
use super::error::{ApiError, ErrorBody, IngestErrors};
use super::ingest::admission::parsing_bytes;
use super::ingest::partial::Refused;
use super::ingest::{
    RowEncoder, accept_window, append_rows, off_the_workers, read_body, refused_cost,
};
use super::state::AppState;
use crate::domain::raw_event::RawEvent;
use events::Capture;
use payload::Compression;

/// The capture routes' paths.
pub const CAPTURE_PATHS: [&str; 8] = [
    "/batch",
    "/batch/",
    "/e",
    "/e/",
    "/capture",
    "/capture/",
    "/i/v0/e",
    "/i/v0/e/",
];

#[derive(Debug, Deserialize)]
pub struct CaptureQuery {
    compression: Option<String>,
}

/// What a capture answers: PostHog's `status: 1`, and what was taken.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaptureAnswer {
    status: u8,
    accepted: usize,
    /// Events left out, each with its index, field and reason.
    #[serde(skip_serializing_if = "is_none_refused")]
    refused: Refused,
}

fn is_none_refused(refused: &Refused) -> bool {
    refused.errors_total == 0
}

/// The capture routes, one handler per path (each is a path of the OpenAPI
/// description; the path must be a literal there).
macro_rules! capture_routes {
    ($($name:ident => $path:literal),* $(,)?) => {$(
        #[utoipa::path(
            post,
            path = $path,
            tag = "PostHog",
            params(("compression" = Option<String>, Query,
                    description = "`gzip-js`, `base64` or `lz64`, as PostHog SDKs say")),
            request_body(
                description = "PostHog's capture body: `{api_key, batch: [...]}`, one event, or an array of events (the key in `properties.token`); JSON, gzip (by header or by its magic bytes), base64, lz-string, or a form with `data=`",
                content(
                    (serde_json::Value = "application/json"),
                    (String = "text/plain"),
                    (String = "application/x-www-form-urlencoded"),
                ),
            ),
            responses(
                (status = 200, description = "The valid events are in the write-ahead log; the others are listed", body = CaptureAnswer),
                (status = 400, description = "Not a PostHog body, or no valid event; nothing stored", body = ErrorBody),
                IngestErrors,
            ),
        )]
        pub async fn $name(
            state: State<AppState>,
            client: ClientAddress,
            query: Query<CaptureQuery>,
            headers: HeaderMap,
            body: Body,
        ) -> Result<Json<CaptureAnswer>, ApiError> {
            capture(state, client, query, headers, body).await
        }
    )*};
}

capture_routes! {
    batch => "/batch",
    batch_slash => "/batch/",
    e => "/e",
    e_slash => "/e/",
    capture_path => "/capture",
    capture_slash => "/capture/",
    i_v0_e => "/i/v0/e",
    i_v0_e_slash => "/i/v0/e/",
}

/// A capture: its key is inside the body, so the body is read as keyless
/// (`admission`: a share per client address) until the key is found.
#[tracing::instrument(skip_all, fields(project, events))]
async fn capture(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Query(query): Query<CaptureQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<CaptureAnswer>, ApiError> {
    let compression = Compression::named(query.compression.as_deref().unwrap_or(""))?;
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let admitted = state.admission.admit_keyless(client)?;
    let (body, admitted) = read_body(&state, &headers, body, admitted).await?;
    let limits = state.limits.clone();
    let (json, mut admitted) = off_the_workers(move || {
        let mut admitted = admitted;
        let json = payload::decode(
            body,
            form,
            compression,
            limits.max_decompressed_bytes,
            &mut admitted,
        )?;
        Ok((json, admitted))
    })
    .await?;
    let parsed_event =
        std::mem::size_of::<events::PostHogEvent>() + std::mem::size_of::<RawEvent>();
    admitted.grow(parsing_bytes(
        json.len(),
        state.limits.max_events_per_batch,
        parsed_event,
    ))?;
    let size = json.len();
    let now_ms = state.clock.now_ms();
    let (keys, projects, max_events) = (
        state.keys.clone(),
        state.projects.clone(),
        state.limits.max_events_per_batch,
    );
    // One pass off the workers: the events borrow from the body, so the
    // key is found, checked and charged, and the rows encoded, together.
    let outcome = off_the_workers(move || {
        let capture = Capture::parse(&json, max_events)?;
        let token = capture
            .token
            .as_deref()
            .ok_or(ApiError::MissingKeyIn("as `api_key` (or `token`)"))?;
        let key = keys.authorize_token(token.as_bytes(), KeyRole::Ingest)?;
        keys.throttle(key, 1)?;
        let project = &projects[key.project];
        let window = accept_window(project, now_ms);
        let rows = RowEncoder::new(project, now_ms);
        let converted = capture
            .convert(&window)
            .map_err(|e| (key, ApiError::from(e)));
        Ok(match converted {
            Ok(converted) => Ok((key, rows.encode(&converted.events), converted.refused)),
            Err(refused) => Err(refused),
        })
    })
    .await?;
    admitted.authenticated();
    let (key, (encoded, accepted), refused) = match outcome {
        Ok(parsed) => parsed,
        Err((key, refused)) => {
            state.keys.charge(key, refused_cost(&refused, size));
            return Err(refused);
        }
    };
    let project = &state.projects[key.project];
    tracing::Span::current().record("project", project.name.as_str());
    let accepted = append_rows(&state, key, project, encoded, accepted, now_ms).await?;
    Ok(Json(CaptureAnswer {
        status: 1,
        accepted: accepted.accepted,
        refused,
    }))
}

/// `GET /array/<token>/config`: no remote configuration.
#[utoipa::path(
    get,
    path = "/array/{token}/config",
    tag = "PostHog",
    params(("token" = String, Path, description = "Any project token: the answer is the same")),
    responses((status = 200, description = "An empty configuration", body = serde_json::Value)),
)]
pub async fn remote_config() -> Json<serde_json::Value> {
    Json(serde_json::json!({}))
}

/// `GET /array/<token>/config.js`: an empty script.
#[utoipa::path(
    get,
    path = "/array/{token}/config.js",
    tag = "PostHog",
    params(("token" = String, Path, description = "Any project token: the answer is the same")),
    responses((status = 200, description = "An empty script", content_type = "application/javascript", body = String)),
)]
pub async fn remote_config_script() -> impl IntoResponse {
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("application/javascript"),
        )],
        "",
    )
}

/// The feature-flag routes, one handler per path.
macro_rules! flag_routes {
    ($($name:ident => $path:literal),* $(,)?) => {$(
        #[utoipa::path(
            post,
            path = $path,
            tag = "PostHog",
            responses((status = 200, description = "No feature flags (the body is not read)", body = serde_json::Value)),
        )]
        pub async fn $name() -> Json<serde_json::Value> {
            flags().await
        }
    )*};
}

flag_routes! {
    flags_path => "/flags",
    flags_slash => "/flags/",
    decide => "/decide",
    decide_slash => "/decide/",
}

/// `POST /flags`, `/decide`: no feature flags (the body is not read).
async fn flags() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "featureFlags": {},
        "featureFlagPayloads": {},
        "errorsWhileComputingFlags": false,
    }))
}
