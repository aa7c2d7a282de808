//! Bounds on ingest work in progress: how many requests, and how many bytes
//! they hold in memory together. Bytes are charged as they come to exist —
//! body bytes as they arrive, decompressed bytes as they inflate, a parsed
//! batch at the most it can take — never from what a client announces, so
//! a request that has sent nothing holds (almost) nothing. A request that
//! would pass a bound is turned away at once with 503 and `Retry-After`
//! rather than queued, so memory stays bounded whatever the clients do.
//!
//! Bodies whose key is inside them (PostHog's) are *keyless* until it is
//! read: they may hold at most half of the requests and bytes, and one
//! client address at most `max_keyless_bytes_per_address` of body bytes
//! (429 beyond), so that clients without a key cannot take the room of
//! those with one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::api::error::ApiError;
use crate::config::IngestSettings;
use crate::domain::event::Event;
use crate::domain::raw_event::RawEvent;

/// An upper bound of the memory parsing and encoding `body_len` bytes take:
/// an event costs at least two bytes of JSON (`1,`); each holds a parsed
/// event of `parsed_event` bytes, then an [`Event`], then a row: its strings
/// (no longer than in the JSON) plus the project name (≤ 64 bytes) and fixed
/// columns; strings unescaped into copies take at most the body's size.
pub fn parsing_bytes(body_len: usize, max_events: usize, parsed_event: usize) -> usize {
    const ROW_OVERHEAD: usize = 64 + 32;
    let events = (body_len / 2 + 1).min(max_events);
    let per_event = parsed_event + std::mem::size_of::<Event>() + ROW_OVERHEAD;
    events * per_event + 2 * body_len
}

/// The largest in-memory form a parse may take: see [`parsing_bytes`] (the
/// largest parsed event of any route is a [`RawEvent`] and a PostHog event).
pub fn largest_parse_bytes(settings: &IngestSettings) -> usize {
    let parsed_event = std::mem::size_of::<RawEvent>()
        + std::mem::size_of::<crate::api::posthog::events::PostHogEvent>();
    parsing_bytes(
        settings.max_decompressed_bytes,
        settings.max_events_per_batch,
        parsed_event,
    )
    .max(settings.max_parsed_bytes)
}

/// What the largest request the limits allow may hold at once: its body,
/// decoded (base64, a form), decompressed, and parsed.
pub fn largest_request_bytes(settings: &IngestSettings) -> usize {
    2 * settings.max_body_bytes + settings.max_decompressed_bytes + largest_parse_bytes(settings)
}

#[derive(Debug, Clone)]
pub struct Admission {
    requests: Arc<Semaphore>,
    max_requests: usize,
    bytes: Arc<Semaphore>,
    keyless: Arc<KeylessShare>,
}

/// What keyless requests may hold.
#[derive(Debug)]
struct KeylessShare {
    requests: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    per_address_limit: usize,
}

/// Held for the life of an admitted request; releases on drop.
#[derive(Debug)]
pub struct Admitted {
    bytes: Arc<Semaphore>,
    permits: Vec<OwnedSemaphorePermit>,
    /// Bytes charged so far.
    charged: usize,
    keyless: Option<KeylessHold>,
}

/// A keyless request's share: its body bytes, charged to its address.
#[derive(Debug)]
struct KeylessHold {
    share: Arc<KeylessShare>,
    address: IpAddr,
    bytes: usize,
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
             allowed by max_body_bytes, max_decompressed_bytes, max_parsed_bytes and \
             max_events_per_batch may hold",
            settings.max_in_flight_bytes
        );
        anyhow::ensure!(
            settings.max_keyless_bytes_per_address >= settings.max_body_bytes,
            "ingest.max_keyless_bytes_per_address = {} is below max_body_bytes = {}: the \
             largest PostHog body could never be read",
            settings.max_keyless_bytes_per_address,
            settings.max_body_bytes
        );
        let bytes_permits = settings.max_in_flight_bytes.min(Semaphore::MAX_PERMITS);
        Ok(Self {
            requests: Arc::new(Semaphore::new(settings.max_in_flight_requests)),
            max_requests: settings.max_in_flight_requests,
            bytes: Arc::new(Semaphore::new(bytes_permits)),
            keyless: Arc::new(KeylessShare {
                requests: Arc::new(Semaphore::new(settings.max_in_flight_requests.div_ceil(2))),
                bytes: Arc::new(Semaphore::new(bytes_permits / 2)),
                per_address: Mutex::new(HashMap::new()),
                per_address_limit: settings.max_keyless_bytes_per_address,
            }),
        })
    }

    /// Ingest requests admitted and not yet finished (shown by `/readyz`).
    pub fn requests_in_flight(&self) -> usize {
        self.max_requests - self.requests.available_permits()
    }

    /// Admits a request whose key is known; it holds no bytes yet.
    pub fn admit(&self) -> Result<Admitted, ApiError> {
        let request = self
            .requests
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Busy)?;
        Ok(Admitted {
            bytes: self.bytes.clone(),
            permits: vec![request],
            charged: 0,
            keyless: None,
        })
    }

    /// Admits a request from `address` whose key is in its body.
    pub fn admit_keyless(&self, address: IpAddr) -> Result<Admitted, ApiError> {
        let share = &self.keyless;
        let slot = share
            .requests
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Busy)?;
        let mut admitted = self.admit()?;
        admitted.keyless = Some(KeylessHold {
            share: share.clone(),
            address,
            bytes: 0,
            permits: vec![slot],
        });
        Ok(admitted)
    }
}

impl Admitted {
    /// The request now holds `more` bytes besides.
    pub fn grow(&mut self, more: usize) -> Result<(), ApiError> {
        if more == 0 {
            return Ok(());
        }
        let permits = u32::try_from(more).map_err(|_| ApiError::Busy)?;
        let permit = self
            .bytes
            .clone()
            .try_acquire_many_owned(permits)
            .map_err(|_| ApiError::Busy)?;
        self.permits.push(permit);
        self.charged += more;
        Ok(())
    }

    /// The request now holds at least `total` bytes in all.
    pub fn grow_to(&mut self, total: usize) -> Result<(), ApiError> {
        self.grow(total.saturating_sub(self.charged))
    }

    /// `more` body bytes arrived: charged to the request and, while its key
    /// is unknown, to its address and the keyless share.
    pub fn body_grew(&mut self, more: usize) -> Result<(), ApiError> {
        if let Some(hold) = &mut self.keyless {
            hold.grow(more)?;
        }
        self.grow(more)
    }

    /// The key in the body is known and valid: the request stops counting
    /// as keyless.
    pub fn authenticated(&mut self) {
        self.keyless = None;
    }
}

#[cfg(test)]
impl Admitted {
    /// Bytes charged so far.
    pub fn charged(&self) -> usize {
        self.charged
    }

    /// An admission with room to spare, for unit tests of decoding.
    pub fn unlimited() -> Self {
        Self {
            bytes: Arc::new(Semaphore::new(Semaphore::MAX_PERMITS)),
            permits: Vec::new(),
            charged: 0,
            keyless: None,
        }
    }
}

impl KeylessHold {
    fn grow(&mut self, more: usize) -> Result<(), ApiError> {
        let share = &self.share;
        {
            let mut per_address = share.per_address.lock().expect("keyless lock");
            let held = per_address.entry(self.address).or_default();
            if *held + more > share.per_address_limit {
                return Err(ApiError::AddressBusy {
                    limit: share.per_address_limit,
                });
            }
            *held += more;
        }
        // Counted for the address first: dropping the hold uncounts it.
        self.bytes += more;
        let permits = u32::try_from(more).map_err(|_| ApiError::Busy)?;
        let permit = share
            .bytes
            .clone()
            .try_acquire_many_owned(permits)
            .map_err(|_| ApiError::Busy)?;
        self.permits.push(permit);
        Ok(())
    }
}

impl Drop for KeylessHold {
    fn drop(&mut self) {
        let mut per_address = self.share.per_address.lock().expect("keyless lock");
        if let Some(held) = per_address.get_mut(&self.address) {
            *held = held.saturating_sub(self.bytes);
            if *held == 0 {
                per_address.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> IngestSettings {
        IngestSettings {
            max_in_flight_requests: 8,
            max_in_flight_bytes: 4000,
            max_body_bytes: 100,
            max_decompressed_bytes: 100,
            max_parsed_bytes: 100,
            max_events_per_batch: 1,
            max_keyless_bytes_per_address: 1500,
            ..IngestSettings::default()
        }
    }

    #[test]
    fn requests_and_bytes_are_bounded_and_released() {
        let settings = IngestSettings {
            max_in_flight_requests: 2,
            ..settings()
        };
        assert!(largest_request_bytes(&settings) <= 4000);
        let admission = Admission::new(&settings).unwrap();
        let mut first = admission.admit().unwrap();
        first.grow(2600).unwrap();
        let mut second = admission.admit().unwrap();
        assert!(matches!(second.grow(1500), Err(ApiError::Busy)));
        second.grow(1200).unwrap();
        assert!(second.grow_to(1400).is_ok(), "grows by 200 to 1400");
        assert!(second.grow_to(1401).is_err());
        // Two requests are in: a third is refused even with bytes to spare.
        assert!(matches!(admission.admit(), Err(ApiError::Busy)));
        drop(first);
        let _third = admission.admit().unwrap();
    }

    #[test]
    fn a_request_that_sent_nothing_holds_no_bytes() {
        let admission = Admission::new(&settings()).unwrap();
        let idle: Vec<Admitted> = (0..7).map(|_| admission.admit().unwrap()).collect();
        let mut keyed = admission.admit().unwrap();
        keyed.grow(4000).expect("the whole budget is free");
        drop(idle);
    }

    #[test]
    fn one_address_holds_at_most_its_keyless_bytes() {
        let admission = Admission::new(&settings()).unwrap();
        let (a, b) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let mut first = admission.admit_keyless(a).unwrap();
        first.body_grew(1000).unwrap();
        let mut second = admission.admit_keyless(a).unwrap();
        assert!(matches!(
            second.body_grew(1000),
            Err(ApiError::AddressBusy { limit: 1500 })
        ));
        // Another address has its own room (within the keyless half)...
        let mut other = admission.admit_keyless(b).unwrap();
        other.body_grew(1000).unwrap();
        assert!(
            matches!(other.body_grew(1), Err(ApiError::Busy)),
            "half of 4000"
        );
        // ...and once the key is read, the address's bytes are free again.
        first.authenticated();
        second.body_grew(1000).unwrap();
    }

    #[test]
    fn keyless_requests_take_at_most_half_the_requests() {
        let admission = Admission::new(&settings()).unwrap();
        let ip = [10, 0, 0, 1].into();
        let _held: Vec<Admitted> = (0..4)
            .map(|_| admission.admit_keyless(ip).unwrap())
            .collect();
        assert!(matches!(admission.admit_keyless(ip), Err(ApiError::Busy)));
        let _keyed: Vec<Admitted> = (0..4).map(|_| admission.admit().unwrap()).collect();
    }

    #[test]
    fn limits_that_could_never_admit_the_largest_request_are_refused() {
        let settings = IngestSettings {
            max_in_flight_bytes: 1 << 20,
            ..IngestSettings::default()
        };
        let error = Admission::new(&settings).unwrap_err().to_string();
        assert!(error.contains("max_in_flight_bytes = 1048576"), "{error}");
        let settings = IngestSettings {
            max_keyless_bytes_per_address: 1 << 20,
            ..IngestSettings::default()
        };
        let error = Admission::new(&settings).unwrap_err().to_string();
        assert!(error.contains("max_keyless_bytes_per_address"), "{error}");
        // The shipped defaults fit.
        Admission::new(&IngestSettings::default()).unwrap();
    }
}
