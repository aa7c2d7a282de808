//! The bottom layer: events and their parsing (what a client may send and
//! what it means), and the calendar every other layer counts days with.

pub mod batch;
pub mod bounded_seq;
pub mod calendar;
pub mod day_window;
pub mod dimension;
pub mod event;
pub mod json_value;
pub mod raw_event;
pub mod skip;
pub mod validate;
