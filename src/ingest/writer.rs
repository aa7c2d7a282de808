//! Group commit: events of concurrent requests are coalesced into one large
//! ClickHouse insert, and each request is answered only once the insert that
//! holds its events has succeeded (DESIGN §1: "200 only once durable").
//!
//! A flush happens when `flush_rows` rows wait, when the oldest has waited
//! `flush_interval_ms`, or as soon as every request in progress is waiting:
//! no one else can add rows then, so waiting longer would only add latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use clickhouse::Client;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};

use crate::config::IngestSettings;
use crate::store::StoreError;
use crate::store::row_binary::EVENT_COLUMNS;

/// Rows already encoded as RowBinary (see [`crate::store::row_binary`]).
#[derive(Debug)]
pub struct EncodedRows {
    pub bytes: Bytes,
    pub count: usize,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WriteError {
    #[error("too many rows are waiting to be stored")]
    Overloaded,
    #[error("the insert failed: {0}")]
    Unavailable(Arc<str>),
    #[error("the writer has shut down")]
    Closed,
}

struct Submission {
    rows: EncodedRows,
    done: oneshot::Sender<Result<(), WriteError>>,
    /// Holds `rows.count` pending-row permits until the insert is over.
    _permit: OwnedSemaphorePermit,
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone, Debug)]
pub struct BatchWriter {
    tx: mpsc::UnboundedSender<Submission>,
    pending_rows: Arc<Semaphore>,
    activity: Arc<Activity>,
}

/// Requests currently between authentication and their answer.
#[derive(Debug, Default)]
struct Activity {
    requests: AtomicUsize,
    changed: Notify,
}

/// Marks a request in progress for as long as it lives.
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.requests.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_one();
    }
}

impl BatchWriter {
    /// Starts the writer task. It ends once every handle is dropped and what
    /// was submitted has been written (graceful shutdown drains).
    pub fn spawn(client: Client, settings: &IngestSettings) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let activity = Arc::new(Activity::default());
        let task = WriterTask {
            client,
            rx,
            activity: activity.clone(),
            flush_rows: settings.flush_rows,
            flush_interval: Duration::from_millis(settings.flush_interval_ms),
            insert_timeout: Duration::from_millis(settings.insert_timeout_ms),
        };
        let handle = tokio::spawn(task.run());
        let writer = Self {
            tx,
            pending_rows: Arc::new(Semaphore::new(settings.max_pending_rows)),
            activity,
        };
        (writer, handle)
    }

    /// Call at the start of a request that may submit rows.
    pub fn track_request(&self) -> RequestGuard {
        self.activity.requests.fetch_add(1, Ordering::SeqCst);
        RequestGuard(self.activity.clone())
    }

    /// Stores `rows`; returns once they are in ClickHouse.
    pub async fn write(&self, rows: EncodedRows) -> Result<(), WriteError> {
        let count = u32::try_from(rows.count).map_err(|_| WriteError::Overloaded)?;
        let permit = self
            .pending_rows
            .clone()
            .try_acquire_many_owned(count)
            .map_err(|_| WriteError::Overloaded)?;
        let (done, answer) = oneshot::channel();
        self.tx
            .send(Submission {
                rows,
                done,
                _permit: permit,
            })
            .map_err(|_| WriteError::Closed)?;
        answer.await.unwrap_or(Err(WriteError::Closed))
    }
}

struct WriterTask {
    client: Client,
    rx: mpsc::UnboundedReceiver<Submission>,
    activity: Arc<Activity>,
    flush_rows: usize,
    flush_interval: Duration,
    insert_timeout: Duration,
}

impl WriterTask {
    async fn run(mut self) {
        while let Some(first) = self.rx.recv().await {
            let deadline = Instant::now() + self.flush_interval;
            let mut rows = first.rows.count;
            let mut batch = vec![first];
            while rows < self.flush_rows
                && batch.len() < self.activity.requests.load(Ordering::SeqCst)
            {
                tokio::select! {
                    next = self.rx.recv() => match next {
                        Some(submission) => {
                            rows += submission.rows.count;
                            batch.push(submission);
                        }
                        None => break,
                    },
                    _ = self.activity.changed.notified() => {}
                    _ = sleep_until(deadline) => break,
                }
            }
            let result = self.insert(&batch).await.map_err(|e| {
                tracing::error!(rows, error = %e, "insert into ClickHouse failed; answering 503");
                WriteError::Unavailable(e.to_string().into())
            });
            for submission in batch {
                let _ = submission.done.send(result.clone());
            }
        }
    }

    async fn insert(&self, batch: &[Submission]) -> Result<(), StoreError> {
        let work = async {
            let mut insert = self.client.insert_formatted_with(format!(
                "INSERT INTO events ({EVENT_COLUMNS}) FORMAT RowBinary"
            ));
            for submission in batch {
                insert.send(submission.rows.bytes.clone()).await?;
            }
            insert.end().await
        };
        tokio::time::timeout(self.insert_timeout, work)
            .await
            .map_err(|_| StoreError::Timeout(self.insert_timeout.as_millis() as u64))?
            .map_err(StoreError::from)
    }
}
