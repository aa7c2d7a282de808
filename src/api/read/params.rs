//! The read API's query parameters, parsed with precise 400s.

use chrono::NaiveDate;

use crate::api::error::ApiError;
use crate::domain::calendar;
use crate::domain::dimension::Dimension;

/// A `YYYY-MM-DD` query parameter, within the days highwater keeps.
pub fn parse_day(name: &str, value: Option<&str>) -> Result<NaiveDate, ApiError> {
    let value =
        value.ok_or_else(|| ApiError::BadQuery(format!("`{name}` is required (YYYY-MM-DD)")))?;
    calendar::parse_day(value).map_err(|why| ApiError::BadQuery(format!("`{name}`: {why}")))
}

/// The `dimension` query parameter.
pub fn parse_dimension(value: Option<&str>) -> Result<Dimension, ApiError> {
    value
        .ok_or_else(|| {
            ApiError::BadQuery("`dimension` is required (platform, country or org_id)".into())
        })?
        .parse()
        .map_err(|e: String| ApiError::BadQuery(format!("`dimension` = {e}")))
}
