//! What is happening now, as opposed to the figures of finished days:
//! who is online at the current second — from today's counts of the latest
//! live round (`board`) when they are fresh, else evaluated over the store
//! (`online`); `online_cache` picks, and shares one evaluation among the
//! requests that arrive together.

pub mod board;
pub mod online;
pub mod online_cache;
