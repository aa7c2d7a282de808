//! What highwater reports, as the read API, the CLI and the pages show it
//! (docs/design.md §3): `daily` (a day's figures, the concurrency curve,
//! the records), `segments` (the same per value of a dimension), `online`
//! (who is online at one second).

pub mod daily;
#[cfg(test)]
pub mod in_memory;
pub mod online;
pub mod segments;
pub mod source;
