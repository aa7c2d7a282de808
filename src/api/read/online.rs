//! `GET /v1/online`: users, connections and active users online at the
//! server clock's current second (docs/design.md §2 "Online now"), optionally per
//! value of a dimension, with how much this instance has acknowledged
//! that the answer cannot count yet (not yet in ClickHouse).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::params::parse_dimension;
use crate::api::error::{ApiError, ErrorBody, ReadErrors};
use crate::api::state::AppState;
use crate::figures::online::OnlineReport;

#[derive(Debug, Deserialize)]
pub struct OnlineQuery {
    dimension: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OnlineResponse {
    #[serde(flatten)]
    pub report: OnlineReport,
    /// Events this instance acknowledged that are not in ClickHouse yet
    /// (so not counted).
    pub unshipped_bytes: u64,
    /// Age of the oldest acknowledged event the answer may not count: the
    /// oldest unshipped here, or, from live counts, their cut-off.
    pub behind_s: f64,
    /// `live`: today's counts of the latest live round (jobs on, no
    /// dimension); `store`: evaluated over every stored event.
    pub source: &'static str,
}

#[utoipa::path(
    get,
    path = "/v1/online",
    tag = "read",
    params(("dimension" = Option<String>, Query, description = "`platform`, `country` or `org_id`: counts per value too")),
    responses(
        (status = 200, description = "Users, connections and active users online at the server clock's current second (docs/design.md §2, \"Online now\")", body = OnlineResponse),
        (status = 400, description = "An unknown dimension", body = ErrorBody),
        ReadErrors,
    ),
    security(("read_key" = [])),
)]
pub async fn online(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<OnlineQuery>,
) -> Result<Json<OnlineResponse>, ApiError> {
    let project = state.readable_project(&headers)?;
    let dimension = query
        .dimension
        .as_deref()
        .map(|d| parse_dimension(Some(d)))
        .transpose()?;
    let now_ms = state.clock.now_ms();
    let at = now_ms.div_euclid(1000);
    let online = state.figures.online_at(project, at, dimension).await?;
    let log = state.wal.monitor().status(now_ms);
    // Behind: what this instance holds unshipped, or what the live
    // counts have not seen yet, whichever is older.
    let cut = online.counted_until_ms;
    let unseen_s = cut.map_or(0.0, |cut| (now_ms - cut).max(0) as f64 / 1000.0);
    Ok(Json(OnlineResponse {
        report: OnlineReport::new(&project.name, online),
        unshipped_bytes: log.backlog_bytes,
        behind_s: log.backlog_age_s.max(unseen_s),
        source: if cut.is_some() { "live" } else { "store" },
    }))
}
