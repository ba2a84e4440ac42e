//! Non-compartmental analysis of one subject's observed data for one analyte.

use super::profile::{AucMethod, auc, peak};
use crate::data::{Observation, Subject};
use crate::error::{Error, Result};

/// How values below the LLOQ enter the AUC of a subject's profile (Cmax, Tmax, Clast and
/// Tlast always come from quantified values).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BlqRule {
    /// Before the first quantified value they count as 0; after it they are left out (the
    /// AUC interpolates across them). The usual NCA convention (and PKNCA's default for
    /// leading and embedded values). The default.
    #[default]
    ZeroThenExclude,
    /// Every one counts as 0.
    Zero,
    /// Every one counts as half its LLOQ.
    HalfLloq,
    /// Every one is left out.
    Exclude,
}

/// Settings of [`exposure_nca`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NcaOptions {
    /// End of the AUC interval (time unit of the data; 28 for AUC0–28d in days).
    pub auc_end: f64,
    /// Trapezoid rule of the AUC.
    pub auc_method: AucMethod,
    /// Treatment of below-LLOQ values in the AUC.
    pub blq: BlqRule,
}

impl NcaOptions {
    /// AUC from 0 to `auc_end`, linear-up/log-down, [`BlqRule::ZeroThenExclude`].
    pub fn auc_to(auc_end: f64) -> Self {
        NcaOptions {
            auc_end,
            auc_method: AucMethod::LinearUpLogDown,
            blq: BlqRule::ZeroThenExclude,
        }
    }
}

/// Exposure NCA of one subject for one analyte (units of the data).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExposureNca {
    /// Subject identifier.
    pub subject: String,
    /// Highest quantified level.
    pub cmax: f64,
    /// Its time (first time the highest level is seen).
    pub tmax: f64,
    /// AUC from 0 to `auc_end` (level·time); `None` when the subject was not observed up to
    /// then.
    pub auc: Option<f64>,
    /// End of the AUC interval.
    pub auc_end: f64,
    /// Last quantified level.
    pub clast: f64,
    /// Its time.
    pub tlast: f64,
}

/// Whether an observation is below its LLOQ (flagged censored, or a value under the LLOQ).
pub(crate) fn below_lloq(o: &Observation) -> bool {
    o.censored || o.lloq.is_some_and(|l| o.value < l)
}

/// The profile the AUC integrates: a dose at time 0 is assumed (the level before any
/// sample is 0, so a profile whose first sample is later starts from `(0, 0)`), and
/// below-LLOQ values are placed by `rule`.
fn auc_profile(
    obs: &[&Observation],
    first_quantified: usize,
    rule: BlqRule,
) -> (Vec<f64>, Vec<f64>) {
    let (mut times, mut values) = (Vec::new(), Vec::new());
    if obs[0].time > 0.0 {
        times.push(0.0);
        values.push(0.0);
    }
    for (i, o) in obs.iter().enumerate() {
        let value = if !below_lloq(o) {
            Some(o.value)
        } else {
            match rule {
                BlqRule::ZeroThenExclude => (i < first_quantified).then_some(0.0),
                BlqRule::Zero => Some(0.0),
                BlqRule::HalfLloq => Some(0.5 * o.lloq.unwrap_or(o.value)),
                BlqRule::Exclude => None,
            }
        };
        if let Some(v) = value {
            times.push(o.time);
            values.push(v);
        }
    }
    (times, values)
}

/// NCA of one analyte from a subject's observed data, for a dose at time 0: Cmax and Tmax
/// the observed peak, Clast and Tlast the last quantified level, AUC from 0 to
/// `opts.auc_end` by `opts.auc_method`, below-LLOQ values placed by `opts.blq`.
///
/// # Errors
/// [`Error::NoObservations`] when the subject has no observation of `analyte`. Returns
/// `Ok(None)` when no value is quantified.
///
/// ```
/// use cart_pkpd::{nca::{exposure_nca, NcaOptions}, Subject};
/// let s = Subject::builder("1")
///     .observe_censored(0.0, "cp", 5.0)
///     .observe(7.0, "cp", 700.0)
///     .observe(14.0, "cp", 350.0)
///     .observe(28.0, "cp", 87.5)
///     .build()?;
/// let nca = exposure_nca(&s, "cp", &NcaOptions::auc_to(28.0))?.unwrap();
/// assert_eq!((nca.cmax, nca.tmax, nca.tlast), (700.0, 7.0, 28.0));
/// // 0→700 linear over 7 d; then log-down: 350·7/ln 2 and 262.5·14/ln 4
/// let auc = 2450.0 + 350.0 * 7.0 / 2f64.ln() + 262.5 * 14.0 / 4f64.ln();
/// assert!((nca.auc.unwrap() - auc).abs() < 1e-9);
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
pub fn exposure_nca(
    subject: &Subject,
    analyte: &str,
    opts: &NcaOptions,
) -> Result<Option<ExposureNca>> {
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
    let (times, values) = auc_profile(&obs, first_quantified, opts.blq);
    let quantified: Vec<&&Observation> = obs.iter().filter(|o| !below_lloq(o)).collect();
    let qt: Vec<f64> = quantified.iter().map(|o| o.time).collect();
    let qv: Vec<f64> = quantified.iter().map(|o| o.value).collect();
    let p = peak(&qt, &qv)?;
    let last = quantified.last().expect("at least one quantified value");
    Ok(Some(ExposureNca {
        subject: subject.id().to_owned(),
        cmax: p.cmax,
        tmax: p.tmax,
        auc: auc(&times, &values, opts.auc_end, opts.auc_method)?,
        auc_end: opts.auc_end,
        clast: last.value,
        tlast: last.time,
    }))
}
