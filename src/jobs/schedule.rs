//! The loop `serve` runs: every tick, per project, recompute today and every
//! provisional day (a day becomes final once `D1 + T + lateness` passed), and
//! re-open final days that received late events.
//!
//! Late events: for every event received since the previous tick whose local
//! day is already final, that day, the day before and the `⌈L / 1 day⌉` days
//! after (sessions carry forward) are recomputed (and the rolling WAU/MAU of
//! the 29 days after them, see `runner`). A late event can in rare cases
//! change a day further back (a heartbeat that fills a gap of more than a
//! day); `highwater jobs run` over the range repairs those.
//!
//! Order and progress: today and the provisional days go first, then the
//! re-opened days, in runs of at most [`MAX_RANGE_DAYS`] consecutive days.
//! Re-opened days wait in a pending set until their run is done, so a
//! failure (or a backfill that re-opens years) never holds the watermark
//! back, and work done stays done.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use clickhouse::Client;

use super::rounds::{Rounds, RoundsBase, WATERMARK_OVERLAP_MS, run_rounds};
use super::runner::{RunError, run_range};
use crate::clock::Clock;
use crate::config::ProjectSettings;
use crate::domain::calendar::{MAX_RANGE_DAYS, date_of, local_day};
use crate::store::StoreError;
use crate::store::figures;
use crate::wal::WalMonitor;

pub struct Scheduler {
    base: RoundsBase,
    /// Per project: events received after this (ms) are not yet accounted for.
    watermarks: Vec<Option<i64>>,
    /// Per project: final days re-opened by late events, not yet recomputed.
    pending: Vec<BTreeSet<NaiveDate>>,
    /// Whether this instance leads (`None`: it always does).
    leads: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Scheduler {
    pub fn new(
        client: Client,
        projects: Arc<Vec<ProjectSettings>>,
        clock: Arc<dyn Clock>,
        interval: Duration,
    ) -> Self {
        let watermarks = vec![None; projects.len()];
        let pending = vec![BTreeSet::new(); projects.len()];
        Self {
            base: RoundsBase::new(client, projects, clock, interval),
            watermarks,
            pending,
            leads: None,
        }
    }

    /// Runs the rounds only while this instance leads (`crate::instances`).
    pub fn with_leadership(mut self, leads: tokio::sync::watch::Receiver<bool>) -> Self {
        self.leads = Some(leads);
        self
    }

    /// Ticks until `shutdown` resolves — while this instance leads, if it
    /// was told of a lease. A failed tick is logged and retried at the next
    /// one.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        let Some(mut leads) = self.leads.take() else {
            return run_rounds(&mut self, shutdown).await;
        };
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                led = leads.wait_for(|leads| *leads) => if led.is_err() { return },
            }
            tracing::info!("this instance leads: running the full rounds");
            // Another instance computed meanwhile: start from what is stored.
            self.watermarks.iter_mut().for_each(|w| *w = None);
            let mut lost = leads.clone();
            let lost = async move {
                let _ = lost.wait_for(|leads| !*leads).await;
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = run_rounds(&mut self, lost) => {
                    tracing::info!("this instance no longer leads: full rounds stop");
                }
            }
        }
    }

    /// One round for one project; returns the days recomputed.
    pub async fn tick(&mut self, index: usize) -> Result<Vec<NaiveDate>, RunError> {
        let cut_ms = self.base.cut_ms();
        self.tick_with_cut(index, cut_ms).await
    }

    /// [`tick`](Self::tick), counting the events received up to `cut_ms`.
    async fn tick_with_cut(
        &mut self,
        index: usize,
        cut_ms: i64,
    ) -> Result<Vec<NaiveDate>, RunError> {
        let project = &self.base.projects[index];
        let started_ms = self.base.clock.now_ms();
        let today = local_day(project.time_zone, started_ms);
        let stored = figures::day_statuses(&self.base.client, &project.name).await?;
        let watermark = match self.watermarks[index] {
            Some(w) => w,
            // First tick: everything received since the last computation,
            // and whatever an earlier run left in the log (it reached
            // ClickHouse after figures computed without it).
            None => {
                let computed = stored.iter().map(|d| d.computed_ms as i64).max();
                let inherited = self
                    .base
                    .log
                    .as_ref()
                    .and_then(WalMonitor::inherited_oldest_ms);
                computed.unwrap_or(0).min(inherited.unwrap_or(i64::MAX))
            }
        };
        let final_days: BTreeSet<NaiveDate> = stored
            .iter()
            .filter(|d| d.r#final == 1)
            .map(|d| date_of(d.day))
            .collect();
        let carry = i64::from(project.max_session_length_s.div_ceil(86_400));
        for day in late_days(&self.base.client, project, watermark - WATERMARK_OVERLAP_MS).await? {
            if final_days.contains(&day) {
                let first = day.pred_opt().unwrap_or(day);
                self.pending[index].extend(
                    first
                        .iter_days()
                        .take_while(|d| *d <= day + chrono::Duration::days(carry) && *d <= today),
                );
            }
        }
        // The late days are remembered in `pending`: the watermark moves on
        // now, whatever happens to the runs below.
        self.watermarks[index] = Some(cut_ms);

        let mut urgent: BTreeSet<NaiveDate> = BTreeSet::from([today]);
        urgent.extend(
            stored
                .iter()
                .filter(|d| d.r#final == 0)
                .map(|d| date_of(d.day))
                .filter(|d| *d <= today),
        );
        let mut done = Vec::new();
        for (from, to) in pieces(&urgent) {
            done.extend(self.run_piece(index, from, to).await?);
        }
        self.pending[index].retain(|d| !urgent.contains(d));
        for (from, to) in pieces(&self.pending[index].clone()) {
            let piece = self.run_piece(index, from, to).await?;
            self.pending[index].retain(|d| !piece.contains(d));
            done.extend(piece);
        }
        done.sort_unstable();
        tracing::info!(project = %project.name, days = done.len(), "scheduled jobs done");
        self.base.after_round(&self.base.projects[index]).await;
        Ok(done)
    }
}

/// Full rounds wait at least this many times as long as their last pass
/// took: see [`Scheduler::pause_after`].
const PAUSE_PER_BUSY: u32 = 2;

impl Rounds for Scheduler {
    const KIND: &'static str = "full";

    /// The interval, or twice the pass's time if longer: on a large day a
    /// pass takes minutes (every session of today, segments included) and
    /// shares the machine with ingest and the live rounds, which keep
    /// today's session figures fresh meanwhile; so full rounds take at most
    /// a third of the time (on the record day at 2 cores they took two
    /// thirds, and half of `serve`'s CPU).
    fn pause_after(&self, busy: Duration) -> Duration {
        self.base.interval.max(busy * PAUSE_PER_BUSY)
    }

    fn base(&self) -> &RoundsBase {
        &self.base
    }

    fn base_mut(&mut self) -> &mut RoundsBase {
        &mut self.base
    }

    async fn round_for(&mut self, index: usize) -> Result<i64, RunError> {
        let cut_ms = self.base.cut_ms();
        self.tick_with_cut(index, cut_ms).await.map(|_| cut_ms)
    }
}

impl Scheduler {
    /// Computes `from..=to` for project `index`; returns those days.
    async fn run_piece(
        &self,
        index: usize,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<NaiveDate>, RunError> {
        let clock = self.base.clock.clone();
        let project = &self.base.projects[index];
        run_range(
            &self.base.client,
            project,
            self.base.slicing,
            from,
            to,
            || clock.now_ms(),
            |_| {},
        )
        .await?;
        Ok(from.iter_days().take_while(|d| *d <= to).collect())
    }
}

/// `days` as runs of consecutive days, none longer than one `jobs run`
/// may be (the history check of a run is then done once per run, not once
/// per day).
fn pieces(days: &BTreeSet<NaiveDate>) -> Vec<(NaiveDate, NaiveDate)> {
    let days: Vec<NaiveDate> = days.iter().copied().collect();
    let mut pieces = Vec::new();
    for (first, last) in consecutive_runs(&days) {
        let mut from = first;
        while from <= last {
            let to = last.min(from + chrono::Duration::days(MAX_RANGE_DAYS - 1));
            pieces.push((from, to));
            from = to + chrono::Duration::days(1);
        }
    }
    pieces
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
        .map(|m| local_day(project.time_zone, m * 60_000))
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

    #[test]
    fn long_stretches_are_cut_into_runs_a_job_accepts() {
        let first = "2019-01-01".parse::<NaiveDate>().unwrap();
        let days: BTreeSet<NaiveDate> = first.iter_days().take(950).collect();
        let cut = pieces(&days);
        assert_eq!(cut.len(), 3);
        assert_eq!(cut[0], (first, first + chrono::Duration::days(399)));
        assert_eq!(cut[1].0, first + chrono::Duration::days(400));
        assert_eq!(cut[2].1, first + chrono::Duration::days(949));
        for (from, to) in cut {
            assert!(crate::domain::calendar::check_range(from, to).is_ok());
        }
    }

    #[test]
    fn full_rounds_wait_their_interval_or_twice_as_long_as_they_took() {
        let scheduler = Scheduler::new(
            Client::default(),
            Arc::new(Vec::new()),
            Arc::new(crate::clock::SystemClock),
            Duration::from_secs(300),
        );
        let pause = |busy_s| scheduler.pause_after(Duration::from_secs(busy_s)).as_secs();
        assert_eq!(pause(1), 300);
        assert_eq!(pause(150), 300);
        assert_eq!(pause(400), 800);
    }
}
