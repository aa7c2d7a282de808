//! What the two kinds of rounds `serve` runs share: the full rounds
//! (`schedule`: today, the provisional days, days re-opened by late
//! events) and the live rounds (`live::live_round`: today, from what
//! changed). Both go over every project, every `interval`, reading
//! through one client with the same slicing, hold their cut-off behind the
//! log's oldest unshipped batch, report to the metrics and let the alerts
//! check after them. [`RoundsBase`] holds that, [`Rounds`] gives both kinds
//! their builders and [`run_rounds`] their loop — written once.

use std::sync::Arc;
use std::time::Duration;

use super::runner::RunError;
use super::slicing::Slicing;
use crate::alerts::Alerts;
use crate::clock::Clock;
use crate::config::ProjectSettings;
use crate::monitoring::Monitoring;
use crate::wal::WalMonitor;

/// Events stamped just before a round starts but stored just after it are
/// caught by overlapping the windows by this much.
pub const WATERMARK_OVERLAP_MS: i64 = 60_000;

/// The receive time up to which a round starting now sees every event:
/// now, or the oldest batch still in `log` (it reaches ClickHouse later
/// than it was received).
pub fn cut_ms(clock: &dyn Clock, log: Option<&WalMonitor>) -> i64 {
    let now = clock.now_ms();
    let unshipped = log.and_then(WalMonitor::oldest_unshipped_ms);
    unshipped.map_or(now, |u| u.min(now))
}

/// What every round reads, and whom it tells.
pub struct RoundsBase {
    pub client: clickhouse::Client,
    pub projects: Arc<Vec<ProjectSettings>>,
    pub clock: Arc<dyn Clock>,
    pub interval: Duration,
    /// How days are cut into slices of users (`jobs.max_sessions_per_slice`).
    pub slicing: Slicing,
    /// Batches still in this log hold the cut-off back.
    pub log: Option<WalMonitor>,
    /// Each round's duration and cut-off (staleness) go here.
    pub monitoring: Option<Arc<Monitoring>>,
    /// Checked after each round.
    pub alerts: Option<Arc<Alerts>>,
}

impl RoundsBase {
    pub fn new(
        client: clickhouse::Client,
        projects: Arc<Vec<ProjectSettings>>,
        clock: Arc<dyn Clock>,
        interval: Duration,
    ) -> Self {
        Self {
            client,
            projects,
            clock,
            interval,
            slicing: Slicing::default(),
            log: None,
            monitoring: None,
            alerts: None,
        }
    }

    /// The cut-off of a round starting now.
    pub fn cut_ms(&self) -> i64 {
        cut_ms(self.clock.as_ref(), self.log.as_ref())
    }

    /// Lets the alerts check `project` after its round.
    pub async fn after_round(&self, project: &ProjectSettings) {
        if let Some(alerts) = &self.alerts {
            alerts.after_round(project).await;
        }
    }
}

/// A kind of rounds: its metrics label, its base, and one project's round.
pub trait Rounds: Sized {
    /// The `round` label of their metrics.
    const KIND: &'static str;
    fn base(&self) -> &RoundsBase;
    fn base_mut(&mut self) -> &mut RoundsBase;
    /// One project's round; returns the receive time (server ms) up to
    /// which it counted the events.
    fn round_for(
        &mut self,
        index: usize,
    ) -> impl std::future::Future<Output = Result<i64, RunError>> + Send;

    /// How long to wait after a pass over every project that took `busy`:
    /// the interval.
    fn pause_after(&self, _busy: Duration) -> Duration {
        self.base().interval
    }

    fn with_slicing(mut self, slicing: Slicing) -> Self {
        self.base_mut().slicing = slicing;
        self
    }

    fn with_log(mut self, log: WalMonitor) -> Self {
        self.base_mut().log = Some(log);
        self
    }

    fn with_monitoring(mut self, monitoring: Arc<Monitoring>) -> Self {
        self.base_mut().monitoring = Some(monitoring);
        self
    }

    fn with_alerts(mut self, alerts: Option<Arc<Alerts>>) -> Self {
        self.base_mut().alerts = alerts;
        self
    }
}

/// Runs `rounds` for every project, then waits (`Rounds::pause_after`),
/// until `shutdown` resolves; a failed round is logged and the next one tries
/// again. Each round's time and cut-off go to the metrics.
pub async fn run_rounds<R: Rounds>(
    rounds: &mut R,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let pass = std::time::Instant::now();
        for index in 0..rounds.base().projects.len() {
            let started = std::time::Instant::now();
            let result = rounds.round_for(index).await;
            let base = rounds.base();
            let name = &base.projects[index].name;
            if let Some(monitoring) = &base.monitoring {
                let seconds = started.elapsed().as_secs_f64();
                monitoring.job_round(name, R::KIND, seconds, result.as_ref().ok().copied());
            }
            if let Err(e) = result {
                tracing::error!(project = %name, round = R::KIND, error = %e, "scheduled jobs failed");
            }
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(rounds.pause_after(pass.elapsed())) => {}
        }
    }
}
