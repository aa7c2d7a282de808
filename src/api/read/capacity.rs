//! `GET /v1/growth` and `GET /v1/capacity?horizon=28` (read keys).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;

use crate::api::error::{ApiError, ErrorBody, ReadErrors};
use crate::api::state::AppState;
use crate::capacity::horizon::Horizon;
use crate::capacity::report::{CapacityReport, GrowthReport, capacity_report, growth_report};

#[utoipa::path(
    get,
    path = "/v1/growth",
    tag = "read",
    responses(
        (status = 200, description = "Week-over-week and month-over-month changes, weekly peak growth, the record gaps", body = GrowthReport),
        (status = 422, description = "Not enough final days yet", body = ErrorBody),
        ReadErrors,
    ),
    security(("read_key" = [])),
)]
pub async fn growth(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<GrowthReport>, ApiError> {
    let project = state.readable_project(&headers)?;
    let rows = state.figures.all_days(&project.name).await?;
    Ok(Json(growth_report(&project.name, &rows)?))
}

#[derive(Debug, Deserialize)]
pub struct CapacityQuery {
    horizon: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/capacity",
    tag = "read",
    params(("horizon" = Option<u32>, Query, description = "Days to forecast (default 28)")),
    responses(
        (status = 200, description = "The peak forecast with its interval, and the headroom against `capacity_users`", body = CapacityReport),
        (status = 400, description = "A malformed horizon", body = ErrorBody),
        (status = 422, description = "Not enough final days yet", body = ErrorBody),
        ReadErrors,
    ),
    security(("read_key" = [])),
)]
pub async fn capacity(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CapacityQuery>,
) -> Result<Json<CapacityReport>, ApiError> {
    let project = state.readable_project(&headers)?;
    let horizon = match query.horizon.as_deref() {
        None => Horizon::default(),
        Some(text) => text
            .parse::<Horizon>()
            .map_err(|e| ApiError::BadQuery(e.to_string()))?,
    };
    let rows = state.figures.all_days(&project.name).await?;
    Ok(Json(capacity_report(project, &rows, horizon)?))
}
