//! Evaluating a fit as a pharmacometrician does: shrinkage as NONMEM reports it, tables
//! that R and xpose read, visual predictive checks (VPC, pcVPC, with below-LLOQ data) and
//! normalised prediction distribution errors (NPDE) from data sets simulated with the fit ([`FittedModel`](crate::nlme::FittedModel)).

mod normality;
mod npde;
mod shrinkage;
mod tables;
mod vpc;

pub use normality::{ShapiroWilk, shapiro_wilk};
pub use npde::{Npde, NpdeOptions, NpdeRow, NpdeSummary, npde, summarize};
pub use shrinkage::{epsilon_shrinkage_sd, eta_shrinkage_sd, eta_shrinkage_var};
pub use tables::{write_patab, write_sdtab};
pub use vpc::{Binning, SimulatedInterval, Vpc, VpcBin, VpcOptions, VpcPercentile, vpc};
