//! The batch jobs that turn events into figures (DESIGN §2).
//!
//! - [`session`]: one session's interval and presence timeline.
//! - [`sessions`]: reading a day's sessions, per user, from ClickHouse.
//! - [`concurrency`]: per-second deltas, prefix sums, peaks.
//! - [`day_accumulator`]: every session-derived figure of a day.
//! - [`actives`]: DAU sets, WAU / MAU.
//! - [`compute_day`]: one day, computed and stored.
//! - [`runner`]: a range of days, in order.

pub mod actives;
pub mod compute_day;
pub mod concurrency;
pub mod day_accumulator;
pub mod day_window;
pub mod runner;
pub mod schedule;
pub mod session;
pub mod sessions;
