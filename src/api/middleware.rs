//! The middleware that needs the application's state: the failed-key
//! guard and the bound on reads in flight. Each refuses before the handler
//! runs, as JSON on the API and as a page under `/dashboards`.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

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
    headers.contains_key(AUTHORIZATION)
        || headers.contains_key(COOKIE)
        || (request.method() == Method::POST && request.uri().path() == "/dashboards/login")
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
