//! What the log tells about itself: its status for `/readyz` (backlog,
//! disk, dead letters, whether shipping is stuck), and waiting until it has
//! shipped everything.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;

use super::Shared;

/// What `/readyz` and the tests learn about the log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WalStatus {
    /// Bytes acknowledged to clients but not yet in ClickHouse.
    pub backlog_bytes: u64,
    /// Age of the oldest of them, in seconds (0 when there is none).
    pub backlog_age_s: f64,
    pub disk_bytes: u64,
    pub max_bytes: u64,
    /// Batches are being refused (503) until the shipper frees room.
    pub full: bool,
    pub shipped_rows: u64,
    /// Rows sent again after an insert whose outcome could not be known (no
    /// answer in time): at most this many copies in ClickHouse from this
    /// process — fewer where the server deduplicates the retried blocks
    /// (current releases, replicated tables). Copies change no figure.
    pub resent_rows: u64,
    /// Inserts ClickHouse did not take since start (each retried or set
    /// aside).
    pub ship_failures: u64,
    /// Batches set aside into the dead-letter files by this run.
    pub dead_letter_records: u64,
    /// Bytes of every dead-letter file (counted against `max_bytes`).
    pub dead_letter_bytes: u64,
    /// The last insert error, while shipping fails.
    pub clickhouse_error: Option<String>,
    /// Seconds the backlog has waited without shipping moving on (0 when
    /// there is no backlog).
    pub no_progress_s: f64,
    /// `no_progress_s` passed `wal.stall_after_s`: shipping is stuck.
    pub stalled: bool,
}

/// Reads the log's status without keeping the appender alive.
#[derive(Clone, Debug)]
pub struct WalMonitor(pub(super) Arc<Shared>);

impl WalMonitor {
    pub fn status(&self, now_ms: i64) -> WalStatus {
        let shared = &self.0;
        let log = shared.log.lock().expect("log lock");
        let backlog_bytes = log.backlog_bytes();
        let no_progress = if backlog_bytes > 0 {
            log.progress_at.elapsed()
        } else {
            Duration::ZERO
        };
        WalStatus {
            backlog_bytes,
            backlog_age_s: log
                .oldest_unshipped_ms
                .map_or(0.0, |oldest| (now_ms - oldest).max(0) as f64 / 1000.0),
            disk_bytes: log.disk_bytes,
            max_bytes: shared.max_bytes,
            full: log.full,
            shipped_rows: shared.shipped_rows.load(Ordering::Relaxed),
            resent_rows: shared.resent_rows.load(Ordering::Relaxed),
            ship_failures: shared.ship_failures.load(Ordering::Relaxed),
            dead_letter_records: shared.dead_letter_records.load(Ordering::Relaxed),
            dead_letter_bytes: shared.dead_letter_bytes.load(Ordering::Relaxed),
            clickhouse_error: log.ship_error.clone(),
            no_progress_s: no_progress.as_secs_f64(),
            stalled: no_progress > shared.stall_after,
        }
    }

    /// Receive time of the oldest batch not yet in ClickHouse, if any: the
    /// scheduler must not consider anything received after it accounted for.
    pub fn oldest_unshipped_ms(&self) -> Option<i64> {
        self.0.log.lock().expect("log lock").oldest_unshipped_ms
    }

    /// Receive time of the oldest batch an earlier run left in the log, as
    /// found at start-up: those batches reach ClickHouse after figures that
    /// may have been computed without them.
    pub fn inherited_oldest_ms(&self) -> Option<i64> {
        self.0.inherited_oldest_ms
    }

    /// Waits until everything appended so far is in ClickHouse; false if
    /// `timeout` passed first.
    pub async fn wait_drained(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let shipped = self.0.shipped.notified();
            if self.0.log.lock().expect("log lock").backlog_bytes() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, shipped).await.is_err() {
                return false;
            }
        }
    }
}
