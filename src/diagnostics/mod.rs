//! Evaluating a fit as a pharmacometrician does: shrinkage as NONMEM reports it, tables
//! that R and xpose read, and simulation from the fitted model.

mod shrinkage;
mod tables;

pub use shrinkage::{epsilon_shrinkage_sd, eta_shrinkage_sd, eta_shrinkage_var};
pub use tables::{write_patab, write_sdtab};
