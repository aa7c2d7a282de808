//! Dashboards: a TOML file names panels ([`spec`]); their data comes from
//! the stored figures ([`load`]); they become files ([`report`]) or the
//! live page `serve` shows.

pub mod load;
pub mod page;
pub mod report;
pub mod spec;
