//! `GET /v1/growth` and `GET /v1/capacity?horizon=28` (read keys).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::api::state::AppState;
use crate::capacity::horizon::Horizon;
use crate::capacity::report::{CapacityReport, GrowthReport, capacity_report, growth_report};
use crate::store::figures;

pub async fn growth(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<GrowthReport>, ApiError> {
    let project = state.readable_project(&headers)?;
    let rows = figures::all_days(&state.db, &project.name).await?;
    Ok(Json(growth_report(&project.name, &rows)?))
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
    let horizon = match query.horizon.as_deref() {
        None => Horizon::default(),
        Some(text) => text
            .parse::<Horizon>()
            .map_err(|e| ApiError::BadQuery(e.to_string()))?,
    };
    let rows = figures::all_days(&state.db, &project.name).await?;
    Ok(Json(capacity_report(project, &rows, horizon)?))
}
