//! The server clock, injected so that tests can fix "now".

use std::sync::Arc;

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

#[derive(Debug)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that reads whatever it was last set to (tests, simulations).
#[derive(Debug)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn new(now_ms: i64) -> Self {
        Self(std::sync::atomic::AtomicI64::new(now_ms))
    }

    pub fn set(&self, now_ms: i64) {
        self.0.store(now_ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The system clock moved to start at `start_ms` (replaying a past day
/// at real speed: benchmarks, demos).
#[derive(Debug)]
pub struct ShiftedClock {
    offset_ms: i64,
}

impl ShiftedClock {
    pub fn starting_at(start_ms: i64) -> Self {
        Self {
            offset_ms: start_ms - SystemClock.now_ms(),
        }
    }
}

impl Clock for ShiftedClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.offset_ms
    }
}

pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}
