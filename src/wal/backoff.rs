//! How long the shipper waits before trying again: an exponential bound
//! with jitter, so that many servers coming back do not retry in step.

use std::time::Duration;

/// First retry delay; doubled per failure up to the cap.
pub const FIRST_RETRY: Duration = Duration::from_millis(100);

/// Delay before retry `failures` (1-based): between half and all of an
/// exponential bound ("equal jitter": never much shorter than the bound, so
/// a struggling server is not hit early, yet spread out).
pub fn backoff(failures: u32, cap: Duration) -> Duration {
    let bound = FIRST_RETRY.saturating_mul(1 << failures.min(16)).min(cap);
    bound.mul_f64(rand::random_range(0.5..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

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
