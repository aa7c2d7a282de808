//! The loop `serve` runs: every tick, per project, recompute today and every
//! provisional day (a day becomes final once `D1 + T + lateness` passed), and
//! re-open final days that received late events.
//!
//! Late events: for every event received since the previous tick whose local
//! day is already final, that day, the day before and the `⌈L / 1 day⌉` days
//! after (sessions carry forward) are recomputed. A late event can in rare
//! cases change a day further back (a heartbeat that fills a gap of more than
//! a day); `highwater jobs run` over the range repairs those.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate};
use clickhouse::Client;

use super::runner::{RunError, run_range};
use crate::clock::Clock;
use crate::config::ProjectSettings;
use crate::store::StoreError;
use crate::store::figures;
use crate::wal::WalMonitor;

/// Events stamped just before a tick starts but stored just after it are
/// caught by overlapping the windows by this much.
const WATERMARK_OVERLAP_MS: i64 = 60_000;

pub struct Scheduler {
    client: Client,
    projects: Arc<Vec<ProjectSettings>>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    /// Per project: events received after this (ms) are not yet accounted for.
    watermarks: Vec<Option<i64>>,
    /// Batches still in the log reach ClickHouse later than they were
    /// received: the watermark must not pass the oldest of them.
    log: Option<WalMonitor>,
}

impl Scheduler {
    pub fn new(
        client: Client,
        projects: Arc<Vec<ProjectSettings>>,
        clock: Arc<dyn Clock>,
        interval: Duration,
    ) -> Self {
        let watermarks = vec![None; projects.len()];
        Self {
            client,
            projects,
            clock,
            interval,
            watermarks,
            log: None,
        }
    }

    pub fn with_log(mut self, log: WalMonitor) -> Self {
        self.log = Some(log);
        self
    }

    /// Ticks until `shutdown` resolves. A failed tick is logged and retried
    /// at the next one.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            for index in 0..self.projects.len() {
                if let Err(e) = self.tick(index).await {
                    tracing::error!(project = %self.projects[index].name, error = %e, "scheduled jobs failed");
                }
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// One round for one project; returns the days recomputed.
    pub async fn tick(&mut self, index: usize) -> Result<Vec<NaiveDate>, RunError> {
        let project = &self.projects[index];
        let started_ms = self.clock.now_ms();
        let unshipped = self.log.as_ref().and_then(WalMonitor::oldest_unshipped_ms);
        let today = local_day(project, started_ms);
        let stored = figures::day_statuses(&self.client, &project.name).await?;
        let watermark = match self.watermarks[index] {
            Some(w) => w,
            // First tick: everything received since the last computation.
            None => stored
                .iter()
                .map(|d| d.computed_ms as i64)
                .max()
                .unwrap_or(0),
        };
        let mut days: BTreeSet<NaiveDate> = BTreeSet::from([today]);
        days.extend(
            stored
                .iter()
                .filter(|d| d.r#final == 0)
                .map(|d| figures::date_of(d.day)),
        );
        let final_days: BTreeSet<NaiveDate> = stored
            .iter()
            .filter(|d| d.r#final == 1)
            .map(|d| figures::date_of(d.day))
            .collect();
        let carry = i64::from(project.max_session_length_s.div_ceil(86_400));
        for day in late_days(&self.client, project, watermark - WATERMARK_OVERLAP_MS).await? {
            if final_days.contains(&day) {
                let first = day.pred_opt().unwrap_or(day);
                days.extend(
                    first
                        .iter_days()
                        .take_while(|d| *d <= day + chrono::Duration::days(carry)),
                );
            }
        }
        let days: Vec<NaiveDate> = days.into_iter().filter(|d| *d <= today).collect();
        let clock = self.clock.clone();
        // One run per stretch of consecutive days: the history check of a
        // run is then done once per stretch, not once per day.
        for (from, to) in consecutive_runs(&days) {
            run_range(&self.client, project, from, to, || clock.now_ms(), |_| {}).await?;
        }
        self.watermarks[index] = Some(unshipped.map_or(started_ms, |u| u.min(started_ms)));
        tracing::info!(project = %project.name, days = days.len(), "scheduled jobs done");
        Ok(days)
    }
}

/// Sorted days as `(first, last)` stretches of consecutive days.
fn consecutive_runs(days: &[NaiveDate]) -> Vec<(NaiveDate, NaiveDate)> {
    let mut runs: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for &day in days {
        match runs.last_mut() {
            Some((_, last)) if last.succ_opt() == Some(day) => *last = day,
            _ => runs.push((day, day)),
        }
    }
    runs
}

fn local_day(project: &ProjectSettings, epoch_ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(epoch_ms)
        .expect("clock in range")
        .with_timezone(&project.time_zone)
        .date_naive()
}

/// Local days of the events received after `since_ms`.
async fn late_days(
    client: &Client,
    project: &ProjectSettings,
    since_ms: i64,
) -> Result<Vec<NaiveDate>, StoreError> {
    // Without backfill, a received event's ts is within max_ts_age of its
    // arrival: that bound lets ClickHouse skip old partitions.
    let oldest_ts_ms = if project.backfill {
        0
    } else {
        since_ms - i64::from(project.max_ts_age_s) * 1000
    };
    // Minutes, not hours: some zones are offset by 30 or 45 minutes.
    let minutes: Vec<i64> = client
        .query(
            "SELECT DISTINCT intDiv(ts_ms, 60000) FROM events
             WHERE project = ? AND received_ms > ? AND ts_ms >= ?",
        )
        .bind(&project.name)
        .bind(since_ms)
        .bind(oldest_ts_ms.max(0))
        .fetch_all()
        .await?;
    let days: BTreeSet<NaiveDate> = minutes
        .into_iter()
        .map(|m| local_day(project, m * 60_000))
        .collect();
    Ok(days.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_days_split_into_consecutive_stretches() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let days = [
            d("2020-03-01"),
            d("2020-03-02"),
            d("2020-03-04"),
            d("2020-03-05"),
            d("2020-03-09"),
        ];
        assert_eq!(
            consecutive_runs(&days),
            [
                (d("2020-03-01"), d("2020-03-02")),
                (d("2020-03-04"), d("2020-03-05")),
                (d("2020-03-09"), d("2020-03-09")),
            ]
        );
        assert!(consecutive_runs(&[]).is_empty());
    }
}
