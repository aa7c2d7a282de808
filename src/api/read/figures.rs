//! The read API (docs/design.md §3): daily figures, the concurrency series of a day,
//! and the all-time records. Read keys only; a key sees its own project.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;

use super::params::{parse_day, parse_dimension};
use crate::api::error::{ApiError, ErrorBody, ReadErrors};
use crate::api::state::AppState;
use crate::domain::calendar::check_range;
use crate::domain::day_window::DayWindow;
use crate::figures::daily::{
    ConcurrencyResponse, DailyResponse, DayMetrics, RecordsResponse, concurrency_steps, records,
};
use crate::figures::segments::value_minutes;

#[derive(Debug, Deserialize)]
pub struct DailyQuery {
    from: Option<String>,
    to: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ConcurrencyQuery {
    day: Option<String>,
    step: Option<String>,
    /// With `value`: the series of one segment instead of the whole day's.
    dimension: Option<String>,
    value: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/metrics/daily",
    tag = "read",
    params(
        ("from" = String, Query, description = "First day, YYYY-MM-DD (local days of the project's time zone)"),
        ("to" = String, Query, description = "Last day, YYYY-MM-DD; at most 400 days after `from`"),
    ),
    responses(
        (status = 200, description = "The computed days of the range, oldest first", body = DailyResponse),
        (status = 400, description = "A missing or malformed day, or too long a range", body = ErrorBody),
        ReadErrors,
    ),
    security(("read_key" = [])),
)]
pub async fn daily(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<DailyQuery>,
) -> Result<Json<DailyResponse>, ApiError> {
    let project = state.readable_project(&headers)?;
    let from = parse_day("from", query.from.as_deref())?;
    let to = parse_day("to", query.to.as_deref())?;
    check_range(from, to).map_err(|e| ApiError::BadQuery(e.to_string()))?;
    let rows = state.figures.daily(&project.name, from, to).await?;
    Ok(Json(DailyResponse {
        project: project.name.clone(),
        days: rows.iter().map(DayMetrics::from).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/v1/metrics/concurrency",
    tag = "read",
    params(
        ("day" = String, Query, description = "The day, YYYY-MM-DD"),
        ("step" = Option<u32>, Query, description = "Seconds per step: a multiple of 60 up to 86400 (default 60); each step holds the highest of its minutes"),
        ("dimension" = Option<String>, Query, description = "`platform`, `country` or `org_id`: one segment value's curve"),
        ("value" = Option<String>, Query, description = "The value, with `dimension` (empty for \"unknown\")"),
    ),
    responses(
        (status = 200, description = "Users, connections and active users per step", body = ConcurrencyResponse),
        (status = 400, description = "A malformed parameter", body = ErrorBody),
        ReadErrors,
    ),
    security(("read_key" = [])),
)]
pub async fn concurrency(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ConcurrencyQuery>,
) -> Result<Json<ConcurrencyResponse>, ApiError> {
    let project = state.readable_project(&headers)?;
    let day = parse_day("day", query.day.as_deref())?;
    let step: u32 = match query.step.as_deref() {
        None => 60,
        Some(text) => text
            .parse()
            .ok()
            .filter(|s| s % 60 == 0 && (60..=86_400).contains(s))
            .ok_or_else(|| {
                ApiError::BadQuery(format!(
                    "`step` = {text:?} must be a multiple of 60 between 60 and 86400 seconds"
                ))
            })?,
    };
    let mut body = ConcurrencyResponse {
        project: project.name.clone(),
        day: day.to_string(),
        step,
        dimension: None,
        value: None,
        series: Vec::new(),
    };
    let minutes = match query.dimension.as_deref() {
        None if query.value.is_some() => {
            return Err(ApiError::BadQuery(
                "`value` needs `dimension` (platform, country or org_id)".into(),
            ));
        }
        None => state.figures.minutes(&project.name, day).await?,
        Some(dimension) => {
            let dimension = parse_dimension(Some(dimension))?;
            let value = query.value.as_deref().ok_or_else(|| {
                ApiError::BadQuery(
                    "`value` is required with `dimension` (empty for \"unknown\")".into(),
                )
            })?;
            body.dimension = Some(dimension.name().to_owned());
            body.value = Some(value.to_owned());
            let rows = state
                .figures
                .segment_values(&project.name, dimension, (day, day), Some(value))
                .await?;
            let day_start = DayWindow::new(day, project.time_zone).start;
            rows.first()
                .map(|row| value_minutes(row, day_start))
                .unwrap_or_default()
        }
    };
    body.series = concurrency_steps(&minutes, (step / 60) as usize);
    Ok(Json(body))
}

#[utoipa::path(
    get,
    path = "/v1/records",
    tag = "read",
    responses(
        (status = 200, description = "The all-time record days: final days whose peak beat every earlier day's", body = RecordsResponse),
        ReadErrors,
    ),
    security(("read_key" = [])),
)]
pub async fn records_list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<RecordsResponse>, ApiError> {
    let project = state.readable_project(&headers)?;
    let days = state.figures.all_days(&project.name).await?;
    Ok(Json(RecordsResponse {
        project: project.name.clone(),
        records: records(&days),
    }))
}
