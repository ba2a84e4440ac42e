//! Non-compartmental analysis (NCA) of a subject's observed data or of any profile given
//! as times and values.
//!
//! Cmax and Tmax are the observed peak and its time; Tlast and Clast the last time and
//! level above the LLOQ; the AUC runs from the dose at time 0 to a chosen end by linear or
//! linear-up/log-down trapezoids ([`AucMethod`]), with below-LLOQ values placed by a
//! [`BlqRule`]. For a depleted biomarker: the day of depletion (first value below the LLOQ)
//! and of reappearance (first value at or above it after depletion).
//!
//! [`profile`] works on a profile given as times and values (observed or simulated);
//! [`exposure_nca`] on a subject's observations of one analyte. The CAR-T analyses (the
//! transgene NCA, the B-cell nadir, depletion, reappearance and naive share) are in
//! [`cart`](crate::cart); summaries across subjects in [`summary`](crate::summary).

pub mod profile;
mod subject;

pub use profile::{
    AucMethod, Peak, auc, auc_linear_up_log_down, depletion_time, peak, reappearance_time,
};
pub(crate) use subject::below_lloq;
pub use subject::{BlqRule, ExposureNca, NcaOptions, exposure_nca};
