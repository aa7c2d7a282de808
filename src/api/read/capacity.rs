//! `GET /v1/growth` and `GET /v1/capacity?horizon=28` (read keys).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::api::state::AppState;
use crate::capacity::report::{CapacityReport, GrowthReport, capacity_report, growth_report};
use crate::store::figures;

/// Longest forecast: a quarter ahead.
pub const MAX_HORIZON: u32 = 92;

pub async fn growth(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<GrowthReport>, ApiError> {
    let project = state.readable_project(&headers)?;
    let rows = figures::all_days(&state.db, &project.name).await?;
    growth_report(&project.name, &rows)
        .map(Json)
        .ok_or_else(|| ApiError::BadQuery(format!("{} has no final days yet", project.name)))
}

#[derive(Debug, Deserialize)]
pub struct CapacityQuery {
    horizon: Option<String>,
}

pub async fn capacity(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CapacityQuery>,
) -> Result<Json<CapacityReport>, ApiError> {
    let project = state.readable_project(&headers)?;
    let horizon = parse_horizon(query.horizon.as_deref()).map_err(ApiError::BadQuery)?;
    let rows = figures::all_days(&state.db, &project.name).await?;
    capacity_report(project, &rows, horizon)
        .map(Json)
        .map_err(ApiError::BadQuery)
}

/// `horizon`: days to forecast, 1 to 92 (default 28).
pub fn parse_horizon(text: Option<&str>) -> Result<u32, String> {
    match text {
        None => Ok(28),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|h| (1..=MAX_HORIZON).contains(h))
            .ok_or_else(|| format!("horizon {text:?}: a number of days from 1 to {MAX_HORIZON}")),
    }
}
