//! The rolling WAU / MAU, exact (no sketches), from the stored DAU sets.

use chrono::{Duration, NaiveDate};
use clickhouse::Client;

use crate::store::StoreError;

/// (WAU, MAU) of `day`: distinct users active on any of the 7 / 30 days
/// ending on it. Each day's set is the one written with the version its
/// `daily_figures` row names (for `day` itself: `version`, just written).
/// Older versions are ignored, so a recompute never needs to delete: users
/// who dropped out of a day are simply not in its current version.
pub async fn rolling(
    client: &Client,
    project: &str,
    day: NaiveDate,
    version: u64,
) -> Result<(u64, u64), StoreError> {
    let week_start = day - Duration::days(6);
    let month_start = day - Duration::days(29);
    Ok(client
        .query(
            "SELECT uniqExactIf(user_id, day >= toDate(?)), uniqExact(user_id)
             FROM daily_active_users
             WHERE project = ? AND day >= toDate(?) AND day <= toDate(?)
               AND ((day = toDate(?) AND computed_ms = ?)
                    OR (day, computed_ms) IN (
                        SELECT day, computed_ms FROM daily_figures FINAL
                        WHERE project = ? AND day >= toDate(?) AND day < toDate(?)))",
        )
        .bind(week_start.to_string())
        .bind(project)
        .bind(month_start.to_string())
        .bind(day.to_string())
        .bind(day.to_string())
        .bind(version)
        .bind(project)
        .bind(month_start.to_string())
        .bind(day.to_string())
        .fetch_one()
        .await?)
}
