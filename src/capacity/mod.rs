//! Capacity planning and growth: growth rates of the daily figures, a
//! forecast of the daily peak with its weekly rhythm, and the headroom of a
//! configured capacity (docs/design.md §2 figures in, decisions out).

pub mod forecast;
pub mod growth;
pub mod headroom;
pub mod horizon;
pub mod report;
