//! The built-in models, as specified in the project's `MODEL.md`.
//!
//! - [`CellularKinetics`] (model 1): piecewise expansion, contraction and persistence of
//!   CAR-T transgene (Stein 2019, optional lag), with closed form and ODE form.
//! - [`CarTBCell`] (model 2): CAR-T kinetics coupled to CD19+ B-cell depletion and naive-first
//!   repopulation through a marrow precursor pool and maturation transit.
//! - [`pk`]: the standard 1-, 2- and 3-compartment PK models (IV and first-order
//!   absorption), solved exactly.

pub mod cart_bcell;
pub mod cellular_kinetics;
pub mod pk;

pub use cart_bcell::{BCellBaseline, CarTBCell, CarTBCellParams};
pub use cellular_kinetics::{CellularKinetics, CellularKineticsParams};
