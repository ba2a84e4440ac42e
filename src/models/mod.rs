//! The built-in models, and the facts about what they describe that the rest of the crate
//! relies on (units, below-LLOQ data, NCA conventions).
//!
//! - [`CellularKinetics`] (model 1): piecewise expansion, contraction and persistence of
//!   CAR-T transgene (Stein 2019, optional lag), with closed form and ODE form; equations
//!   in [`cellular_kinetics`].
//! - [`CarTBCell`] (model 2): CAR-T kinetics coupled to CD19+ B-cell depletion and naive-first
//!   repopulation through a marrow precursor pool and maturation transit; equations in
//!   [`cart_bcell`].
//! - [`pk`]: the standard 1-, 2- and 3-compartment PK models (IV and first-order
//!   absorption), solved exactly.
//!
//! Time in the CAR-T models is in days from the CAR-T infusion (day 0); doses are in
//! 10^6 CAR+ T cells.
//!
//! # Analytes and their units
//!
//! | analyte | what it is | unit | typical assay floor (LLOQ) |
//! |---|---|---|---|
//! | `transgene` | CAR transgene in peripheral blood, droplet digital PCR | copies/µg genomic DNA | per assay (often 5–50) |
//! | `b_cells` | CD19+ B cells in peripheral blood, flow cytometry | cells/µL | per assay (0.5–1 for high-sensitivity panels) |
//! | `naive_b`, `memory_b`, `dn_b` | B-cell phenotypes by IgD/CD27 quadrant: naive (incl. transitional, IgD+CD27−), memory (CD27+, switched and unswitched), double negative (IgD−CD27−) | cells/µL | as `b_cells` |
//! | `naive_pct`, `memory_pct`, `dn_pct` | the same as % of CD19+ B cells | % | undefined while B cells are below the LLOQ |
//!
//! # Below the limit of quantification
//!
//! An observation below its LLOQ is censored, neither missing nor LLOQ/2: by Beal's M3
//! method (Beal, J Pharmacokinet Pharmacodyn 2001) it contributes
//! `P(y < LLOQ) = Φ((LLOQ − f)/sd)` to the likelihood, on the log scale
//! `Φ((ln LLOQ − ln f)/σ)`. Dropping or imputing such data biases depletion and
//! repopulation estimates (Bergstrand and Karlsson, AAPS J 2009).
//!
//! # NCA conventions for CAR-T
//!
//! Cmax and Tmax are the observed peak and its time; AUC0–28d runs from the infusion to
//! day 28; Tlast and Clast are the last time and level above the LLOQ. The AUC uses
//! linear-up/log-down trapezoids (a log trapezoid where the level falls and the later
//! value is > 0, a linear one otherwise). For B cells, the day of depletion is the first
//! value below the LLOQ and the day of reappearance the first value at or above it after
//! depletion.

pub mod cart_bcell;
pub mod cellular_kinetics;
pub mod pk;

pub use cart_bcell::{BCellBaseline, CarTBCell, CarTBCellKeys, CarTBCellParams};
pub use cellular_kinetics::{CellularKinetics, CellularKineticsKeys, CellularKineticsParams};
