//! Non-compartmental analysis of one subject's observed data.

use super::profile::{auc_linear_up_log_down, peak};
use crate::data::{Observation, Subject};
use crate::error::{Error, Result};
use crate::summary::Reported;

/// Transgene NCA of one subject (times in days, levels in copies/µg).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TransgeneNca {
    /// Subject identifier.
    pub subject: String,
    /// Highest quantified level.
    pub cmax: f64,
    /// Its time (first time the highest level is seen).
    pub tmax: f64,
    /// AUC from infusion to `auc_end` (copies/µg·d); `None` when the subject was not
    /// observed up to then.
    pub auc: Option<f64>,
    /// End of the AUC interval (days; 28 for AUC0–28d).
    pub auc_end: f64,
    /// Last quantified level.
    pub clast: f64,
    /// Its time.
    pub tlast: f64,
}

fn below_lloq(o: &Observation) -> bool {
    o.censored || o.lloq.is_some_and(|l| o.value < l)
}

/// Transgene (or any PK analyte) NCA from observed data, [NCA conventions](crate::models#nca-conventions-for-car-t): Cmax and
/// Tmax the observed peak, Clast and Tlast the last quantified level, AUC from infusion
/// (day 0) to `auc_end` by linear-up/log-down trapezoids.
///
/// Below-LLOQ values: before the first quantified value they count as 0 (as does day 0
/// when there is no sample then: nothing has been infused before); after it they are left
/// out (the AUC interpolates across them). Returns `Ok(None)` when no value is quantified,
/// and [`Error::NoObservations`] when the subject has no observation of `analyte`.
///
/// ```
/// use cart_pkpd::{nca::transgene_nca, Subject};
/// let s = Subject::builder("1")
///     .observe_censored(0.0, "transgene", 5.0)
///     .observe(7.0, "transgene", 700.0)
///     .observe(14.0, "transgene", 350.0)
///     .observe(28.0, "transgene", 87.5)
///     .build()?;
/// let nca = transgene_nca(&s, "transgene", 28.0)?.unwrap();
/// assert_eq!((nca.cmax, nca.tmax, nca.tlast), (700.0, 7.0, 28.0));
/// // 0→700 linear over 7 d; then log-down: 350·7/ln 2 and 262.5·14/ln 4
/// let auc = 2450.0 + 350.0 * 7.0 / 2f64.ln() + 262.5 * 14.0 / 4f64.ln();
/// assert!((nca.auc.unwrap() - auc).abs() < 1e-9);
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
pub fn transgene_nca(
    subject: &Subject,
    analyte: &str,
    auc_end: f64,
) -> Result<Option<TransgeneNca>> {
    let obs: Vec<&Observation> = subject.observations_of(analyte).collect();
    if obs.is_empty() {
        return Err(Error::NoObservations {
            subject: subject.id().to_owned(),
            analyte: analyte.to_owned(),
        });
    }
    let Some(first_quantified) = obs.iter().position(|o| !below_lloq(o)) else {
        return Ok(None);
    };
    let (mut times, mut values) = (Vec::new(), Vec::new());
    if obs[0].time > 0.0 {
        times.push(0.0);
        values.push(0.0);
    }
    for (i, o) in obs.iter().enumerate() {
        if !below_lloq(o) {
            times.push(o.time);
            values.push(o.value);
        } else if i < first_quantified {
            times.push(o.time);
            values.push(0.0);
        }
    }
    let quantified: Vec<&&Observation> = obs.iter().filter(|o| !below_lloq(o)).collect();
    let qt: Vec<f64> = quantified.iter().map(|o| o.time).collect();
    let qv: Vec<f64> = quantified.iter().map(|o| o.value).collect();
    let p = peak(&qt, &qv)?;
    let last = quantified.last().expect("at least one quantified value");
    Ok(Some(TransgeneNca {
        subject: subject.id().to_owned(),
        cmax: p.cmax,
        tmax: p.tmax,
        auc: auc_linear_up_log_down(&times, &values, auc_end)?,
        auc_end,
        clast: last.value,
        tlast: last.time,
    }))
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
    let b = at("b_cells").filter(|o| !below_lloq(o))?;
    if let Some(p) = at("naive_pct") {
        return Some(p.value);
    }
    let n = at("naive_b").filter(|o| !below_lloq(o))?;
    Some(100.0 * n.value / b.value)
}

/// B-cell NCA from observed `b_cells` (and `naive_b` or `naive_pct`) data: nadir, day of
/// depletion and of reappearance (the [models](crate::models#nca-conventions-for-car-t) definitions, each value against its own LLOQ),
/// and naive % at reappearance and at the `month6_day` visit (180 in the trial schedule).
///
/// ```
/// use cart_pkpd::{nca::b_cell_nca, summary::Reported, Subject};
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
    let obs: Vec<&Observation> = subject.observations_of("b_cells").collect();
    if obs.is_empty() {
        return Err(Error::NoObservations {
            subject: subject.id().to_owned(),
            analyte: "b_cells".into(),
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
