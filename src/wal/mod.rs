//! The write-ahead log between the HTTP handlers and ClickHouse.
//!
//! An accepted batch is appended to a segment file and fsynced (many
//! requests share one fsync: group commit) before the 200 goes out; a
//! background shipper then moves the log into ClickHouse in large inserts,
//! retrying with capped, jittered backoff while ClickHouse is away, and
//! removes segments once they are shipped. On start-up whatever was not yet
//! shipped is shipped first. The guarantee is at-least-once: a crash between
//! an insert and its checkpoint ships those rows again, and every figure is
//! invariant under duplicates (docs/design.md §2).
//!
//! Files: `appender` (the fsync thread), `shipper` (log → ClickHouse),
//! `record` (framing, checksums), `files` (segments, checkpoint, lock),
//! `dead_letter` (rows ClickHouse refuses).

mod appender;
mod backoff;
mod checkpoint;
mod chunk;
pub(crate) mod dead_letter;
pub mod files;
mod insert_outcome;
mod inserter;
pub mod record;
mod reship;
mod retention;
mod shipper;
mod status;

pub use status::{WalMonitor, WalStatus};

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::config::WalSettings;
use files::{FIRST_OFFSET, Position};

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AppendError {
    #[error("the log holds {max_bytes} bytes not yet shipped to ClickHouse; retry later")]
    Full { max_bytes: u64 },
    #[error("the log could not be written: {0}")]
    Io(String),
    #[error("the log has shut down")]
    Closed,
}

/// One batch waiting for the appender.
struct Append {
    rows: u32,
    received_ms: i64,
    payload: Bytes,
    done: oneshot::Sender<Result<(), AppendError>>,
}

/// A segment as the appender and the shipper see it. Every segment but the
/// newest is sealed: the appender has moved on from it.
#[derive(Debug, Clone, Copy)]
struct Segment {
    id: u64,
    /// Bytes durably written (fsynced); records end exactly here.
    len: u64,
    /// Written by an earlier run, whose last record may be torn.
    inherited: bool,
}

/// State the appender, the shipper and the status readers share.
#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    max_bytes: u64,
    stall_after: Duration,
    log: Mutex<Log>,
    /// The appender made more records durable.
    appended: Notify,
    /// The shipper moved on (or gave up a round).
    shipped: Notify,
    shipped_rows: AtomicU64,
    /// Rows inserted again after an attempt that may have stored them.
    resent_rows: AtomicU64,
    /// Inserts ClickHouse did not take (each retried or set aside).
    ship_failures: AtomicU64,
    dead_letter_records: AtomicU64,
    /// Bytes of the dead-letter files; they count against `max_bytes`.
    dead_letter_bytes: AtomicU64,
    /// Receive time of the oldest record an earlier run left unshipped.
    inherited_oldest_ms: Option<i64>,
}

#[derive(Debug)]
struct Log {
    segments: VecDeque<Segment>,
    cursor: Position,
    /// Bytes of every segment file on disk.
    disk_bytes: u64,
    /// Why the last insert failed, while ClickHouse is failing.
    ship_error: Option<String>,
    /// Receive time of the oldest record not yet shipped (a lower bound).
    oldest_unshipped_ms: Option<i64>,
    /// The last batch was refused for want of room, and none shipped since.
    full: bool,
    /// When shipping last moved on, or the backlog last started from empty:
    /// a backlog that has not moved for long means shipping is stuck.
    progress_at: Instant,
}

impl Log {
    fn backlog_bytes(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| match s.id.cmp(&self.cursor.segment) {
                std::cmp::Ordering::Less => 0,
                std::cmp::Ordering::Equal => s.len.saturating_sub(self.cursor.offset),
                std::cmp::Ordering::Greater => s.len.saturating_sub(FIRST_OFFSET),
            })
            .sum()
    }
}

/// The handle handlers append through; cheap to clone. The appender stops
/// once every handle is gone.
#[derive(Clone, Debug)]
pub struct Wal {
    tx: mpsc::UnboundedSender<Append>,
    monitor: WalMonitor,
}

/// The log's background work, to be awaited at shutdown.
pub struct WalTasks {
    appender: std::thread::JoinHandle<()>,
    shipper: tokio::task::JoinHandle<()>,
    stop_shipping: tokio::sync::watch::Sender<Option<tokio::time::Instant>>,
    dir: PathBuf,
    /// This boot of the machine, for the stop mark.
    boot: String,
    _lock: files::DirLock,
}

impl Wal {
    /// Opens (or creates) the log in `dir`, starts appending to a new
    /// segment, and starts shipping whatever earlier runs left.
    pub fn open(
        dir: &Path,
        settings: &WalSettings,
        client: clickhouse::Client,
    ) -> anyhow::Result<(Self, WalTasks)> {
        Self::open_shipping_when(dir, settings, tokio::sync::watch::channel(Some(client)).1)
    }

    /// [`Wal::open`], shipping once `storage` holds a client (ClickHouse
    /// answers and is migrated): until then the log takes every batch.
    pub fn open_shipping_when(
        dir: &Path,
        settings: &WalSettings,
        storage: tokio::sync::watch::Receiver<Option<clickhouse::Client>>,
    ) -> anyhow::Result<(Self, WalTasks)> {
        use anyhow::Context;
        files::create_dir_durably(dir)
            .with_context(|| format!("cannot create the log directory {}", dir.display()))?;
        let lock = files::lock_dir(dir)?;
        let mut segments = VecDeque::new();
        let mut disk_bytes = 0;
        for id in files::list_segments(dir)? {
            let len = files::check_segment(dir, id)?;
            disk_bytes += len;
            segments.push_back(Segment {
                id,
                len,
                inherited: true,
            });
        }
        let boot = reship::boot_id();
        let stopped_cleanly = files::take_stop_mark(dir, &boot)?;
        // A position outside its segment is as good as none.
        let saved = match files::read_checkpoint(dir)? {
            Some(at)
                if segments
                    .iter()
                    .any(|s| s.id == at.segment && (FIRST_OFFSET..=s.len).contains(&at.offset)) =>
            {
                Some(at)
            }
            _ => None,
        };
        let first = Position {
            segment: segments.front().map_or(0, |s| s.id),
            offset: FIRST_OFFSET,
        };
        let cursor = match saved {
            Some(at) if !stopped_cleanly && settings.keep_shipped_s > 0 => {
                let on_disk: Vec<(u64, u64)> = segments.iter().map(|s| (s.id, s.len)).collect();
                let keep_ms = settings.keep_shipped_s as i64 * 1000;
                let from = reship::reship_from(dir, &on_disk, at, keep_ms)?;
                if from < at {
                    tracing::warn!(
                        keep_shipped_s = settings.keep_shipped_s,
                        "highwater did not stop cleanly (or the machine restarted): shipping again \
                         what it shipped last, which ClickHouse may have lost"
                    );
                }
                from
            }
            Some(at) => at,
            None => first,
        };
        // Shipped before the last stop: kept a while more (deleted by the
        // shipper when due).
        let mut inherited_shipped = Vec::new();
        while segments.front().is_some_and(|s| s.id < cursor.segment) {
            let shipped = segments.pop_front().expect("front");
            inherited_shipped.push((shipped.id, shipped.len));
        }
        let next_id = segments.back().map_or(1, |s| s.id + 1);
        let inherited = Log {
            segments,
            cursor,
            disk_bytes,
            ship_error: None,
            oldest_unshipped_ms: first_received_ms(dir, cursor),
            full: false,
            progress_at: Instant::now(),
        };
        let inherited_oldest_ms = inherited.oldest_unshipped_ms;
        let backlog = inherited.backlog_bytes();
        if backlog > 0 {
            tracing::info!(
                bytes = backlog,
                "the log holds batches an earlier run did not ship; shipping them first"
            );
        }
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            max_bytes: settings.max_bytes,
            stall_after: Duration::from_secs(settings.stall_after_s),
            log: Mutex::new(inherited),
            appended: Notify::new(),
            shipped: Notify::new(),
            shipped_rows: AtomicU64::new(0),
            resent_rows: AtomicU64::new(0),
            ship_failures: AtomicU64::new(0),
            dead_letter_records: AtomicU64::new(0),
            dead_letter_bytes: AtomicU64::new(dead_letter::DeadLetters::disk_bytes(dir)?),
            inherited_oldest_ms,
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let appender = appender::Appender::start(shared.clone(), next_id, settings, rx)?;
        let (stop_shipping, stop_rx) = tokio::sync::watch::channel(None);
        let shipper = shipper::Shipper::new(shared.clone(), storage, settings, stop_rx)
            .with_shipped(&inherited_shipped);
        let shipper = tokio::spawn(shipper.run());
        let wal = Self {
            tx,
            monitor: WalMonitor(shared),
        };
        let tasks = WalTasks {
            appender,
            shipper,
            stop_shipping,
            dir: dir.to_owned(),
            boot,
            _lock: lock,
        };
        Ok((wal, tasks))
    }

    /// Appends one batch of encoded rows; returns once it is on disk.
    pub async fn append(
        &self,
        payload: Bytes,
        rows: u32,
        received_ms: i64,
    ) -> Result<(), AppendError> {
        let (done, answer) = oneshot::channel();
        self.tx
            .send(Append {
                rows,
                received_ms,
                payload,
                done,
            })
            .map_err(|_| AppendError::Closed)?;
        answer.await.unwrap_or(Err(AppendError::Closed))
    }

    pub fn monitor(&self) -> WalMonitor {
        self.monitor.clone()
    }
}

/// Receive time of the record at `at`, if one is there (read at start-up, so
/// that the scheduler knows how old the inherited backlog is).
fn first_received_ms(dir: &Path, at: Position) -> Option<i64> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(files::segment_path(dir, at.segment)).ok()?;
    let mut header = [0u8; record::HEADER_BYTES];
    file.read_exact_at(&mut header, at.offset).ok()?;
    record::peek_received_ms(&header)
}

impl WalTasks {
    /// Call once every [`Wal`] handle is dropped: waits for the appender to
    /// finish, then lets the shipper ship the rest, both until `deadline` at
    /// the latest. What is not shipped by then stays in the log for the next
    /// start; a straggling connection that still holds a handle, or a
    /// ClickHouse that is down, cannot stall the exit.
    pub async fn finish(self, deadline: tokio::time::Instant) {
        let appender = self.appender;
        let joined = tokio::task::spawn_blocking(move || appender.join());
        if tokio::time::timeout_at(deadline, joined).await.is_err() {
            tracing::warn!("a request still holds the log at shutdown; not waiting for it");
        }
        let _ = self.stop_shipping.send(Some(deadline));
        let _ = self.shipper.await;
        if let Err(e) = files::write_stop_mark(&self.dir, &self.boot) {
            tracing::warn!(error = %e, "cannot mark the log as stopped cleanly: the next start ships its tail again");
        }
    }
}
