//! Gets one chunk of the log into ClickHouse, or sets part of it aside.
//!
//! While ClickHouse is unreachable, overloaded or misconfigured (see
//! [`classify`]) it retries the same insert with capped exponential backoff,
//! for as long as it takes. When ClickHouse refuses the rows themselves — a
//! data error at once, any other error once it has kept failing
//! [`ATTEMPTS_BEFORE_SPLIT`] times — the insert is split until the refused
//! records are found; they go to the dead-letter file (durably, or not at
//! all: then it waits), and the rest ships, so no poison batch can hold up
//! the log.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clickhouse::Client;
use tokio::sync::watch;

use super::Shared;
use super::backoff::backoff;
use super::chunk::Chunk;
use super::dead_letter::DeadLetters;
use super::insert_outcome::{Outcome, classify};
use crate::config::WalSettings;
use crate::store::row_binary::EVENT_COLUMNS;

/// An insert failing with an error that is neither a known outage nor a
/// known data error is tried this often before it is split: a passing fault
/// would let one of the tries through, a refusal of the rows will not.
const ATTEMPTS_BEFORE_SPLIT: u32 = 5;

/// How an insert that timed out is described (its rows may be stored).
const NO_ANSWER: &str = "no answer within";

pub struct Inserter {
    shared: Arc<Shared>,
    /// The client, once ClickHouse answers and is migrated (`None` before).
    storage: watch::Receiver<Option<Client>>,
    dead_letters: DeadLetters,
    insert_timeout: Duration,
    retry_max: Duration,
}

impl Inserter {
    pub fn new(
        shared: Arc<Shared>,
        storage: watch::Receiver<Option<Client>>,
        settings: &WalSettings,
    ) -> Self {
        let dead_letters = DeadLetters::new(&shared.dir, settings.segment_bytes);
        Self {
            shared,
            storage,
            dead_letters,
            insert_timeout: Duration::from_millis(settings.insert_timeout_ms),
            retry_max: Duration::from_millis(settings.retry_max_ms.max(1)),
        }
    }

    /// Inserts records `from..to` of `chunk`, splitting refused ranges.
    /// `proven`: a larger insert holding these records has already kept
    /// failing, so a failure here counts as a refusal at once.
    pub async fn insert_all(&self, chunk: &Chunk, from: usize, to: usize, proven: bool) {
        let mut failures = 0u32;
        // Failures with an error of unknown kind only: an outage before
        // them must not count towards splitting.
        let mut unknown_failures = 0u32;
        // Attempts that got no answer in time: each may have stored the rows.
        let mut maybe_stored = 0u64;
        loop {
            let outcome = self.insert(chunk, from, to).await;
            if matches!(&outcome, Outcome::Unavailable(why) if why.starts_with(NO_ANSWER)) {
                maybe_stored += 1;
            }
            if matches!(outcome, Outcome::Failed(_)) {
                unknown_failures += 1;
            }
            let refusal = match outcome {
                Outcome::Stored => {
                    let rows: u64 = chunk.records[from..to]
                        .iter()
                        .map(|r| u64::from(r.rows))
                        .sum();
                    self.shared.shipped_rows.fetch_add(rows, Ordering::Relaxed);
                    self.shared
                        .resent_rows
                        .fetch_add(rows * maybe_stored, Ordering::Relaxed);
                    if failures > 0 {
                        tracing::info!(failures, "the insert went through; shipping the log");
                    }
                    self.shared.log.lock().expect("log lock").ship_error = None;
                    return;
                }
                Outcome::Refused(reason) => reason,
                Outcome::Failed(reason) if proven || unknown_failures >= ATTEMPTS_BEFORE_SPLIT => {
                    reason
                }
                Outcome::Unavailable(reason) | Outcome::Failed(reason) => {
                    if failures == 0 {
                        tracing::warn!(error = %reason, "ClickHouse did not take the insert; the log keeps every batch and retries");
                    }
                    self.shared.ship_failures.fetch_add(1, Ordering::Relaxed);
                    self.shared.log.lock().expect("log lock").ship_error = Some(reason);
                    failures += 1;
                    tokio::time::sleep(backoff(failures, self.retry_max)).await;
                    continue;
                }
            };
            if to - from == 1 {
                self.dead_letter(chunk, from, &refusal).await;
            } else {
                tracing::warn!(error = %refusal, records = to - from, "ClickHouse refuses this insert; splitting it to find the refused batches");
                let middle = from + (to - from) / 2;
                Box::pin(self.insert_all(chunk, from, middle, true)).await;
                Box::pin(self.insert_all(chunk, middle, to, true)).await;
            }
            return;
        }
    }

    async fn insert(&self, chunk: &Chunk, from: usize, to: usize) -> Outcome {
        // Nothing is inserted before the schema is there (`store::migrator`):
        // until then the log waits (and says so in `/readyz` once stalled).
        let Some(client) = self.migrated_client().await else {
            return Outcome::Unavailable("ClickHouse has not answered yet".to_owned());
        };
        let work = async {
            let mut insert = client.insert_formatted_with(format!(
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
                "{NO_ANSWER} {} ms",
                self.insert_timeout.as_millis()
            )),
            Ok(Ok(())) => Outcome::Stored,
            Ok(Err(e)) => classify(&e),
        }
    }

    /// The client, once ClickHouse answered and was migrated; `None` if
    /// the log's owner is gone.
    async fn migrated_client(&self) -> Option<Client> {
        let mut storage = self.storage.clone();
        if storage.borrow().is_none() {
            self.shared.log.lock().expect("log lock").ship_error =
                Some("ClickHouse has not answered yet, or is not migrated".to_owned());
        }
        storage.wait_for(Option::is_some).await.ok()?.clone()
    }

    async fn dead_letter(&self, chunk: &Chunk, index: usize, reason: &str) {
        let span = chunk.records[index];
        let payload = &chunk.bytes[chunk.payload(&span)];
        tracing::error!(
            rows = span.rows,
            reason,
            "ClickHouse refused a batch; it goes to the dead-letter file"
        );
        self.keep_dead_letter(reason, span.rows, span.received_ms, payload)
            .await;
    }

    /// Writes a dead letter, retrying (with backoff) until it is durably
    /// on disk: the shipper must not move past rows that are neither in
    /// ClickHouse nor in the dead-letter file.
    pub async fn keep_dead_letter(&self, reason: &str, rows: u32, received_ms: i64, bytes: &[u8]) {
        let mut failures = 0;
        loop {
            match self.dead_letters.write(reason, rows, received_ms, bytes) {
                Ok(written) => {
                    let shared = &self.shared;
                    shared
                        .dead_letter_bytes
                        .fetch_add(written, Ordering::Relaxed);
                    shared.dead_letter_records.fetch_add(1, Ordering::Relaxed);
                    shared.log.lock().expect("log lock").ship_error = None;
                    return;
                }
                Err(e) => {
                    let why = format!(
                        "cannot write the dead-letter file ({e}); the refused batch stays in the log"
                    );
                    if failures == 0 {
                        tracing::error!("{why}");
                    }
                    self.shared.ship_failures.fetch_add(1, Ordering::Relaxed);
                    self.shared.log.lock().expect("log lock").ship_error = Some(why);
                    failures += 1;
                    tokio::time::sleep(backoff(failures, self.retry_max)).await;
                }
            }
        }
    }
}
