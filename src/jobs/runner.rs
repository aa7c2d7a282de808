//! `jobs run`: (re)computes a range of days in order, first filling in any
//! of the 29 days before the range that were never computed, because WAU and
//! MAU are built from the daily active sets of the days before.

use std::collections::HashSet;

use chrono::{Duration, NaiveDate};
use clickhouse::Client;

use super::compute_day::compute_day;
use super::day_window::DayWindow;
use super::sessions;
use crate::config::ProjectSettings;
use crate::store::StoreError;
use crate::store::figures::{self, DailyFiguresRow};

/// Longest range one run accepts (DESIGN / issue #3: over 400 days is refused).
pub const MAX_RANGE_DAYS: i64 = 400;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("`from` ({from}) is after `to` ({to})")]
    Reversed { from: NaiveDate, to: NaiveDate },
    #[error("the range holds {days} days; at most {MAX_RANGE_DAYS} allowed")]
    TooLong { days: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a `from..=to` range of days.
pub fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), RunError> {
    if from > to {
        return Err(RunError::Reversed { from, to });
    }
    let days = (to - from).num_days() + 1;
    if days > MAX_RANGE_DAYS {
        return Err(RunError::TooLong { days });
    }
    Ok(())
}

/// Computes `from..=to`; `on_day` hears of each day as it is done.
pub async fn run_range(
    client: &Client,
    project: &ProjectSettings,
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
    let rules = super::compute_day::rules(project);
    let history_range =
        |day: NaiveDate| sessions::read_range(&DayWindow::new(day, project.time_zone), rules);
    let (data_from, _) = history_range(history_from);
    let (_, data_to) = history_range(from);
    let days_with_data =
        sessions::days_with_data(client, &project.name, (data_from, data_to)).await?;
    for day in history_from.iter_days().take_while(|d| *d < from) {
        let (read_from, read_to) = history_range(day);
        // A day without any session data has an empty DAU set: nothing to store.
        let has_data = days_with_data.range(read_from..=read_to).next().is_some();
        if has_data && !known.contains(&figures::day_number(day)) {
            compute_day(client, project, day, now_ms()).await?;
        }
    }
    let mut rows = Vec::new();
    for day in from.iter_days().take_while(|d| *d <= to) {
        let row = compute_day(client, project, day, now_ms()).await?;
        on_day(&row);
        rows.push(row);
    }
    Ok(rows)
}
