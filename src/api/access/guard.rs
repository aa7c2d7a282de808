//! Slows key guessing and login floods, per client address.
//!
//! A request that presents a credential (a bearer key, a dashboard session,
//! a login form) from an address that has failed too often is refused with
//! 429 before any key is looked at (`crate::api::middleware`); otherwise a
//! handler that finds the credential unknown marks its answer with
//! `AuthFailed`, and that failure takes a token from the address's bucket
//! (governor, keyed by IP). Successes cost nothing, so a busy but honest
//! client is never slowed — but for dashboard logins, each of which starts
//! a session: they take a token from a bucket of the address too.
//!
//! Memory stays bounded however many addresses come: what the guard holds
//! per address is swept of the expired every [`SWEEP_EVERY`], and past
//! [`MAX_ADDRESSES`] addresses a bucket set starts afresh (forgetting
//! counts is the lesser harm than growing without bound).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::api::error::ApiError;

/// How often the expired state of addresses is swept.
const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// Addresses each part of the guard remembers at most (each well under
/// 100 bytes).
pub const MAX_ADDRESSES: usize = 100_000;

#[derive(Debug)]
pub struct AuthGuard {
    failures: AddressBuckets,
    logins: AddressBuckets,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    swept_at: Mutex<Instant>,
}

/// A token bucket per address.
#[derive(Debug)]
struct AddressBuckets {
    quota: Quota,
    /// Replaced whole when too many addresses are in it.
    buckets: RwLock<DefaultKeyedRateLimiter<IpAddr>>,
}

impl AddressBuckets {
    fn new(burst: u32, per_minute: u32) -> Self {
        let positive = |n: u32| NonZeroU32::new(n.max(1)).expect("positive");
        let quota = Quota::per_minute(positive(per_minute)).allow_burst(positive(burst));
        Self {
            quota,
            buckets: RwLock::new(RateLimiter::keyed(quota)),
        }
    }

    /// Takes a token of `ip`'s bucket, or says how long until there is one.
    fn take(&self, ip: IpAddr) -> Result<(), Duration> {
        let checked = self.buckets.read().expect("guard lock").check_key(&ip);
        checked.map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    fn len(&self) -> usize {
        self.buckets.read().expect("guard lock").len()
    }

    fn sweep(&self, what: &str) {
        let mut buckets = self.buckets.write().expect("guard lock");
        buckets.retain_recent();
        if buckets.len() >= MAX_ADDRESSES {
            tracing::warn!(
                addresses = MAX_ADDRESSES,
                "{what} from very many addresses; forgetting their counts"
            );
            *buckets = RateLimiter::keyed(self.quota);
        }
        buckets.shrink_to_fit();
    }
}

impl AuthGuard {
    /// Failed keys: `burst` at once, `per_minute` after; logins: `logins`
    /// (burst, per minute).
    pub fn new(burst: u32, per_minute: u32, logins: (u32, u32)) -> Self {
        Self {
            failures: AddressBuckets::new(burst, per_minute),
            logins: AddressBuckets::new(logins.0, logins.1),
            blocked: Mutex::new(HashMap::new()),
            swept_at: Mutex::new(Instant::now()),
        }
    }

    /// Addresses the guard holds state for (failure counts, logins, blocks).
    pub fn addresses(&self) -> usize {
        self.failures.len() + self.logins.len() + self.blocked.lock().expect("guard lock").len()
    }

    /// Drops what has expired, on a cadence or when too much is held.
    fn sweep(&self) {
        let now = Instant::now();
        {
            let mut swept_at = self.swept_at.lock().expect("guard lock");
            let full = self.failures.len().max(self.logins.len()) >= MAX_ADDRESSES;
            if now.duration_since(*swept_at) < SWEEP_EVERY && !full {
                return;
            }
            *swept_at = now;
        }
        self.failures.sweep("unknown keys");
        self.logins.sweep("logins");
        make_room(&mut self.blocked.lock().expect("guard lock"), now);
    }

    /// How long `ip` must still wait, if it is blocked.
    pub fn blocked_for(&self, ip: IpAddr) -> Option<Duration> {
        let blocked = self.blocked.lock().expect("guard lock");
        let until = *blocked.get(&ip)?;
        until.checked_duration_since(Instant::now())
    }

    /// Counts one failure of `ip`; past its bucket, blocks it until the
    /// bucket has a token again.
    pub fn failed(&self, ip: IpAddr) {
        self.sweep();
        let Err(wait) = self.failures.take(ip) else {
            tracing::debug!(%ip, "a request with an unknown key");
            return;
        };
        let mut blocked = self.blocked.lock().expect("guard lock");
        if blocked.len() >= MAX_ADDRESSES {
            make_room(&mut blocked, Instant::now());
        }
        // Logged once per block, not per attempt: a guessing client must
        // not be able to flood the log either.
        tracing::warn!(%ip, wait_s = wait.as_secs(), "too many unknown keys from this address; refusing its credentials for a while");
        blocked.insert(ip, Instant::now() + wait);
    }

    /// Counts one dashboard login of `ip`: 429 past its bucket.
    pub fn logged_in(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.sweep();
        self.logins.take(ip).map_err(|wait| ApiError::RateLimited {
            retry_after_s: wait.as_secs_f64().ceil().max(1.0) as u64,
        })
    }
}

/// Drops the blocks that have ended and, past [`MAX_ADDRESSES`], those
/// that end soonest.
fn make_room(blocked: &mut HashMap<IpAddr, Instant>, now: Instant) {
    blocked.retain(|_, until| *until > now);
    if blocked.len() >= MAX_ADDRESSES {
        // Keep the later-ending half: room for many more at one sweep.
        let mut ends: Vec<Instant> = blocked.values().copied().collect();
        let dropped = blocked.len() - MAX_ADDRESSES / 2;
        let cut = *ends.select_nth_unstable(dropped).1;
        blocked.retain(|_, until| *until > cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_from_one_address_are_limited_and_others_are_not() {
        let guard = AuthGuard::new(3, 1, (60, 1));
        let (a, b) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        for _ in 0..60 {
            guard.logged_in(a).unwrap();
        }
        assert!(matches!(
            guard.logged_in(a),
            Err(ApiError::RateLimited { retry_after_s: 60 })
        ));
        guard.logged_in(b).unwrap();
    }

    #[test]
    fn an_address_is_blocked_past_its_burst_and_others_are_not() {
        let guard = AuthGuard::new(3, 1, (60, 60));
        let (a, b) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        for _ in 0..3 {
            guard.failed(a);
            assert_eq!(guard.blocked_for(a), None);
        }
        guard.failed(a);
        let wait = guard.blocked_for(a).expect("blocked after the burst");
        assert!(
            wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert_eq!(guard.blocked_for(b), None);
    }

    #[test]
    fn one_bad_key_from_each_of_very_many_addresses_holds_bounded_memory() {
        let guard = AuthGuard::new(1, 1, (60, 60));
        for i in 0..(3 * MAX_ADDRESSES as u32) {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            guard.failed(ip.into());
            // Every other address fails twice: blocked.
            if i % 2 == 0 {
                guard.failed(ip.into());
            }
        }
        assert!(
            guard.addresses() <= 2 * MAX_ADDRESSES,
            "{} addresses held",
            guard.addresses()
        );
    }
}
