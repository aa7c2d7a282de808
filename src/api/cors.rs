//! CORS on the ingest routes, so that pages of the origins projects list
//! (`allowed_origins`) can send events from the browser: a PostHog SDK, or
//! `fetch` to `/v1/events`. The key travels in the request (a header or
//! the body), so a preflight cannot know the project: an origin any
//! project lists is allowed on every ingest route. Nothing is revealed by
//! that: an ingest answer holds only counts, and the key still decides
//! what is stored.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::ProjectSettings;

/// How long a browser may keep a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer of the ingest routes: none of the projects' origins
/// allowed when they list none, any when one lists `*`.
pub fn ingest_cors(projects: &[ProjectSettings]) -> CorsLayer {
    let listed: Vec<&str> = projects
        .iter()
        .flat_map(|p| p.allowed_origins.iter().map(String::as_str))
        .collect();
    let origins = if listed.contains(&"*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            listed
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            HeaderName::from_static("authorization"),
            HeaderName::from_static("content-type"),
            HeaderName::from_static("content-encoding"),
        ])
        .max_age(PREFLIGHT_MAX_AGE)
}
