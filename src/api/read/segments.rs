//! `GET /v1/metrics/segments`: per day, the figures of every kept value of
//! one dimension and its summed vs coincident peak (docs/design.md §2 "Segments").

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;

use super::params::{parse_day, parse_dimension};
use crate::api::error::{ApiError, ErrorBody, ReadErrors};
use crate::api::state::AppState;
use crate::domain::calendar::check_range;
use crate::figures::segments::{SegmentsResponse, segment_days};

#[derive(Debug, Deserialize)]
pub struct SegmentsQuery {
    dimension: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/metrics/segments",
    tag = "read",
    params(
        ("dimension" = String, Query, description = "`platform`, `country` or `org_id`"),
        ("from" = String, Query, description = "First day, YYYY-MM-DD"),
        ("to" = String, Query, description = "Last day, YYYY-MM-DD"),
    ),
    responses(
        (status = 200, description = "Per day, each kept value's figures and the summed vs coincident peak", body = SegmentsResponse),
        (status = 400, description = "A missing or malformed parameter", body = ErrorBody),
        ReadErrors,
    ),
    security(("read_key" = [])),
)]
pub async fn segments(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SegmentsQuery>,
) -> Result<Json<SegmentsResponse>, ApiError> {
    let project = state.readable_project(&headers)?;
    let dimension = parse_dimension(query.dimension.as_deref())?;
    let from = parse_day("from", query.from.as_deref())?;
    let to = parse_day("to", query.to.as_deref())?;
    check_range(from, to).map_err(|e| ApiError::BadQuery(e.to_string()))?;
    let (days, values) = state
        .figures
        .segments(&project.name, dimension, (from, to))
        .await?;
    Ok(Json(SegmentsResponse {
        project: project.name.clone(),
        dimension: dimension.name().to_owned(),
        days: segment_days(&days, &values),
    }))
}
