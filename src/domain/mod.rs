//! The bottom layer: events and their parsing (what a client may send and
//! what it means), and the calendar every other layer counts days with.

pub mod batch;
pub(crate) mod bounded_seq;
pub mod calendar;
pub(crate) mod day_window;
pub(crate) mod dimension;
pub mod event;
pub(crate) mod json_value;
pub(crate) mod raw_event;
pub(crate) mod skip;
pub mod validate;
