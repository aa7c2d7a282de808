//! A bound on reads in progress. A read may cost ClickHouse seconds (a
//! dashboard over a year, a forecast); without a bound, a burst of them —
//! from many keys at once — would queue work without end. Past the bound a
//! read is refused at once with 503 `busy` (`crate::api::middleware`), and
//! the client retries.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, Clone)]
pub struct ReadsInFlight(Arc<Semaphore>);

impl ReadsInFlight {
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max)))
    }

    /// A place for one more read, held until dropped; none when full.
    pub fn try_enter(&self) -> Option<OwnedSemaphorePermit> {
        self.0.clone().try_acquire_owned().ok()
    }
}
