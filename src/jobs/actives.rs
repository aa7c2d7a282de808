//! The rolling WAU / MAU of a day, exact (no sketches): the day's own DAU
//! set, which the job holds in memory, united with the stored sets of the
//! 6 / 29 days before it.

use chrono::{Duration, NaiveDate};
use clickhouse::{Client, Row};
use compact_str::CompactString;
use rustc_hash::FxHashSet;
use serde::Deserialize;

use crate::domain::calendar::day_number;
use crate::store::StoreError;

/// A stored DAU set, borrowed from the response buffer.
#[derive(Debug, Row, Deserialize)]
struct ActiveSetRow<'a> {
    day: u16,
    #[serde(borrow)]
    users: Vec<&'a str>,
}

/// The stored DAU set of `day` (empty if none).
pub async fn stored_set(
    client: &Client,
    project: &str,
    day: NaiveDate,
) -> Result<Vec<CompactString>, StoreError> {
    let sets: Vec<Vec<String>> = client
        .query("SELECT users FROM daily_active_sets FINAL WHERE project = ? AND day = toDate(?)")
        .bind(project)
        .bind(day.to_string())
        .fetch_all()
        .await?;
    Ok(sets
        .into_iter()
        .flatten()
        .map(CompactString::from)
        .collect())
}

/// (WAU, MAU) of `day`, whose own DAU set is `today`.
pub async fn rolling(
    client: &Client,
    project: &str,
    day: NaiveDate,
    today: &[CompactString],
) -> Result<(u64, u64), StoreError> {
    let week_start = day_number(day - Duration::days(6));
    let mut cursor = client
        .query(
            "SELECT day, users FROM daily_active_sets FINAL
             WHERE project = ? AND day >= toDate(?) AND day < toDate(?)",
        )
        .bind(project)
        .bind((day - Duration::days(29)).to_string())
        .bind(day.to_string())
        .fetch::<ActiveSetRow<'_>>()?;
    // Built only when an earlier day has a set: a first day costs nothing.
    let mut known: Option<FxHashSet<&str>> = None;
    let mut extra_week: FxHashSet<CompactString> = FxHashSet::default();
    let mut extra_month: FxHashSet<CompactString> = FxHashSet::default();
    while let Some(row) = cursor.next().await? {
        let known = known.get_or_insert_with(|| today.iter().map(CompactString::as_str).collect());
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
