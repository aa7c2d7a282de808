//! Events and their parsing: what a client may send and what it means.

pub mod batch;
pub mod event;
pub mod figures;
pub mod json_value;
pub mod raw_event;
pub mod skip;
pub mod validate;
