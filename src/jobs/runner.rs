//! `jobs run`: (re)computes a range of days in order, first filling in any
//! of the 29 days before the range that were never computed, because WAU and
//! MAU are built from the daily active sets of the days before; afterwards
//! the WAU and MAU of the 29 days after the range, which read its sets, are
//! brought up to date.

use std::collections::HashSet;

use chrono::{Duration, NaiveDate};
use clickhouse::Client;

use super::actives;
use super::compute_day::{compute_day, next_version};
use super::sessions;
use super::slicing::{Slicing, slice_buckets};
use crate::config::ProjectSettings;
use crate::domain::calendar::{RangeError, check_range, date_of, day_number, utc_date};
use crate::domain::day_window::DayWindow;
use crate::store::StoreError;
use crate::store::figures::{self, DailyFiguresRow};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Range(#[from] RangeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Computes `from..=to`; `on_day` hears of each day as it is done.
pub async fn run_range(
    client: &Client,
    project: &ProjectSettings,
    slicing: Slicing,
    from: NaiveDate,
    to: NaiveDate,
    now_ms: impl Fn() -> i64,
    mut on_day: impl FnMut(&DailyFiguresRow),
) -> Result<Vec<DailyFiguresRow>, RunError> {
    check_range(from, to)?;
    let history_from = from - Duration::days(29);
    let known: HashSet<u16> = figures::daily(
        client,
        &project.name,
        history_from,
        from - Duration::days(1),
    )
    .await?
    .into_iter()
    .map(|row| row.day)
    .collect();
    // A user is active on day d only through a session that starts before d
    // ends, so a history day needs computing only if session data exists
    // between its read range's start and its last second.
    let rules = super::compute_day::rules(project);
    let span = |day: NaiveDate| {
        let window = DayWindow::new(day, project.time_zone);
        let (read_from, _) = sessions::read_range(&window, rules);
        (read_from, utc_date(window.end - 1))
    };
    let days_with_data =
        sessions::days_with_data(client, &project.name, (span(history_from).0, span(from).1))
            .await?;
    for day in history_from.iter_days().take_while(|d| *d < from) {
        let (first, last) = span(day);
        let has_data = days_with_data.range(first..=last).next().is_some();
        if has_data && !known.contains(&day_number(day)) {
            compute_day(client, project, slicing, day, now_ms()).await?;
        }
    }
    let mut rows = Vec::new();
    for day in from.iter_days().take_while(|d| *d <= to) {
        let row = compute_day(client, project, slicing, day, now_ms()).await?;
        on_day(&row);
        rows.push(row);
    }
    refresh_rolling(client, project, slicing, to, now_ms()).await?;
    Ok(rows)
}

/// Recounts WAU and MAU of the days after `last` that have figures (up to
/// 29 days: the ones whose windows hold `last`), storing a day again only
/// if they changed. The rest of such a day's figures stand.
async fn refresh_rolling(
    client: &Client,
    project: &ProjectSettings,
    slicing: Slicing,
    last: NaiveDate,
    now_ms: i64,
) -> Result<(), StoreError> {
    let after = figures::daily(
        client,
        &project.name,
        last + Duration::days(1),
        last + Duration::days(29),
    )
    .await?;
    for mut row in after {
        let day = date_of(row.day);
        // The day's DAU sizes its slices as its sessions would.
        let slices = slicing.slices_for(row.dau);
        let (mut wau, mut mau) = (0, 0);
        for slice in 0..slices {
            let buckets = slice_buckets(slice, slices);
            let set = actives::stored(client, &project.name, day, buckets.clone()).await?;
            let (w, m) = actives::rolling(client, &project.name, day, buckets, &set).await?;
            wau += w;
            mau += m;
        }
        if (wau, mau) != (row.wau, row.mau) {
            tracing::debug!(%day, wau, mau, "WAU/MAU changed by an earlier day's recompute");
            row.wau = wau;
            row.mau = mau;
            row.computed_ms = next_version(now_ms);
            figures::insert_rows(client, "daily_figures", std::slice::from_ref(&row)).await?;
        }
    }
    Ok(())
}
