//! Benchmark helpers: realistic events, and request timing.
