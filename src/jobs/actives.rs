//! The rolling WAU / MAU, exact (no sketches), from the stored DAU sets.

use chrono::{Duration, NaiveDate};
use clickhouse::Client;

use crate::store::StoreError;

/// (WAU, MAU) of `day`: distinct users active on any of the 7 / 30 days
/// ending on it, from the latest stored set of each day.
pub async fn rolling(
    client: &Client,
    project: &str,
    day: NaiveDate,
) -> Result<(u64, u64), StoreError> {
    let week_start = day - Duration::days(6);
    let month_start = day - Duration::days(29);
    Ok(client
        .query(
            "SELECT uniqExactIf(user_id, day >= toDate(?)), uniqExact(user_id)
             FROM (
                SELECT day, users FROM daily_active_sets FINAL
                WHERE project = ? AND day >= toDate(?) AND day <= toDate(?)
             )
             ARRAY JOIN users AS user_id",
        )
        .bind(week_start.to_string())
        .bind(project)
        .bind(month_start.to_string())
        .bind(day.to_string())
        .fetch_one()
        .await?)
}
