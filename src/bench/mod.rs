//! Benchmark helpers: realistic events, and posting them with timings.

pub mod events;
pub mod post;
