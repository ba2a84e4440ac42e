//! # cart-pkpd
//!
//! Pharmacokinetic/pharmacodynamic modeling of CAR-T cell therapy: CAR-T expansion,
//! contraction and persistence (transgene copies/µg genomic DNA by ddPCR) and CD19+ B-cell
//! depletion and naive-first repopulation (cells/µL by flow cytometry), as seen with
//! CD19-directed CAR-T cells in systemic lupus erythematosus.
//!
//! - [`Model`]: the typed model API (named parameters with units and domains, named states
//!   and outputs, right-hand side, optional closed form), for built-in and user models;
//!   [`parameters!`], [`indices!`] and [`outputs!`] declare parameters (with typed
//!   [`ParamKey`]s) and named state and output indices.
//! - [`models`]: the built-in models, [`CellularKinetics`](models::CellularKinetics) (Stein
//!   2019) and [`CarTBCell`](models::CarTBCell) (CAR-T × B cells), and the standard
//!   1-, 2- and 3-compartment PK models ([`models::pk`], NONMEM ADVAN1–4, 11, 12).
//! - [`simulate()`], [`simulate_subject`], [`simulate_closed_form`]: outputs at given times
//!   or at a subject's records, for NONMEM [`Dose`] records (bolus, infusion, modelled
//!   rate or duration, `ADDL`/`II`, steady state, bioavailability and lag per
//!   compartment, resets), solved exactly for linear compartment models and by Dopri5
//!   (or DOP853) otherwise, or by the implicit RODASP for stiff models,
//!   chosen automatically
//!   ([`Integrator`]; [`simulate`](mod@simulate) module docs).
//! - [`nca`]: non-compartmental analysis (Cmax, Tmax, AUC by linear or
//!   linear-up/log-down trapezoids with a below-LLOQ rule, Clast, depletion and
//!   reappearance); [`summary`]: quantiles with BLQ handling.
//! - [`cart`]: the CAR-T trial's analytes, visit schedule and design, its NCA endpoints
//!   (transgene AUC0–28d, B-cell nadir and reappearance, naive share) and B-cell phenotype
//!   composition.
//! - [`fit`]: individual maximum-likelihood fits with argmin, residual [`ErrorModel`]s, M3
//!   censoring, standard errors and confidence intervals.
//! - [`nlme`]: population (nonlinear mixed-effects) estimation by FOCE-I and SAEM, and the
//!   marginal likelihood by quadrature and importance sampling.
//! - [`population`]: typical values, between-subject variability (full Ω), virtual
//!   cohorts simulated in parallel.
//! - [`synthetic`]: observed data simulated with residual error and LLOQ censoring.
//! - [`data`]: subjects and data sets, built in code or read from NONMEM-format CSV.
//!
//! # Data in NONMEM format
//!
//! [`Dataset::read_csv`] reads (details in [`data::csv_format`]):
//!
//! | column | meaning |
//! |---|---|
//! | `ID`, `TIME`, `DV` | subject, time (may be negative), observed value |
//! | `EVID` | 0 observation, 1 dose, 2 other-type, 3 reset, 4 reset and dose |
//! | `MDV` | 1 on an observation: predicted, not in the likelihood |
//! | `AMT`, `RATE` | dose amount; 0 bolus, > 0 rate, -1 modelled rate, -2 modelled duration |
//! | `ADDL`, `II`, `SS` | additional doses, interval, steady state (1 reset, 2 added) |
//! | `CMT` | dose compartment (state number or name); an observation's analyte |
//! | `ANALYTE`, `CENS`/`BLQ`, `LLOQ` | analyte name, below-LLOQ flag, its limit |
//! | any other | a covariate (number or text, may change over time) |
//!
//! Unimplemented NONMEM items (`PCMT`, `CALL`, `CONT`, `DATE`, …), `SS = 3` and negative
//! `ADDL` are errors naming the column.
//!
//! For the CAR-T models, time is in days from the CAR-T infusion (day 0) and doses are in
//! 10^6 CAR+ T cells; the PK models take any consistent units.
//!
//! ```
//! use cart_pkpd::{models::{CarTBCell, CarTBCellParams}, simulate, Dose, SolverOptions};
//!
//! let params = CarTBCellParams::default();
//! let days = [0.0, 7.0, 14.0, 28.0, 90.0, 180.0, 365.0];
//! let dl1 = simulate(&CarTBCell, &params, &[Dose::bolus(0.0, 10.0)], &days,
//!                    &SolverOptions::default())?;
//! let transgene = dl1.get("transgene")?;   // copies/µg genomic DNA
//! let b_cells = dl1.get("b_cells")?;       // cells/µL
//! assert!(transgene[1] > 1_000.0 && b_cells[2] < 1.0);
//! # Ok::<(), cart_pkpd::Error>(())
//! ```
#![warn(missing_docs)]

pub mod cart;
pub mod data;
pub mod diagnostics;
pub(crate) mod digits;
pub mod dose;
pub mod error;
pub mod error_model;
pub mod fit;
pub mod indices;
pub(crate) mod likelihood;
pub mod model;
pub mod models;
pub mod nca;
pub mod nlme;
pub mod normal;
pub(crate) mod optim;
pub mod params;
#[cfg(feature = "plots")]
pub mod plots;
pub mod population;
pub(crate) mod sampling;
pub mod simulate;
pub mod summary;
pub mod synthetic;

pub use data::{Dataset, Observation, Subject};
pub use dose::{Compartment, Dose, DoseRate, SteadyState};
pub use error::{DataErrorKind, DataLocation, Error, Result};
pub use error_model::ErrorModel;
pub use model::{CompartmentDosing, DoseInput, Model, OutputSpec};
pub use params::{Domain, ParamKey, ParamName, ParamSpec, Parameters};
pub use simulate::{
    Integrator, LinearCompartments, Sensitivity, SensitivityMethod, Simulation, SolutionMethod,
    SolverOptions, SolverStats, simulate, simulate_closed_form, simulate_sensitivities,
    simulate_subject, simulate_subject_with,
};

#[doc(hidden)]
pub use serde as __serde;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
