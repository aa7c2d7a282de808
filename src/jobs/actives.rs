//! Exact DAU sets and the rolling WAU / MAU built from them (no sketches).

use chrono::{Duration, NaiveDate};
use clickhouse::Client;

use crate::store::StoreError;

/// After the new set of `day` was written with version `computed_ms`,
/// marks inactive every user of an older set that is not in the new one.
pub async fn retire_stale_users(
    client: &Client,
    project: &str,
    day: NaiveDate,
    computed_ms: u64,
) -> Result<(), StoreError> {
    client
        .query(
            "INSERT INTO daily_active_users (project, day, user_id, active, computed_ms)
             SELECT project, day, user_id, toUInt8(0), toUInt64(?)
             FROM (
                SELECT project, day, user_id, argMax(active, computed_ms) AS latest_active,
                       max(computed_ms) AS latest_ms
                FROM daily_active_users
                WHERE project = ? AND day = toDate(?)
                GROUP BY project, day, user_id
             )
             WHERE latest_active = 1 AND latest_ms < ?",
        )
        .bind(computed_ms)
        .bind(project)
        .bind(day.to_string())
        .bind(computed_ms)
        .execute()
        .await?;
    Ok(())
}

/// (WAU, MAU) of `day`: distinct users active on any of the 7 / 30 days
/// ending on it.
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
                SELECT day, user_id, argMax(active, computed_ms) AS latest_active
                FROM daily_active_users
                WHERE project = ? AND day >= toDate(?) AND day <= toDate(?)
                GROUP BY day, user_id
             )
             WHERE latest_active = 1",
        )
        .bind(week_start.to_string())
        .bind(project)
        .bind(month_start.to_string())
        .bind(day.to_string())
        .fetch_one()
        .await?)
}
