//! The thread that writes the log: it takes every batch waiting, writes them
//! in one go, fsyncs once (group commit), and only then answers their
//! requests. A blocking thread of its own, so an fsync never stalls the
//! async workers.

use std::fs::File;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use super::files::{self, FIRST_OFFSET};
use super::record::Record;
use super::{Append, AppendError, Segment, Shared};
use crate::config::WalSettings;

/// One write + fsync takes at most this much; the rest waits for the next.
const MAX_GROUP_BYTES: usize = 64 << 20;

pub struct Appender {
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Append>,
    /// The segment being appended to; `None` after a write failed.
    file: Option<File>,
    segment_id: u64,
    segment_len: u64,
    segment_bytes: u64,
}

impl Appender {
    /// Creates segment `first_id` and starts the thread.
    pub fn start(
        shared: Arc<Shared>,
        first_id: u64,
        settings: &WalSettings,
        rx: mpsc::UnboundedReceiver<Append>,
    ) -> anyhow::Result<std::thread::JoinHandle<()>> {
        let mut appender = Self {
            shared,
            rx,
            file: None,
            segment_id: first_id - 1,
            segment_len: 0,
            segment_bytes: settings.segment_bytes,
        };
        appender.rotate()?;
        Ok(std::thread::Builder::new()
            .name("wal-appender".into())
            .spawn(move || appender.run())?)
    }

    fn run(mut self) {
        while let Some(first) = self.rx.blocking_recv() {
            let mut group = vec![first];
            let mut bytes = group[0].payload.len();
            while bytes < MAX_GROUP_BYTES {
                match self.rx.try_recv() {
                    Ok(next) => {
                        bytes += next.payload.len();
                        group.push(next);
                    }
                    Err(_) => break,
                }
            }
            self.write_group(group);
        }
        tracing::debug!("log appender finished");
    }

    /// Writes what fits under the disk bound, fsyncs, answers everyone.
    fn write_group(&mut self, group: Vec<Append>) {
        let mut buf = Vec::with_capacity(group.iter().map(|a| a.payload.len() + 32).sum());
        // Dead letters share the disk budget: they are never deleted here.
        let disk_bytes = self.shared.log.lock().expect("log lock").disk_bytes
            + self.shared.dead_letter_bytes.load(Ordering::Relaxed);
        let mut accepted = Vec::with_capacity(group.len());
        let mut refused = Vec::new();
        let mut oldest = i64::MAX;
        for append in group {
            let record = Record {
                rows: append.rows,
                received_ms: append.received_ms,
                payload: &append.payload,
            };
            if disk_bytes + (buf.len() + record.framed_len()) as u64 > self.shared.max_bytes {
                refused.push(append.done);
                continue;
            }
            record.encode_into(&mut buf);
            oldest = oldest.min(append.received_ms);
            accepted.push(append.done);
        }
        // `full` says whether the latest batches were refused for want of
        // room: it clears as soon as a group fits again. Set before the
        // refused hear of it, so that a client's next `/readyz` says so.
        self.shared.log.lock().expect("log lock").full = !refused.is_empty();
        if !refused.is_empty() {
            // Shipped segments kept for a while make room now.
            self.shared.appended.notify_one();
        }
        for done in refused {
            let _ = done.send(Err(AppendError::Full {
                max_bytes: self.shared.max_bytes,
            }));
        }
        if accepted.is_empty() {
            // Sealing the segment lets the shipper delete it once shipped:
            // a log whose only segment never fills would stay full forever.
            if self.segment_len > FIRST_OFFSET
                && let Err(e) = self.rotate()
            {
                tracing::error!(error = %e, "cannot start a new log segment");
            }
            return;
        }
        let result = self.write_durably(&buf);
        if result.is_ok() {
            let mut log = self.shared.log.lock().expect("log lock");
            if log.backlog_bytes() == 0 {
                // A new backlog: shipping has had no time to be stuck yet.
                log.progress_at = std::time::Instant::now();
            }
            self.segment_len += buf.len() as u64;
            log.disk_bytes += buf.len() as u64;
            if let Some(segment) = log.segments.back_mut() {
                segment.len = self.segment_len;
            }
            log.oldest_unshipped_ms =
                Some(log.oldest_unshipped_ms.map_or(oldest, |o| o.min(oldest)));
            drop(log);
            self.shared.appended.notify_one();
        }
        for done in accepted {
            let _ = done.send(result.clone());
        }
        if self.segment_len >= self.segment_bytes
            && let Err(e) = self.rotate()
        {
            tracing::error!(error = %e, "cannot start a new log segment");
        }
    }

    fn write_durably(&mut self, buf: &[u8]) -> Result<(), AppendError> {
        if self.file.is_none() {
            self.rotate().map_err(|e| AppendError::Io(e.to_string()))?;
        }
        let file = self.file.as_mut().expect("a segment is open");
        let written = file.write_all(buf).and_then(|()| file.sync_data());
        if let Err(e) = written {
            // After a failed write or fsync the file's tail is unknown:
            // cut it back to what is known durable and never append to it
            // again (the shipper reads only up to the durable length).
            tracing::error!(error = %e, segment = self.segment_id, "writing the log failed; answering 503");
            let _ = file.set_len(self.segment_len);
            self.file = None;
            return Err(AppendError::Io(e.to_string()));
        }
        Ok(())
    }

    /// Seals the current segment and starts the next one.
    fn rotate(&mut self) -> std::io::Result<()> {
        let id = self.segment_id + 1;
        let file = files::create_segment(&self.shared.dir, id)?;
        let mut log = self.shared.log.lock().expect("log lock");
        // Pushing the new segment seals the one before it.
        log.segments.push_back(Segment {
            id,
            len: FIRST_OFFSET,
            inherited: false,
        });
        log.disk_bytes += FIRST_OFFSET;
        drop(log);
        self.file = Some(file);
        self.segment_id = id;
        self.segment_len = FIRST_OFFSET;
        // The shipper may be waiting for the sealed segment to grow.
        self.shared.appended.notify_one();
        Ok(())
    }
}
