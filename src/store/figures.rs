//! The computed figures as ClickHouse keeps them, and their reads and writes.
//! Every table is a `ReplacingMergeTree` on `computed_ms`: a recompute
//! replaces a day, never adds to it; reads use `FINAL`.

use std::ops::Range;

use chrono::NaiveDate;
use clickhouse::{Client, Row, RowOwned, RowWrite};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::row_binary::{ACTIVE_BUCKET_COLUMNS, encode_active_bucket};

/// One row of `daily_figures`. `*_at` and `day_start` are epoch seconds.
#[derive(Debug, Clone, Default, PartialEq, Row, Serialize, Deserialize)]
pub struct DailyFiguresRow {
    pub project: String,
    /// Days since 1970-01-01 (ClickHouse `Date`).
    pub day: u16,
    pub day_start: u32,
    pub day_seconds: u32,
    pub dau: u64,
    pub wau: u64,
    pub mau: u64,
    pub peak_users: u32,
    pub peak_users_at: u32,
    pub peak_connections: u32,
    pub peak_connections_at: u32,
    pub peak_active_users: u32,
    pub peak_active_users_at: u32,
    pub acu: f64,
    pub sessions: u64,
    pub session_p50_s: u64,
    pub session_p90_s: u64,
    pub session_p99_s: u64,
    pub session_max_s: u64,
    /// HdrHistogram V2 serialization, so ranges of days can be merged.
    #[serde(with = "serde_bytes")]
    pub session_histogram: Vec<u8>,
    pub r#final: u8,
    pub computed_ms: u64,
}

const DAILY_COLUMNS: &str = "project, day, day_start, day_seconds, dau, wau, mau, peak_users, \
    peak_users_at, peak_connections, peak_connections_at, peak_active_users, \
    peak_active_users_at, acu, sessions, session_p50_s, session_p90_s, session_p99_s, \
    session_max_s, session_histogram, final, computed_ms";

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct ConcurrencyMinuteRow {
    pub project: String,
    pub day: u16,
    pub minute_start: u32,
    pub users: u32,
    pub connections: u32,
    pub active_users: u32,
    pub computed_ms: u64,
}

pub async fn insert_rows<T: RowOwned + RowWrite>(
    client: &Client,
    table: &str,
    rows: &[T],
) -> Result<(), StoreError> {
    let mut insert = client.insert::<T>(table).await?;
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await?;
    Ok(())
}

/// Stores the DAU set of `day` (a ClickHouse day number) for every bucket
/// in `buckets` — empty buckets too, so that they replace what an earlier
/// computation stored — as version `computed_ms`.
pub async fn insert_active_buckets(
    client: &Client,
    project: &str,
    day: u16,
    buckets: Range<u8>,
    users: &[(u8, compact_str::CompactString)],
    computed_ms: u64,
) -> Result<(), StoreError> {
    let mut by_bucket: Vec<Vec<&str>> = vec![Vec::new(); buckets.len()];
    for (bucket, user) in users {
        by_bucket[usize::from(bucket - buckets.start)].push(user.as_str());
    }
    let mut bytes = Vec::with_capacity(users.len() * 16 + 64 * by_bucket.len());
    for (bucket, users) in buckets.zip(&by_bucket) {
        encode_active_bucket(&mut bytes, project, (day, bucket), computed_ms, users);
    }
    let mut insert = client.insert_formatted_with(format!(
        "INSERT INTO daily_active_buckets ({ACTIVE_BUCKET_COLUMNS}) FORMAT RowBinary"
    ));
    insert.send(bytes.into()).await?;
    insert.end().await?;
    Ok(())
}

/// The figures of `project` for days `from..=to`.
pub async fn daily(
    client: &Client,
    project: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DailyFiguresRow>, StoreError> {
    Ok(client
        .query(&format!(
            "SELECT {DAILY_COLUMNS} FROM daily_figures FINAL
             WHERE project = ? AND day >= toDate(?) AND day <= toDate(?) ORDER BY day"
        ))
        .bind(project)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all()
        .await?)
}

/// The highest WAU and MAU among the stored versions of one day's row
/// (0 if none; not-yet-merged versions count too).
pub async fn highest_rolling(
    client: &Client,
    project: &str,
    day: NaiveDate,
) -> Result<(u64, u64), StoreError> {
    Ok(client
        .query("SELECT max(wau), max(mau) FROM daily_figures WHERE project = ? AND day = toDate(?)")
        .bind(project)
        .bind(day.to_string())
        .fetch_one()
        .await?)
}

/// Whether a computed day is final, and when it was computed.
#[derive(Debug, Clone, PartialEq, Row, Deserialize)]
pub struct DayStatusRow {
    pub day: u16,
    pub r#final: u8,
    pub computed_ms: u64,
}

/// The status of every computed day of `project`, oldest first: what the
/// scheduler needs, without the figures themselves.
pub async fn day_statuses(client: &Client, project: &str) -> Result<Vec<DayStatusRow>, StoreError> {
    Ok(client
        .query("SELECT day, final, computed_ms FROM daily_figures FINAL WHERE project = ? ORDER BY day")
        .bind(project)
        .fetch_all()
        .await?)
}

/// Every day of `project` that has figures, oldest first.
pub async fn all_days(client: &Client, project: &str) -> Result<Vec<DailyFiguresRow>, StoreError> {
    let (from, to) = every_day();
    daily(client, project, from, to).await
}

/// The first and the last day a `Date` column holds: "every day".
pub fn every_day() -> (NaiveDate, NaiveDate) {
    (
        NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid"),
        NaiveDate::from_ymd_opt(2105, 12, 31).expect("valid"),
    )
}

pub async fn minutes(
    client: &Client,
    project: &str,
    day: NaiveDate,
) -> Result<Vec<ConcurrencyMinuteRow>, StoreError> {
    minutes_between(client, project, day, day).await
}

/// The per-minute maxima of the days `from..=to`, in time order.
pub async fn minutes_between(
    client: &Client,
    project: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<ConcurrencyMinuteRow>, StoreError> {
    Ok(client
        .query(
            "SELECT project, day, minute_start, users, connections, active_users, computed_ms
             FROM concurrency_minutes FINAL
             WHERE project = ? AND day >= toDate(?) AND day <= toDate(?) ORDER BY minute_start",
        )
        .bind(project)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all()
        .await?)
}
