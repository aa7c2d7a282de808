//! Bounds on ingest work in progress: how many requests, and how many bytes
//! they hold in memory together. A request that would pass either bound is
//! turned away at once with 503 and `Retry-After` rather than queued, so
//! memory stays bounded whatever the clients do.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::api::error::ApiError;
use crate::config::IngestSettings;
use crate::domain::event::Event;
use crate::domain::raw_event::RawEvent;

/// An upper bound of the memory parsing and encoding `body_len` bytes take:
/// an event costs at least two bytes of JSON (`1,`); each holds a parsed
/// [`RawEvent`], then an [`Event`], then a row: its strings (no longer than
/// in the JSON) plus the project name (≤ 64 bytes) and fixed columns.
pub fn parsing_bytes(body_len: usize, max_events: usize) -> usize {
    const ROW_OVERHEAD: usize = 64 + 32;
    let events = (body_len / 2 + 1).min(max_events);
    let per_event = std::mem::size_of::<RawEvent>() + std::mem::size_of::<Event>() + ROW_OVERHEAD;
    events * per_event + body_len
}

/// A decoded body (a PostHog JSON tree, an OTLP message) may take this many
/// times its size in memory: a JSON `Value` is 32 bytes and `[0,0,…]`
/// spends two bytes on each; a protobuf attribute of a few bytes decodes
/// to a `KeyValue` of about 80.
pub const DECODED_BYTES_PER_BYTE: usize = 32;

/// What the largest request the limits allow may hold at once: its body,
/// decompressed, and parsed.
pub fn largest_request_bytes(settings: &IngestSettings) -> usize {
    settings.max_body_bytes
        + settings.max_decompressed_bytes
        + parsing_bytes(
            settings.max_decompressed_bytes,
            settings.max_events_per_batch,
        )
}

#[derive(Debug, Clone)]
pub struct Admission {
    requests: Arc<Semaphore>,
    max_requests: usize,
    bytes: Arc<Semaphore>,
}

/// Held for the life of an admitted request; releases on drop.
#[derive(Debug)]
pub struct Admitted {
    bytes: Arc<Semaphore>,
    permits: Vec<OwnedSemaphorePermit>,
}

impl Admission {
    /// Refuses limits under which the largest allowed request could never
    /// be admitted (it would get 503 forever).
    pub fn new(settings: &IngestSettings) -> anyhow::Result<Self> {
        let largest = largest_request_bytes(settings);
        anyhow::ensure!(
            settings.max_in_flight_bytes >= largest,
            "ingest.max_in_flight_bytes = {} is below the {largest} bytes the largest request \
             allowed by max_body_bytes, max_decompressed_bytes and max_events_per_batch may hold",
            settings.max_in_flight_bytes
        );
        Ok(Self {
            requests: Arc::new(Semaphore::new(settings.max_in_flight_requests)),
            max_requests: settings.max_in_flight_requests,
            bytes: Arc::new(Semaphore::new(
                settings.max_in_flight_bytes.min(Semaphore::MAX_PERMITS),
            )),
        })
    }

    /// Ingest requests admitted and not yet finished (shown by `/readyz`).
    pub fn requests_in_flight(&self) -> usize {
        self.max_requests - self.requests.available_permits()
    }

    /// Admits a request that will hold `bytes` bytes.
    pub fn admit(&self, bytes: usize) -> Result<Admitted, ApiError> {
        let request = self
            .requests
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Busy)?;
        let mut admitted = Admitted {
            bytes: self.bytes.clone(),
            permits: vec![request],
        };
        admitted.grow(bytes)?;
        Ok(admitted)
    }
}

impl Admitted {
    /// The request now holds `more` bytes besides.
    pub fn grow(&mut self, more: usize) -> Result<(), ApiError> {
        let more = u32::try_from(more).map_err(|_| ApiError::Busy)?;
        let permit = self
            .bytes
            .clone()
            .try_acquire_many_owned(more)
            .map_err(|_| ApiError::Busy)?;
        self.permits.push(permit);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_bytes_are_bounded_and_released() {
        let settings = IngestSettings {
            max_in_flight_requests: 2,
            max_in_flight_bytes: 1000,
            max_body_bytes: 100,
            max_decompressed_bytes: 100,
            max_events_per_batch: 1,
            ..IngestSettings::default()
        };
        assert!(largest_request_bytes(&settings) <= 1000);
        let admission = Admission::new(&settings).unwrap();
        let first = admission.admit(600).unwrap();
        assert!(matches!(admission.admit(500), Err(ApiError::Busy)));
        let mut second = admission.admit(300).unwrap();
        assert!(second.grow(200).is_err());
        second.grow(100).unwrap();
        // Two requests are in: a third is refused even with bytes to spare.
        drop(first);
        let _third = admission.admit(10).unwrap();
        assert!(matches!(admission.admit(0), Err(ApiError::Busy)));
    }

    #[test]
    fn limits_that_could_never_admit_the_largest_request_are_refused() {
        let settings = IngestSettings {
            max_in_flight_bytes: 1 << 20,
            ..IngestSettings::default()
        };
        let error = Admission::new(&settings).unwrap_err().to_string();
        assert!(error.contains("max_in_flight_bytes = 1048576"), "{error}");
        // The shipped defaults fit.
        Admission::new(&IngestSettings::default()).unwrap();
    }
}
