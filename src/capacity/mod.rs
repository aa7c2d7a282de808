//! Capacity planning and growth: growth rates of the daily figures, a
//! forecast of the daily peak with its weekly rhythm, and the headroom of a
//! configured capacity (docs/design.md §2 figures in, decisions out).

pub(crate) mod forecast;
pub(crate) mod growth;
pub(crate) mod headroom;
pub(crate) mod horizon;
pub mod report;
