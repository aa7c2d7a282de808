//! The OpenAPI description of the whole HTTP API, served at
//! `GET /openapi.json` and checked in as `openapi.json` (regenerate it with
//! `highwater openapi > openapi.json`). Every route is registered through
//! utoipa-axum's `routes!` from its handler's `#[utoipa::path]` (see
//! [`super::app`]), so a route cannot exist without its description.

use std::sync::LazyLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// One event of `/v1/events` (docs/design.md §1). Documentation only: the parser
/// is `domain::raw_event`, which reads these fields straight from the body.
#[derive(Serialize, ToSchema)]
pub struct EventDoc {
    /// `session_start`, `session_end`, `heartbeat` or `presence`.
    #[serde(rename = "type")]
    pub kind: String,
    pub user_id: String,
    pub session_id: String,
    /// Epoch milliseconds or RFC 3339; within the project's accepted window.
    pub ts: i64,
    /// `active` or `away`, on `presence` events.
    pub status: Option<String>,
    /// For de-duplication; optional.
    pub event_id: Option<String>,
    pub platform: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub org_id: Option<String>,
    pub app_version: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "highwater",
        description = "Counts how many people use a product and how many are online at the same time: ingest (`/v1/events`, the browser snippet's beacon, PostHog's capture, OpenTelemetry logs), the figures (`/v1/metrics/*`, `/v1/online`, `/v1/records`, `/v1/growth`, `/v1/capacity`), dashboards and the service's own health and metrics. The metric definitions are docs/design.md §2."
    ),
    modifiers(&Keys),
    tags(
        (name = "ingest", description = "Sending events (an ingest key)"),
        (name = "PostHog", description = "PostHog's capture API, for PostHog SDKs (the ingest key as their token)"),
        (name = "OpenTelemetry", description = "OTLP/HTTP logs with session.id"),
        (name = "read", description = "The figures (a read key)"),
        (name = "dashboards", description = "The live dashboards, for browsers with a session"),
        (name = "service", description = "Health, metrics, this description"),
    )
)]
pub struct ApiDoc;

/// The keys: ingest and read keys as bearer tokens, the scrape key too.
struct Keys;

impl Modify for Keys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        // utoipa fills the licence from Cargo.toml, which names none.
        openapi.info.license = None;
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |what: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(what))
                    .build(),
            )
        };
        components.add_security_scheme("ingest_key", bearer("A project's ingest key"));
        components.add_security_scheme("read_key", bearer("A project's read key"));
        components.add_security_scheme(
            "scrape_key",
            bearer("`metrics.scrape_key`, for /metrics on the main address"),
        );
        components.add_security_scheme(
            "beacon_key",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "key",
                "A project's ingest key in the URL (beacons cannot set headers)",
            ))),
        );
    }
}

/// The description as served: built once from the routes.
static SPEC: LazyLock<String> = LazyLock::new(|| {
    super::spec()
        .to_pretty_json()
        .expect("the description serializes")
});

/// The description, pretty-printed (as checked in).
pub fn spec_json() -> &'static str {
    &SPEC
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    responses((status = 200, description = "This description (OpenAPI 3.1)", body = serde_json::Value)),
)]
pub async fn openapi_json() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], spec_json())
}
