//! What is happening now, as opposed to the figures of finished days:
//! the live rounds (`live_round`), which keep today's figures up to date
//! between full rounds from the events received since the last cut-off
//! (`live_day`, which keeps each user's sessions packed:
//! `packed_sessions`) and publish today's counts (`board`); and who is
//! online at the current second — from those counts when they are fresh, else
//! evaluated over the store (`online`); `online_cache` picks, and shares
//! one evaluation among the requests that arrive together.

pub mod board;
pub(crate) mod live_day;
pub mod live_round;
pub(crate) mod online;
pub(crate) mod online_cache;
mod packed_sessions;
pub mod stored_figures;
