//! Bounds on ingest work in progress: how many requests, and how many bytes
//! they hold in memory together. A request that would pass either bound is
//! turned away at once with 503 and `Retry-After` rather than queued, so
//! memory stays bounded whatever the clients do.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use crate::config::IngestSettings;

#[derive(Debug, Clone)]
pub struct Admission {
    requests: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
}

/// Held for the life of an admitted request; releases on drop.
#[derive(Debug)]
pub struct Admitted {
    bytes: Arc<Semaphore>,
    permits: Vec<OwnedSemaphorePermit>,
}

impl Admission {
    pub fn new(settings: &IngestSettings) -> Self {
        Self {
            requests: Arc::new(Semaphore::new(settings.max_in_flight_requests)),
            bytes: Arc::new(Semaphore::new(
                settings.max_in_flight_bytes.min(Semaphore::MAX_PERMITS),
            )),
        }
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
            ..IngestSettings::default()
        };
        let admission = Admission::new(&settings);
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
}
