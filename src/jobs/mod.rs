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

pub(crate) mod actives;
pub(crate) mod compute_day;
pub(crate) mod concurrency;
pub(crate) mod day_accumulator;
pub mod rounds;
pub mod runner;
pub mod schedule;
pub(crate) mod segment_accumulator;
pub(crate) mod segment_deltas;
pub(crate) mod session_interval;
pub(crate) mod sessions;
pub mod slicing;
