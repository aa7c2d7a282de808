//! Everything a dashboard page can answer instead of the page, and the one
//! place that turns each into a status and an HTML page. Server-side
//! failures say only that something went wrong; their cause goes to the
//! log, once.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::api::error::{ApiError, AuthFailed};
use crate::dashboards::page;
use crate::dashboards::report::escape;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No session yet: the key form, saying why (401).
    #[error("{message}")]
    LogIn { next: String, message: String },
    /// A session cookie that opens nothing (expired, logged out, forged):
    /// the key form (401), and it counts as a failed key.
    #[error("Your session has ended: enter a read key again.")]
    SessionUnknown { next: String },
    /// A key entered in the form that is no read key (401, counted).
    #[error("That is not a read key of any project.")]
    NotAReadKey { next: String },
    /// The browser holds no read key for the project asked for (403).
    #[error("This browser holds no read key for project {project:?}.")]
    NoKeyFor { next: String, project: String },
    #[error("This form must be sent from highwater's own page.")]
    ForeignForm,
    /// A login form without its fields (400, with the key form).
    #[error("The form could not be read: send a key and next.")]
    BadForm,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("The form is larger than {0} bytes.")]
    FormTooLarge(usize),
    /// A refusal shared with the API (rate limits, busy, a blocked
    /// address): its status, message and headers.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The figures could not be read (ClickHouse away or too slow).
    #[error("The figures cannot be read right now.")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl PageError {
    fn status(&self) -> StatusCode {
        match self {
            Self::LogIn { .. } | Self::SessionUnknown { .. } | Self::NotAReadKey { .. } => {
                StatusCode::UNAUTHORIZED
            }
            Self::NoKeyFor { .. } | Self::ForeignForm => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) | Self::BadForm => StatusCode::BAD_REQUEST,
            Self::FormTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Api(e) => e.status(),
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The dashboard a key form should lead back to, when it shows one.
    fn key_form_for(&self) -> Option<&str> {
        match self {
            Self::LogIn { next, .. }
            | Self::SessionUnknown { next }
            | Self::NotAReadKey { next }
            | Self::NoKeyFor { next, .. } => Some(next),
            Self::BadForm => Some("overview"),
            _ => None,
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match &self {
            Self::Unavailable(cause) => tracing::warn!("a dashboard page: {cause:#}"),
            Self::Internal(cause) => tracing::error!("a dashboard page: {cause:#}"),
            _ => {}
        }
        let message = self.to_string();
        let html = match self.key_form_for() {
            Some(next) => page::login(next, &message),
            None => text_page(&message),
        };
        let mut response = (self.status(), Html(html)).into_response();
        match &self {
            Self::Api(e) => e.mark(&mut response),
            Self::SessionUnknown { .. } | Self::NotAReadKey { .. } => {
                response.extensions_mut().insert(AuthFailed);
            }
            _ => {}
        }
        response
    }
}

fn text_page(message: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\"><title>highwater</title></head>\
         <body><p>{}</p></body></html>",
        escape(message)
    )
}
