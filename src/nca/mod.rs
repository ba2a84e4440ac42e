//! Non-compartmental analysis (NCA) of CAR-T transgene and B-cell data.
//!
//! The conventions of the [models](crate::models#nca-conventions-for-car-t) docs: Cmax and
//! Tmax are the observed peak and its time; AUC0–28d runs from infusion to day 28 by
//! linear-up/log-down trapezoids; Tlast and Clast are the last time and level above the
//! LLOQ. For B cells: the nadir, the day of depletion (first value below the LLOQ), the
//! day of reappearance (first value at or above the LLOQ after depletion), and the naive
//! share of B cells at reappearance and at month 6.
//!
//! [`profile`] works on a profile given as times and values (observed or simulated);
//! [`transgene_nca`] and [`b_cell_nca`] work on a subject's observations, with below-LLOQ
//! values handled as stated on each. Summaries across subjects are in
//! [`summary`](crate::summary).

pub mod profile;
mod subject;

pub use profile::{Peak, auc_linear_up_log_down, depletion_time, peak, reappearance_time};
pub use subject::{BCellNca, TransgeneNca, b_cell_nca, transgene_nca};
