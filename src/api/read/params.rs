//! The read API's query parameters, parsed with precise 400s.

use chrono::NaiveDate;

use crate::api::error::ApiError;
use crate::domain::dimension::Dimension;

/// A `YYYY-MM-DD` query parameter.
pub fn parse_day(name: &str, value: Option<&str>) -> Result<NaiveDate, ApiError> {
    let value =
        value.ok_or_else(|| ApiError::BadQuery(format!("`{name}` is required (YYYY-MM-DD)")))?;
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        ApiError::BadQuery(format!(
            "`{name}` = {value:?} is not a date like 2020-03-25"
        ))
    })
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
