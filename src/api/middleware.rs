//! The middleware that needs the application's state: the failed-key
//! guard and the bound on reads in flight (each refuses before the handler
//! runs, as JSON on the API and as a page under `/dashboards`), and the
//! metrics of ingest requests and reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::error::{ApiError, AuthFailed};
use super::pages::error::PageError;
use super::state::AppState;

/// Middleware: refuses credentials from blocked addresses, counts failures.
pub async fn limit_failed_keys(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let ip = state.web.client_ip(request.extensions(), request.headers());
    if presents_credential(&request)
        && let Some(wait) = state.guard.blocked_for(ip)
    {
        let refusal = ApiError::TooManyFailedKeys {
            retry_after_s: wait.as_secs_f64().ceil().max(1.0) as u64,
        };
        return refuse(&request, refusal);
    }
    let response = next.run(request).await;
    if response.extensions().get::<AuthFailed>().is_some() {
        state.guard.failed(ip);
    }
    response
}

fn presents_credential(request: &Request) -> bool {
    let headers = request.headers();
    let path = request.uri().path();
    headers.contains_key(AUTHORIZATION)
        || headers.contains_key(COOKIE)
        || (request.method() == Method::POST
            // A PostHog body or a beacon's URL carries its key.
            && (path == "/dashboards/login"
                || path == "/v1/beacon"
                || super::posthog::CAPTURE_PATHS.contains(&path)))
}

/// Middleware for the read routes: at most `max_reads_in_flight` at once.
pub async fn bound_reads(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(_place) = state.reads.try_enter() else {
        return refuse(&request, ApiError::Busy);
    };
    next.run(request).await
}

fn refuse(request: &Request, error: ApiError) -> Response {
    if request.uri().path().starts_with("/dashboards") {
        PageError::Api(error).into_response()
    } else {
        error.into_response()
    }
}

/// Middleware for `POST /v1/events`: counts the request by status and the
/// body bytes the handler actually read (declared or chunked, refused or
/// not).
pub async fn count_ingest(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let read = Arc::new(AtomicU64::new(0));
    let counter = read.clone();
    let request = request.map(|body| {
        Body::new(body.map_frame(move |frame| {
            if let Some(data) = frame.data_ref() {
                counter.fetch_add(data.len() as u64, Ordering::Relaxed);
            }
            frame
        }))
    });
    let response = next.run(request).await;
    state
        .monitoring
        .ingest_request(response.status().as_u16(), read.load(Ordering::Relaxed));
    response
}

/// Middleware for the reads: their latency per route.
pub async fn time_reads(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state
        .monitoring
        .read_answered(&route, started.elapsed().as_secs_f64());
    response
}
