//! `GET /sdk/highwater.js`: the browser snippet (`highwater.js`, beside this
//! file), served as is — no build step for the pages that include it.

use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

const SNIPPET: &str = include_str!("highwater.js");

#[utoipa::path(
    get,
    path = "/sdk/highwater.js",
    tag = "ingest",
    responses((status = 200, description = "The browser snippet: `highwater.start({url, key, userId})`", content_type = "application/javascript", body = String)),
)]
pub async fn snippet() -> impl IntoResponse {
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("application/javascript; charset=utf-8"),
            ),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        SNIPPET,
    )
}
