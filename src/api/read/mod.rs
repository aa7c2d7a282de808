//! Reading figures: the read API and the bound on reads in progress. Read
//! keys only; a key sees its own project.

pub(crate) mod capacity;
pub(crate) mod figures;
pub(crate) mod in_flight;
pub(crate) mod online;
pub(crate) mod params;
pub(crate) mod segments;
