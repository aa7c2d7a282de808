//! Moves the log into ClickHouse: reads records from the shipping position,
//! sends them in large inserts, saves the position, deletes segments once
//! they are wholly shipped.
//!
//! While ClickHouse is unreachable or overloaded it retries the same insert
//! with exponential backoff (full jitter, capped), for as long as it takes.
//! When ClickHouse refuses the rows themselves (a data error, not an outage)
//! the insert is split until the refused records are found; they go to the
//! dead-letter file and shipping moves on.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clickhouse::Client;
use tokio::sync::watch;

use super::dead_letter::DeadLetters;
use super::files::{self, FIRST_OFFSET, Position};
use super::record::{Decoded, HEADER_BYTES, decode, peek_framed_len};
use super::{Segment, Shared};
use crate::config::WalSettings;
use crate::store::row_binary::EVENT_COLUMNS;

/// First retry delay; doubled per failure up to the configured cap.
const FIRST_RETRY: Duration = Duration::from_millis(100);

pub struct Shipper {
    shared: Arc<Shared>,
    client: Client,
    dead_letters: DeadLetters,
    ship_bytes: u64,
    linger: Duration,
    insert_timeout: Duration,
    retry_max: Duration,
    /// `Some(drain)` once the appender has finished: ship for at most
    /// `drain` more, then stop.
    stop: watch::Receiver<Option<Duration>>,
    /// The open file of the segment being shipped.
    open: Option<(u64, File)>,
}

/// Where one record lies in its segment.
#[derive(Clone, Copy)]
struct Span {
    start: u64,
    end: u64,
    rows: u32,
    received_ms: i64,
}

/// Records read from one segment, ready to insert.
struct Chunk {
    records: Vec<Span>,
    bytes: bytes::Bytes,
    /// Where the bytes start in the segment.
    start: u64,
}

impl Chunk {
    /// Where the RowBinary rows of `span` lie in `bytes`.
    fn payload(&self, span: &Span) -> std::ops::Range<usize> {
        (span.start - self.start) as usize + HEADER_BYTES..(span.end - self.start) as usize
    }
}

/// How one insert ended.
enum Outcome {
    Stored,
    /// ClickHouse refused these rows as data (code and message).
    Refused(String),
    /// ClickHouse is away or overloaded: try again later.
    Unavailable(String),
}

impl Shipper {
    pub fn new(
        shared: Arc<Shared>,
        client: Client,
        settings: &WalSettings,
        stop: watch::Receiver<Option<Duration>>,
    ) -> Self {
        let dead_letters = DeadLetters::new(shared.dir.join("dead-letter.ndjson"));
        Self {
            shared,
            client,
            dead_letters,
            ship_bytes: settings.ship_bytes,
            linger: Duration::from_millis(settings.ship_linger_ms),
            insert_timeout: Duration::from_millis(settings.insert_timeout_ms),
            retry_max: Duration::from_millis(settings.retry_max_ms.max(1)),
            stop,
            open: None,
        }
    }

    pub async fn run(mut self) {
        let mut deadline = None;
        loop {
            if deadline.is_none()
                && let Some(drain) = *self.stop.borrow_and_update()
            {
                deadline = Some(tokio::time::Instant::now() + drain);
            }
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                tracing::warn!(
                    "stopping with part of the log unshipped; it ships at the next start"
                );
                return;
            }
            match self.next_segment() {
                Some((segment, sealed, cursor)) if cursor.offset < segment.len => {
                    if !sealed && deadline.is_none() {
                        self.linger_for_more(segment, cursor).await;
                    }
                    let work = self.ship_from(segment, cursor);
                    match deadline {
                        Some(d) => {
                            if tokio::time::timeout_at(d, work).await.is_err() {
                                continue;
                            }
                        }
                        None => work.await,
                    }
                }
                Some((segment, true, _)) => self.remove(segment),
                _ => {
                    if deadline.is_some() {
                        return;
                    }
                    self.shared.shipped.notify_waiters();
                    let appended = self.shared.appended.notified();
                    tokio::select! {
                        _ = appended => {}
                        _ = self.stop.changed() => {}
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
            self.unreadable_tail(segment, cursor);
            return;
        }
        self.insert_all(&chunk, 0, chunk.records.len()).await;
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
        let available = segment.len - cursor.offset;
        let mut want = available.min(self.ship_bytes.max(HEADER_BYTES as u64));
        loop {
            let mut bytes = vec![0; want as usize];
            file.read_exact_at(&mut bytes, cursor.offset)?;
            let mut records = Vec::new();
            let mut at = 0usize;
            loop {
                match decode(&bytes[at..]) {
                    Decoded::Record(record) => {
                        let end = at + record.framed_len();
                        records.push(Span {
                            start: cursor.offset + at as u64,
                            end: cursor.offset + end as u64,
                            rows: record.rows,
                            received_ms: record.received_ms,
                        });
                        at = end;
                    }
                    Decoded::Incomplete if records.is_empty() && want < available => {
                        // One record larger than a chunk: read all of it.
                        let framed = peek_framed_len(&bytes).expect("a whole header was read");
                        want = (framed as u64).min(available);
                        break;
                    }
                    Decoded::Incomplete | Decoded::Corrupt(_) => {
                        bytes.truncate(at);
                        return Ok(Chunk {
                            records,
                            bytes: bytes.into(),
                            start: cursor.offset,
                        });
                    }
                }
            }
        }
    }

    /// Inserts records `from..to` of `chunk`, splitting refused ranges.
    async fn insert_all(&self, chunk: &Chunk, from: usize, to: usize) {
        let mut failures = 0u32;
        loop {
            match self.insert(chunk, from, to).await {
                Outcome::Stored => {
                    let rows: u64 = chunk.records[from..to]
                        .iter()
                        .map(|r| u64::from(r.rows))
                        .sum();
                    self.shared.shipped_rows.fetch_add(rows, Ordering::Relaxed);
                    if failures > 0 {
                        tracing::info!(failures, "ClickHouse is back; shipping the log");
                    }
                    self.shared.log.lock().expect("log lock").ship_error = None;
                    return;
                }
                Outcome::Refused(reason) if to - from == 1 => {
                    self.dead_letter(chunk, from, &reason);
                    return;
                }
                Outcome::Refused(_) => {
                    let middle = from + (to - from) / 2;
                    Box::pin(self.insert_all(chunk, from, middle)).await;
                    Box::pin(self.insert_all(chunk, middle, to)).await;
                    return;
                }
                Outcome::Unavailable(reason) => {
                    if failures == 0 {
                        tracing::warn!(error = %reason, "ClickHouse is unavailable; the log keeps every batch and retries");
                    }
                    self.shared.log.lock().expect("log lock").ship_error = Some(reason);
                    failures += 1;
                    tokio::time::sleep(backoff(failures, self.retry_max)).await;
                }
            }
        }
    }

    async fn insert(&self, chunk: &Chunk, from: usize, to: usize) -> Outcome {
        let work = async {
            let mut insert = self.client.insert_formatted_with(format!(
                "INSERT INTO events ({EVENT_COLUMNS}) FORMAT RowBinary"
            ));
            for span in &chunk.records[from..to] {
                // A view into the chunk, not a copy.
                insert.send(chunk.bytes.slice(chunk.payload(span))).await?;
            }
            insert.end().await
        };
        match tokio::time::timeout(self.insert_timeout, work).await {
            Err(_) => Outcome::Unavailable(format!(
                "no answer within {} ms",
                self.insert_timeout.as_millis()
            )),
            Ok(Ok(())) => Outcome::Stored,
            Ok(Err(e)) => classify(&e),
        }
    }

    fn dead_letter(&self, chunk: &Chunk, index: usize, reason: &str) {
        let span = chunk.records[index];
        let payload = &chunk.bytes[chunk.payload(&span)];
        tracing::error!(
            rows = span.rows,
            reason,
            "ClickHouse refused a batch; it goes to the dead-letter file"
        );
        self.dead_letters
            .write(reason, span.rows, span.received_ms, payload)
            .unwrap_or_else(|e| tracing::error!(error = %e, "cannot write the dead-letter file"));
        self.shared
            .dead_letter_records
            .fetch_add(1, Ordering::Relaxed);
    }

    /// No whole record at `cursor`, yet the segment holds more bytes: a
    /// write torn by a crash (never acknowledged: the 200 waits for fsync)
    /// or damage. Either way the rest of the segment cannot be read.
    fn unreadable_tail(&mut self, segment: Segment, cursor: Position) {
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
        } else {
            let reason = match decode(&bytes) {
                Decoded::Corrupt(why) => why,
                _ => "incomplete record".into(),
            };
            tracing::error!(segment = segment.id, offset = cursor.offset, bytes = lost, %reason, "damaged log segment; its unreadable rest goes to the dead-letter file");
            if matches!(read, Some(Ok(()))) {
                let _ = self.dead_letters.write(
                    &format!(
                        "unreadable log bytes at offset {} of segment {}: {reason}",
                        cursor.offset, segment.id
                    ),
                    0,
                    0,
                    &bytes,
                );
            }
            self.shared
                .dead_letter_records
                .fetch_add(1, Ordering::Relaxed);
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
    fn advance(&self, to: Position, last_received_ms: Option<i64>) {
        let mut log = self.shared.log.lock().expect("log lock");
        log.cursor = to;
        log.oldest_unshipped_ms = if log.backlog_bytes() == 0 {
            None
        } else {
            // The next record is at least as young as the last one shipped.
            last_received_ms.or(log.oldest_unshipped_ms)
        };
        drop(log);
        if let Err(e) = files::write_checkpoint(&self.shared.dir, to) {
            tracing::error!(error = %e, "cannot save the shipping position (a restart would ship some rows twice)");
        }
        self.shared.shipped.notify_waiters();
    }

    /// Deletes a wholly shipped, sealed segment.
    fn remove(&mut self, segment: Segment) {
        if self.open.as_ref().is_some_and(|(id, _)| *id == segment.id) {
            self.open = None;
        }
        let path = files::segment_path(&self.shared.dir, segment.id);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::error!(path = %path.display(), error = %e, "cannot delete a shipped log segment");
        }
        let mut log = self.shared.log.lock().expect("log lock");
        log.segments.pop_front();
        log.disk_bytes = log.disk_bytes.saturating_sub(segment.len);
        log.full = false;
        if let Some(next) = log.segments.front() {
            log.cursor = Position {
                segment: next.id,
                offset: FIRST_OFFSET,
            };
        }
    }
}

/// Data errors are ClickHouse's verdict on the rows and will not change on
/// retry; anything else (network, timeouts, memory, too many parts, a table
/// that is missing during a migration) may pass later.
fn classify(error: &clickhouse::error::Error) -> Outcome {
    // Exception codes of ClickHouse meaning "these bytes are not valid rows".
    const DATA_ERRORS: [u32; 14] = [6, 26, 27, 32, 33, 36, 38, 41, 53, 69, 70, 72, 117, 131];
    let text = error.to_string();
    if let clickhouse::error::Error::BadResponse(message) = error
        && let Some(code) = exception_code(message)
        && DATA_ERRORS.contains(&code)
    {
        return Outcome::Refused(text);
    }
    Outcome::Unavailable(text)
}

/// `N` of "Code: N" in a ClickHouse error message.
fn exception_code(message: &str) -> Option<u32> {
    let rest = &message[message.find("Code: ")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Delay before retry `failures` (1-based): full jitter over an exponential
/// bound, so that many servers coming back do not retry in step.
fn backoff(failures: u32, cap: Duration) -> Duration {
    let bound = FIRST_RETRY.saturating_mul(1 << failures.min(16)).min(cap);
    bound.mul_f64(rand::random_range(0.5..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_codes_are_read_from_messages() {
        let message = "Code: 33, e.displayText() = DB::Exception: Cannot read all data";
        assert_eq!(exception_code(message), Some(33));
        assert_eq!(exception_code("Connection refused"), None);
        let refused = clickhouse::error::Error::BadResponse(message.into());
        assert!(matches!(classify(&refused), Outcome::Refused(_)));
        let memory = clickhouse::error::Error::BadResponse("Code: 241. Memory limit".into());
        assert!(matches!(classify(&memory), Outcome::Unavailable(_)));
        assert!(matches!(
            classify(&clickhouse::error::Error::TimedOut),
            Outcome::Unavailable(_)
        ));
    }

    #[test]
    fn backoff_grows_to_the_cap_and_never_beyond() {
        let cap = Duration::from_secs(5);
        for failures in 1..40 {
            let delay = backoff(failures, cap);
            let bound = FIRST_RETRY.saturating_mul(1 << failures.min(16)).min(cap);
            assert!(
                delay <= bound && delay >= bound / 2,
                "{failures}: {delay:?}"
            );
        }
        assert!(backoff(30, cap) >= cap / 2);
    }
}
