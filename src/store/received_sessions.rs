//! The upkeep of `received_sessions` (which sessions had events received when; see
//! `schema`): ClickHouse 18.16 knows no TTL, so every serving process drops
//! the UTC days older than the kept ones, on every server, once an hour.
//! Dropping a partition is idempotent: two processes doing it agree.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveTime};
use clickhouse::Client;

use super::StoreError;
use super::schema::RECEIVED_KEPT_DAYS;
use crate::clock::Clock;

/// Between two clean-ups.
const EVERY: Duration = Duration::from_secs(3600);

/// The start (UTC ms) of the oldest UTC day kept at `now_ms`: receipts
/// from then on are all there.
pub fn kept_from_ms(now_ms: i64) -> i64 {
    let today = DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .date_naive();
    let oldest = today
        .checked_sub_days(Days::new(u64::from(RECEIVED_KEPT_DAYS - 1)))
        .unwrap_or(today);
    oldest.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

/// Drops `table`'s days older than the kept ones at `now_ms` on every
/// server of `shards`; returns how many days were dropped in all.
pub async fn forget_old(shards: &[Client], table: &str, now_ms: i64) -> Result<usize, StoreError> {
    // Partition ids are the days' YYYYMMDD digits: as strings they sort as
    // the days do (and nothing is parsed that might not be a number).
    let oldest_kept = DateTime::from_timestamp_millis(kept_from_ms(now_ms))
        .unwrap_or_default()
        .format("%Y%m%d")
        .to_string();
    let mut dropped = 0;
    for client in shards {
        let partitions: Vec<String> = client
            .query(
                "SELECT DISTINCT partition FROM system.parts
                 WHERE database = currentDatabase() AND table = ? AND active
                   AND partition < ?",
            )
            .bind(table)
            .bind(&oldest_kept)
            .fetch_all()
            .await?;
        for partition in partitions {
            // Digits only (anything else is not one of our days).
            let Ok(day) = partition.parse::<u32>() else {
                continue;
            };
            client
                .query(&format!("ALTER TABLE {table} DROP PARTITION {day}"))
                .execute()
                .await?;
            dropped += 1;
        }
    }
    Ok(dropped)
}

/// Cleans up now and then every [`EVERY`] until `shutdown` resolves; a
/// failure is logged and tried again at the next one.
pub async fn keep_tidy(
    shards: Vec<Client>,
    table: &'static str,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        match forget_old(&shards, table, clock.now_ms()).await {
            Ok(0) => {}
            Ok(days) => tracing::info!(table, days, "dropped old receipts"),
            Err(error) => tracing::warn!(table, %error, "could not drop old receipts"),
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = &mut shutdown => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_and_yesterday_are_kept() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
        assert_eq!(
            kept_from_ms(at("2020-03-25T15:45:10Z")),
            at("2020-03-24T00:00:00Z")
        );
        assert_eq!(
            kept_from_ms(at("2020-03-01T00:00:00Z")),
            at("2020-02-29T00:00:00Z")
        );
    }
}
