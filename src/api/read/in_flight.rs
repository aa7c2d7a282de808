//! A bound on reads in progress. A read may cost ClickHouse seconds (a
//! dashboard over a year, a forecast); without a bound, a burst of them —
//! from many keys at once — would queue work without end. Past the bound a
//! read is refused at once with 503 `busy`, and the client retries.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::api::error::ApiError;
use crate::api::state::AppState;

#[derive(Debug, Clone)]
pub struct ReadsInFlight(Arc<Semaphore>);

impl ReadsInFlight {
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max)))
    }
}

/// Middleware for the read routes.
pub async fn bound(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Ok(_permit) = state.reads.0.clone().try_acquire_owned() else {
        return if request.uri().path().starts_with("/dashboards") {
            crate::api::pages::error::PageError::Api(ApiError::Busy).into_response()
        } else {
            ApiError::Busy.into_response()
        };
    };
    next.run(request).await
}
