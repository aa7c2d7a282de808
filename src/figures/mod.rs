//! What highwater reports, as the read API, the CLI and the pages show it
//! (docs/design.md §3): `daily` (a day's figures, the concurrency curve,
//! the records), `segments` (the same per value of a dimension), `online`
//! (who is online at one second).

pub(crate) mod daily;
#[cfg(test)]
pub(crate) mod in_memory;
pub(crate) mod online;
pub(crate) mod segments;
pub(crate) mod source;
