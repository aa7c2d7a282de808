//! The rolling WAU / MAU of a day, exact (no sketches), one slice of user
//! buckets at a time: users never cross buckets, so a day's WAU is the sum
//! over slices of the users of the slice's buckets active on any of the 7
//! days (30 for MAU) — the day's own set, which the job holds, united with
//! the stored sets of the days before.

use std::ops::Range;

use chrono::{Duration, NaiveDate};
use clickhouse::{Client, Row};
use compact_str::CompactString;
use rustc_hash::FxHashSet;
use serde::Deserialize;

use crate::domain::calendar::day_number;
use crate::store::StoreError;

/// A stored DAU bucket set, borrowed from the response buffer.
#[derive(Debug, Row, Deserialize)]
struct ActiveBucketRow<'a> {
    day: u16,
    #[serde(borrow)]
    users: Vec<&'a str>,
}

/// The WAU and MAU of `day` counting only users of `buckets`, whose active
/// users on the day itself are `today`.
pub async fn rolling(
    client: &Client,
    project: &str,
    day: NaiveDate,
    buckets: Range<u8>,
    today: &[(u8, CompactString)],
) -> Result<(u64, u64), StoreError> {
    let week_start = day_number(day - Duration::days(6));
    let mut cursor = client
        .query(
            "SELECT day, users FROM daily_active_buckets FINAL
             WHERE project = ? AND day >= toDate(?) AND day < toDate(?)
               AND bucket >= ? AND bucket < ?",
        )
        .bind(project)
        .bind((day - Duration::days(29)).to_string())
        .bind(day.to_string())
        .bind(buckets.start)
        .bind(buckets.end)
        .fetch::<ActiveBucketRow<'_>>()?;
    // Built only when an earlier day has a set: a first day costs nothing.
    let mut known: Option<FxHashSet<&str>> = None;
    let mut extra_week: FxHashSet<CompactString> = FxHashSet::default();
    let mut extra_month: FxHashSet<CompactString> = FxHashSet::default();
    while let Some(row) = cursor.next().await? {
        let known = known.get_or_insert_with(|| today.iter().map(|(_, u)| u.as_str()).collect());
        for user in row.users {
            if known.contains(user) {
                continue;
            }
            if row.day >= week_start && !extra_week.contains(user) {
                extra_week.insert(user.into());
            }
            if !extra_month.contains(user) {
                extra_month.insert(user.into());
            }
        }
    }
    let dau = today.len() as u64;
    Ok((
        dau + extra_week.len() as u64,
        dau + extra_month.len() as u64,
    ))
}

/// The stored active users of `day` in `buckets`, with their buckets.
pub async fn stored(
    client: &Client,
    project: &str,
    day: NaiveDate,
    buckets: Range<u8>,
) -> Result<Vec<(u8, CompactString)>, StoreError> {
    let rows: Vec<(u8, String)> = client
        .query(
            "SELECT bucket, user FROM daily_active_buckets FINAL ARRAY JOIN users AS user
             WHERE project = ? AND day = toDate(?) AND bucket >= ? AND bucket < ?",
        )
        .bind(project)
        .bind(day.to_string())
        .bind(buckets.start)
        .bind(buckets.end)
        .fetch_all()
        .await?;
    Ok(rows
        .into_iter()
        .map(|(bucket, u)| (bucket, u.into()))
        .collect())
}
