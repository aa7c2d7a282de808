//! The figures per segment as ClickHouse keeps them (`segment_figures`,
//! `segment_days`; see `schema`), and their reads.
//!
//! A recompute may keep other values than the last one did (another
//! organisation in the top N), so values are not simply replaced: the
//! day's `segment_days` row is written last and its `computed_ms` names the
//! version of the values that belong to it.

use chrono::NaiveDate;
use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::figures::insert_rows;
use crate::domain::dimension::Dimension;

/// One value of one dimension on one day. `*_at` are epoch seconds.
#[derive(Debug, Clone, Default, PartialEq, Row, Serialize, Deserialize)]
pub struct SegmentFiguresRow {
    pub project: String,
    /// Days since 1970-01-01 (ClickHouse `Date`).
    pub day: u16,
    pub dimension: String,
    pub value: String,
    pub peak_users: u32,
    pub peak_users_at: u32,
    pub peak_connections: u32,
    pub peak_connections_at: u32,
    pub peak_active_users: u32,
    pub peak_active_users_at: u32,
    pub dau: u64,
    pub acu: f64,
    pub minute_users: Vec<u32>,
    pub minute_connections: Vec<u32>,
    pub minute_active_users: Vec<u32>,
    pub computed_ms: u64,
}

const VALUE_COLUMNS: &str = "project, day, dimension, value, peak_users, peak_users_at, \
    peak_connections, peak_connections_at, peak_active_users, peak_active_users_at, dau, acu, \
    minute_users, minute_connections, minute_active_users, computed_ms";

/// One dimension on one day: its totals.
#[derive(Debug, Clone, Default, PartialEq, Row, Serialize, Deserialize)]
pub struct SegmentDayRow {
    pub project: String,
    pub day: u16,
    pub dimension: String,
    /// Values seen that day (kept or not).
    pub value_count: u32,
    /// Σ of every value's peak.
    pub summed_peak: u64,
    /// The day's own peak of users.
    pub coincident_peak: u32,
    pub computed_ms: u64,
}

const DAY_COLUMNS: &str =
    "project, day, dimension, value_count, summed_peak, coincident_peak, computed_ms";

/// Stores a day's values, then its totals (which make them visible).
pub async fn insert(
    client: &Client,
    values: &[SegmentFiguresRow],
    days: &[SegmentDayRow],
) -> Result<(), StoreError> {
    if !values.is_empty() {
        insert_rows(client, "segment_figures", values).await?;
    }
    insert_rows(client, "segment_days", days).await
}

/// The totals of `dimension` for the days `from..=to` (oldest first) and
/// their kept values (as [`values`] reads them).
pub async fn read(
    client: &Client,
    project: &str,
    dimension: Dimension,
    range: (NaiveDate, NaiveDate),
) -> Result<(Vec<SegmentDayRow>, Vec<SegmentFiguresRow>), StoreError> {
    Ok((
        days(client, project, dimension, range).await?,
        values(client, project, dimension, range, None).await?,
    ))
}

/// The totals of `dimension` for the days `from..=to`, oldest first.
pub async fn days(
    client: &Client,
    project: &str,
    dimension: Dimension,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<Vec<SegmentDayRow>, StoreError> {
    Ok(client
        .query(&format!(
            "SELECT {DAY_COLUMNS} FROM segment_days FINAL
             WHERE project = ? AND dimension = ? AND day >= toDate(?) AND day <= toDate(?)
             ORDER BY day"
        ))
        .bind(project)
        .bind(dimension.name())
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all()
        .await?)
}

/// The values of `dimension` (all of them, or only `value`) for the days
/// `from..=to`: those of each day's latest computation, by day, highest
/// peak first.
pub async fn values(
    client: &Client,
    project: &str,
    dimension: Dimension,
    (from, to): (NaiveDate, NaiveDate),
    value: Option<&str>,
) -> Result<Vec<SegmentFiguresRow>, StoreError> {
    let only_value = if value.is_some() { "AND value = ?" } else { "" };
    let query = client
        .query(&format!(
            "SELECT {VALUE_COLUMNS} FROM segment_figures FINAL
             WHERE project = ? AND dimension = ? AND day >= toDate(?) AND day <= toDate(?)
               {only_value}
               AND (day, computed_ms) IN (
                   SELECT day, computed_ms FROM segment_days FINAL
                   WHERE project = ? AND dimension = ?
                     AND day >= toDate(?) AND day <= toDate(?))
             ORDER BY day, peak_users DESC, value"
        ))
        .bind(project)
        .bind(dimension.name())
        .bind(from.to_string())
        .bind(to.to_string());
    let query = match value {
        Some(value) => query.bind(value),
        None => query,
    };
    Ok(query
        .bind(project)
        .bind(dimension.name())
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all()
        .await?)
}
