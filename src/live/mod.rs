//! What is happening now, as opposed to the figures of finished days:
//! who is online at the current second (`online`, cached per second by
//! `online_cache`).

pub mod online;
pub mod online_cache;
