//! Moves the log into ClickHouse: reads records from the shipping position,
//! sends them in large inserts, saves the position (`checkpoint`: durable
//! on a cadence and at a clean stop), deletes segments once they are
//! wholly shipped.
//!
//! Getting one chunk into ClickHouse — retries, splitting, dead letters —
//! is the [`Inserter`]'s work; the shipper moves on only once it is done.
//!
//! Shutdown: once told the deadline, the shipper drains what it can and
//! stops at the deadline, even in the middle of an insert or a backoff.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Duration;

use clickhouse::Client;
use tokio::sync::watch;
use tokio::time::Instant;

use super::checkpoint::Checkpoint;
use super::chunk::Chunk;
use super::files::{self, FIRST_OFFSET, Position};
use super::inserter::Inserter;
use super::record::{Decoded, decode};
use super::retention::Retention;
use super::{Segment, Shared};
use crate::config::WalSettings;

pub struct Shipper {
    shared: Arc<Shared>,
    inserter: Inserter,
    ship_bytes: u64,
    linger: Duration,
    retry_max: Duration,
    /// `Some(deadline)` once the appender has finished: ship what is left
    /// until then, then stop.
    stop: watch::Receiver<Option<Instant>>,
    /// The open file of the segment being shipped.
    open: Option<(u64, File)>,
    checkpoint: Checkpoint,
    /// Shipped segments kept a while before they are deleted.
    retention: Retention,
}

impl Shipper {
    pub fn new(
        shared: Arc<Shared>,
        storage: watch::Receiver<Option<Client>>,
        settings: &WalSettings,
        stop: watch::Receiver<Option<Instant>>,
    ) -> Self {
        let inserter = Inserter::new(shared.clone(), storage, settings);
        let found = shared.log.lock().expect("log lock").cursor;
        let checkpoint = Checkpoint::new(
            shared.dir.clone(),
            Duration::from_millis(settings.checkpoint_sync_ms),
            Some(found),
        );
        Self {
            shared,
            inserter,
            ship_bytes: settings.ship_bytes,
            linger: Duration::from_millis(settings.ship_linger_ms),
            retry_max: Duration::from_millis(settings.retry_max_ms.max(1)),
            stop,
            open: None,
            checkpoint,
            retention: Retention::new(Duration::from_secs(settings.keep_shipped_s)),
        }
    }

    /// Segments an earlier run shipped (`(id, bytes)`), kept as if shipped now.
    pub fn with_shipped(mut self, shipped: &[(u64, u64)]) -> Self {
        for &(id, bytes) in shipped {
            self.retention.shipped(id, bytes);
        }
        self
    }

    /// Ships until stopped: at once when the log is empty, else at the
    /// deadline, whatever the shipper is doing then (an insert cut off is
    /// sent again at the next start: at-least-once).
    pub async fn run(mut self) {
        let mut stop = self.stop.clone();
        tokio::select! {
            () = self.ship_until_drained() => {}
            () = deadline_passed(&mut stop) => {
                tracing::warn!(
                    "stopping with part of the log unshipped; it ships at the next start"
                );
            }
        }
        self.sync_checkpoint();
    }

    /// Makes the shipping position and the unlinks durable now.
    fn sync_checkpoint(&mut self) {
        if let Err(e) = self.checkpoint.sync() {
            tracing::error!(error = %e, "cannot make the shipping position durable (after a power cut some rows would ship twice)");
        }
    }

    /// Ships as records arrive; returns once stopping was asked for and the
    /// log is empty.
    async fn ship_until_drained(&mut self) {
        loop {
            let stopping = self.stop.borrow_and_update().is_some();
            match self.next_segment() {
                Some((segment, sealed, cursor)) if cursor.offset < segment.len => {
                    if !sealed && !stopping {
                        self.linger_for_more(segment, cursor).await;
                    }
                    self.ship_from(segment, cursor).await;
                }
                Some((segment, true, _)) => self.retire(segment),
                _ => {
                    if stopping {
                        return;
                    }
                    self.delete_due();
                    self.shared.shipped.notify_waiters();
                    let appended = self.shared.appended.notified();
                    let sync_due = self.checkpoint.due();
                    let deletion_due = self.retention.next_due();
                    tokio::select! {
                        _ = appended => {}
                        () = sleep_until_some(sync_due) => self.sync_checkpoint(),
                        () = sleep_until_some(deletion_due) => self.delete_due(),
                        changed = self.stop.changed() => {
                            if changed.is_err() {
                                // The log's owner is gone: nobody to ship for.
                                return;
                            }
                        }
                    }
                }
            }
        }
    }

    /// The segment the cursor is in (moving the cursor past deleted ones),
    /// whether it is sealed, and the cursor.
    fn next_segment(&self) -> Option<(Segment, bool, Position)> {
        let mut log = self.shared.log.lock().expect("log lock");
        let first = *log.segments.front()?;
        if log.cursor.segment < first.id {
            log.cursor = Position {
                segment: first.id,
                offset: FIRST_OFFSET,
            };
        }
        Some((first, log.segments.len() > 1, log.cursor))
    }

    /// A young, small backlog waits a moment for more to join it: fewer,
    /// larger inserts are what ClickHouse wants.
    async fn linger_for_more(&self, segment: Segment, cursor: Position) {
        if segment.len - cursor.offset < self.ship_bytes {
            tokio::time::sleep(self.linger).await;
        }
    }

    /// Ships one chunk from `cursor` (blocking the caller until it is in
    /// ClickHouse or dead-lettered).
    async fn ship_from(&mut self, segment: Segment, cursor: Position) {
        let chunk = match self.read_chunk(segment, cursor) {
            Ok(chunk) => chunk,
            Err(e) => {
                tracing::error!(segment = segment.id, error = %e, "cannot read the log; retrying");
                tokio::time::sleep(self.retry_max).await;
                return;
            }
        };
        if chunk.records.is_empty() {
            self.unreadable_tail(segment, cursor).await;
            return;
        }
        self.inserter
            .insert_all(&chunk, 0, chunk.records.len(), false)
            .await;
        let last = chunk.records.last().expect("records");
        self.advance(
            Position {
                segment: segment.id,
                offset: last.end,
            },
            Some(last.received_ms),
        );
    }

    /// Reads whole records from `cursor`, up to `ship_bytes` (at least one).
    fn read_chunk(&mut self, segment: Segment, cursor: Position) -> std::io::Result<Chunk> {
        if self.open.as_ref().is_none_or(|(id, _)| *id != segment.id) {
            let file = File::open(files::segment_path(&self.shared.dir, segment.id))?;
            self.open = Some((segment.id, file));
        }
        let file = &self.open.as_ref().expect("opened").1;
        Chunk::read(file, segment.len, cursor.offset, self.ship_bytes)
    }

    /// No whole record at `cursor`, yet the segment holds more bytes: a
    /// write torn by a crash (never acknowledged: the 200 waits for fsync)
    /// or damage. Either way the rest of the segment cannot be read.
    async fn unreadable_tail(&mut self, segment: Segment, cursor: Position) {
        let lost = segment.len - cursor.offset;
        let mut bytes = vec![0; lost as usize];
        let read = self
            .open
            .as_ref()
            .map(|(_, f)| f.read_exact_at(&mut bytes, cursor.offset));
        let torn = segment.inherited && matches!(decode(&bytes), Decoded::Incomplete);
        if torn {
            tracing::warn!(
                segment = segment.id,
                bytes = lost,
                "dropping a record torn by a crash (it was never acknowledged)"
            );
        } else if matches!(read, Some(Ok(()))) {
            let reason = match decode(&bytes) {
                Decoded::Corrupt(why) => why,
                _ => "incomplete record".into(),
            };
            tracing::error!(segment = segment.id, offset = cursor.offset, bytes = lost, %reason, "damaged log segment; its unreadable rest goes to the dead-letter file");
            let reason = format!(
                "unreadable log bytes at offset {} of segment {}: {reason}",
                cursor.offset, segment.id
            );
            self.inserter.keep_dead_letter(&reason, 0, 0, &bytes).await;
        } else {
            // The segment cannot even be read: leave it for the next round.
            tracing::error!(segment = segment.id, "cannot read a log segment; retrying");
            tokio::time::sleep(self.retry_max).await;
            return;
        }
        self.advance(
            Position {
                segment: segment.id,
                offset: segment.len,
            },
            None,
        );
    }

    /// Moves the cursor and saves it.
    fn advance(&mut self, to: Position, last_received_ms: Option<i64>) {
        let mut log = self.shared.log.lock().expect("log lock");
        log.cursor = to;
        log.progress_at = std::time::Instant::now();
        log.oldest_unshipped_ms = if log.backlog_bytes() == 0 {
            None
        } else {
            // The next record is at least as young as the last one shipped.
            last_received_ms.or(log.oldest_unshipped_ms)
        };
        drop(log);
        if let Err(e) = self.checkpoint.moved(to) {
            tracing::error!(error = %e, "cannot save the shipping position (a restart would ship some rows twice)");
        }
        self.shared.shipped.notify_waiters();
    }

    /// A wholly shipped, sealed segment: kept a while (`retention`), then
    /// deleted.
    fn retire(&mut self, segment: Segment) {
        if self.open.as_ref().is_some_and(|(id, _)| *id == segment.id) {
            self.open = None;
        }
        let mut log = self.shared.log.lock().expect("log lock");
        log.segments.pop_front();
        if let Some(next) = log.segments.front() {
            log.cursor = Position {
                segment: next.id,
                offset: FIRST_OFFSET,
            };
        }
        drop(log);
        self.retention.shipped(segment.id, segment.len);
        self.delete_due();
    }

    /// Deletes the kept segments that are due — every one while the log
    /// is refusing batches for want of room.
    fn delete_due(&mut self) {
        let need_room = self.shared.log.lock().expect("log lock").full;
        for (id, bytes) in self.retention.due(need_room) {
            let path = files::segment_path(&self.shared.dir, id);
            match std::fs::remove_file(&path) {
                Ok(()) => self.checkpoint.unlinked(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "cannot delete a shipped log segment");
                }
            }
            let mut log = self.shared.log.lock().expect("log lock");
            log.disk_bytes = log.disk_bytes.saturating_sub(bytes);
            log.full = false;
        }
    }
}

/// Completes at `at`, or never.
async fn sleep_until_some(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Completes when a stop deadline has been given and has passed.
async fn deadline_passed(stop: &mut watch::Receiver<Option<Instant>>) {
    let Ok(deadline) = stop
        .wait_for(Option::is_some)
        .await
        .map(|d| d.expect("some"))
    else {
        // The sender is gone without a deadline: never stop from here.
        return std::future::pending().await;
    };
    tokio::time::sleep_until(deadline).await;
}
