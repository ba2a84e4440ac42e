//! NCA of the CAR-T trial's endpoints: the transgene exposure and the B-cell nadir,
//! depletion, reappearance and naive share.

use super::{B_CELLS, NAIVE_B, NAIVE_PCT, TRANSGENE};
use crate::data::{Observation, Subject};
use crate::error::{Error, Result};
use crate::nca::{ExposureNca, NcaOptions, below_lloq, exposure_nca};
use crate::summary::Reported;

/// Transgene NCA (days; copies/µg; copies/µg·d) from the `transgene` observations, by the
/// conventions of the [models](crate::models#nca-conventions-for-car-t) docs: AUC from
/// infusion (day 0) to `auc_end` (28 for AUC0–28d) by linear-up/log-down trapezoids,
/// below-LLOQ values 0 before the first quantified one and left out after it.
///
/// # Errors
/// [`Error::NoObservations`] without `transgene` observations; `Ok(None)` when none is
/// quantified.
///
/// ```
/// use cart_pkpd::{cart::transgene_nca, Subject};
/// let s = Subject::builder("1")
///     .observe_censored(0.0, "transgene", 5.0)
///     .observe(7.0, "transgene", 700.0)
///     .observe(28.0, "transgene", 87.5)
///     .build()?;
/// let nca = transgene_nca(&s, 28.0)?.unwrap();
/// assert_eq!((nca.cmax, nca.tmax, nca.tlast), (700.0, 7.0, 28.0));
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
pub fn transgene_nca(subject: &Subject, auc_end: f64) -> Result<Option<ExposureNca>> {
    exposure_nca(subject, TRANSGENE, &NcaOptions::auc_to(auc_end))
}

/// B-cell NCA of one subject (days; cells/µL; %).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BCellNca {
    /// Subject identifier.
    pub subject: String,
    /// Lowest B-cell count: below the LLOQ if any value was.
    pub nadir: Reported,
    /// Time of the nadir (first time it is seen).
    pub nadir_day: f64,
    /// Day of depletion: the first value below the LLOQ.
    pub depletion_day: Option<f64>,
    /// Day of reappearance: the first value at or above the LLOQ after depletion.
    pub reappearance_day: Option<f64>,
    /// Naive B cells as % of B cells at reappearance.
    pub naive_pct_at_reappearance: Option<f64>,
    /// Naive B cells as % of B cells at the month-6 visit.
    pub naive_pct_month6: Option<f64>,
}

/// Naive % at time `t`: a `naive_pct` observation if there is one, else
/// `100 · naive_b / b_cells` from quantified counts; `None` while B cells are below LLOQ.
fn naive_pct_at(subject: &Subject, t: f64) -> Option<f64> {
    let at = |analyte: &str| {
        subject
            .observations()
            .iter()
            .find(|o| o.analyte == analyte && o.time == t && !o.mdv)
    };
    let b = at(B_CELLS).filter(|o| !below_lloq(o))?;
    if let Some(p) = at(NAIVE_PCT) {
        return Some(p.value);
    }
    let n = at(NAIVE_B).filter(|o| !below_lloq(o))?;
    Some(100.0 * n.value / b.value)
}

/// B-cell NCA from observed `b_cells` (and `naive_b` or `naive_pct`) data: nadir, day of
/// depletion and of reappearance (the [models](crate::models#nca-conventions-for-car-t) definitions, each value against its own LLOQ),
/// and naive % at reappearance and at the `month6_day` visit
/// ([`MONTH6_DAY`](super::MONTH6_DAY) in the trial schedule).
///
/// # Errors
/// [`Error::NoObservations`] without `b_cells` observations.
///
/// ```
/// use cart_pkpd::{cart::b_cell_nca, summary::Reported, Subject};
/// let s = Subject::builder("1")
///     .observe_with_lloq(0.0, "b_cells", 120.0, 1.0)
///     .observe_censored(14.0, "b_cells", 1.0)
///     .observe_with_lloq(90.0, "b_cells", 4.0, 1.0)
///     .observe_with_lloq(90.0, "naive_b", 3.8, 1.0)
///     .build()?;
/// let nca = b_cell_nca(&s, 180.0)?;
/// assert_eq!(nca.nadir, Reported::BelowLloq);
/// assert_eq!((nca.depletion_day, nca.reappearance_day), (Some(14.0), Some(90.0)));
/// assert!((nca.naive_pct_at_reappearance.unwrap() - 95.0).abs() < 1e-12);
/// assert_eq!(nca.naive_pct_month6, None);   // no day-180 visit
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
pub fn b_cell_nca(subject: &Subject, month6_day: f64) -> Result<BCellNca> {
    let obs: Vec<&Observation> = subject.observations_of(B_CELLS).collect();
    if obs.is_empty() {
        return Err(Error::NoObservations {
            subject: subject.id().to_owned(),
            analyte: B_CELLS.into(),
        });
    }
    let depletion = obs.iter().find(|o| below_lloq(o)).map(|o| o.time);
    let reappearance = depletion.and_then(|d| {
        obs.iter()
            .find(|o| o.time > d && !below_lloq(o))
            .map(|o| o.time)
    });
    let (nadir, nadir_day) = match depletion {
        Some(d) => (Reported::BelowLloq, d),
        None => {
            let lowest = obs
                .iter()
                .min_by(|a, b| a.value.total_cmp(&b.value))
                .expect("not empty");
            (Reported::Value(lowest.value), lowest.time)
        }
    };
    Ok(BCellNca {
        subject: subject.id().to_owned(),
        nadir,
        nadir_day,
        depletion_day: depletion,
        reappearance_day: reappearance,
        naive_pct_at_reappearance: reappearance.and_then(|t| naive_pct_at(subject, t)),
        naive_pct_month6: naive_pct_at(subject, month6_day),
    })
}
