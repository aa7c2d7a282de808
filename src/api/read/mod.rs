//! Reading figures: the read API and the bound on reads in progress. Read
//! keys only; a key sees its own project.

pub mod capacity;
pub mod figures;
pub mod in_flight;
pub mod online;
pub mod params;
pub mod segments;
