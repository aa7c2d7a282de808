//! Dashboards: a TOML file names panels ([`spec`]); their data comes from
//! the stored figures ([`load`]); they become files ([`report`]) or the
//! live page `serve` shows ([`page`], topped by [`live_summary`]).

pub(crate) mod live_summary;
pub mod load;
pub(crate) mod page;
pub mod report;
pub mod spec;
