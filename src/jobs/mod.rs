//! The batch jobs that turn events into figures (docs/design.md §2).
//!
//! - [`session_interval`]: one session's interval and presence timeline.
//! - [`sessions`]: reading the sessions that may touch a day from ClickHouse.
//! - [`slicing`]: a day one slice of users at a time; how many slices.
//! - [`concurrency`]: per-second deltas, prefix sums, peaks.
//! - [`day_accumulator`]: every session-derived figure of a day, per user.
//! - [`segment_accumulator`], [`segment_deltas`]: the same per platform,
//!   country and organisation.
//! - [`actives`]: WAU / MAU from the DAU sets.
//! - [`compute_day`]: one day, computed and stored.
//! - [`runner`]: a range of days, in order (`jobs run`).
//! - [`rounds`]: what the full and the live rounds share: their base,
//!   builders and loop.
//! - [`schedule`]: the full rounds `serve` runs.

pub mod actives;
pub mod compute_day;
pub mod concurrency;
pub mod day_accumulator;
pub mod rounds;
pub mod runner;
pub mod schedule;
pub mod segment_accumulator;
pub mod segment_deltas;
pub mod session_interval;
pub mod sessions;
pub mod slicing;
