//! Slows key guessing: failed keys are limited per client address.
//!
//! A request that presents a credential (a bearer key, a dashboard session,
//! a login form) from an address that has failed too often is refused with
//! 429 before any key is looked at (`crate::api::middleware`); otherwise a
//! handler that finds the credential unknown marks its answer with
//! `AuthFailed`, and that failure takes a token from the address's bucket
//! (governor, keyed by IP). Successes cost nothing, so a busy but honest
//! client is never slowed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Addresses remembered as blocked before the expired ones are swept.
const SWEEP_AT: usize = 10_000;

#[derive(Debug)]
pub struct AuthGuard {
    failures: DefaultKeyedRateLimiter<IpAddr>,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

impl AuthGuard {
    pub fn new(burst: u32, per_minute: u32) -> Self {
        let positive = |n: u32| NonZeroU32::new(n.max(1)).expect("positive");
        let quota = Quota::per_minute(positive(per_minute)).allow_burst(positive(burst));
        Self {
            failures: RateLimiter::keyed(quota),
            blocked: Mutex::new(HashMap::new()),
        }
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
        let Err(not_until) = self.failures.check_key(&ip) else {
            tracing::debug!(%ip, "a request with an unknown key");
            return;
        };
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let mut blocked = self.blocked.lock().expect("guard lock");
        if blocked.len() >= SWEEP_AT {
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
            self.failures.retain_recent();
        }
        // Logged once per block, not per attempt: a guessing client must
        // not be able to flood the log either.
        tracing::warn!(%ip, wait_s = wait.as_secs(), "too many unknown keys from this address; refusing its credentials for a while");
        blocked.insert(ip, Instant::now() + wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_past_its_burst_and_others_are_not() {
        let guard = AuthGuard::new(3, 1);
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
}
