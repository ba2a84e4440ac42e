//! What is specific to the CAR-T trial the crate reproduces, kept out of the generic
//! modules: the analyte names of the built-in models, the trial's visit schedule and
//! design, the transgene and B-cell NCA endpoints, and the B-cell phenotype composition.
//!
//! ```
//! use cart_pkpd::cart;
//! assert_eq!(cart::TRIAL_B_CELL_DAYS[cart::TRIAL_B_CELL_DAYS.len() - 1], 365.0);
//! assert!(cart::ANALYTES.contains(&cart::TRANSGENE));
//! ```

mod composition;
mod design;
mod figure;
#[cfg(feature = "plots")]
mod figure_svg;
mod nca;

pub use composition::{Composition, observed_composition, simulated_composition};
pub use design::{
    MONTH6_DAY, TRIAL_B_CELL_DAYS, TRIAL_TRANSGENE_DAYS, b_cell_phenotypes, bms986353_sle_design,
    trial_design,
};
pub use figure::{AnalyteProfiles, DoseLevelFigure, Figure2, VisitCount};
pub use nca::{BCellNca, b_cell_nca, transgene_nca};

use crate::data::CsvOptions;

/// CAR-T transgene (copies/µg genomic DNA, ddPCR).
pub const TRANSGENE: &str = "transgene";
/// CD19+ B cells (cells/µL, flow cytometry).
pub const B_CELLS: &str = "b_cells";
/// Naive B cells (cells/µL).
pub const NAIVE_B: &str = "naive_b";
/// Memory B cells (cells/µL).
pub const MEMORY_B: &str = "memory_b";
/// Double-negative B cells (cells/µL).
pub const DN_B: &str = "dn_b";
/// Naive share of B cells (%).
pub const NAIVE_PCT: &str = "naive_pct";
/// Memory share of B cells (%).
pub const MEMORY_PCT: &str = "memory_pct";
/// Double-negative share of B cells (%).
pub const DN_PCT: &str = "dn_pct";

/// Every analyte of the built-in CAR-T models and the trial's data.
pub const ANALYTES: &[&str] = &[
    TRANSGENE, B_CELLS, NAIVE_B, MEMORY_B, DN_B, NAIVE_PCT, MEMORY_PCT, DN_PCT,
];

/// CSV options that accept exactly the CAR-T [`ANALYTES`] (a misspelt analyte is an error).
///
/// ```
/// let opts = cart_pkpd::cart::csv_options();
/// assert_eq!(opts.known_analytes.unwrap().len(), 8);
/// ```
pub fn csv_options() -> CsvOptions {
    CsvOptions::default().analytes(ANALYTES)
}
