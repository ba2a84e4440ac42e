//! Summaries of values across subjects: quantiles with below-LLOQ values handled as a
//! clinical report does, and descriptive statistics (median, range, geometric mean, CV%).

use crate::data::Subject;
use crate::error::{Error, Result};
use crate::simulate::Simulation;

/// A summary value that may be below the limit of quantification.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Reported {
    /// A number, in the analyte's unit.
    Value(f64),
    /// Below the LLOQ: reported as such, not as a number.
    BelowLloq,
}

impl Reported {
    /// The number, or `None` when below the LLOQ.
    pub fn value(&self) -> Option<f64> {
        match *self {
            Reported::Value(v) => Some(v),
            Reported::BelowLloq => None,
        }
    }
}

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reported::Value(v) => f.write_str(&crate::digits::decimals(*v, 4)),
            Reported::BelowLloq => write!(f, "BLQ"),
        }
    }
}

/// The `q`-quantile of values where `None` is below the LLOQ (ranked below every number).
///
/// Quantiles interpolate linearly between order statistics (Hyndman–Fan type 7, R's
/// default). When either order statistic the quantile falls between is below the LLOQ the
/// quantile is [`Reported::BelowLloq`]: a median below the LLOQ is reported as such.
///
/// # Errors
/// [`Error::InvalidQuantile`] for no values, `q` outside `[0, 1]` or a value that is not
/// finite.
///
/// ```
/// use cart_pkpd::summary::{quantile_censored, Reported};
/// let v = [Some(4.0), None, Some(2.0), None, None];
/// assert_eq!(quantile_censored(&v, 0.5).unwrap(), Reported::BelowLloq);
/// assert_eq!(quantile_censored(&v, 1.0).unwrap(), Reported::Value(4.0));
/// assert_eq!(quantile_censored(&[Some(1.0), Some(3.0)], 0.5).unwrap(), Reported::Value(2.0));
/// ```
pub fn quantile_censored(values: &[Option<f64>], q: f64) -> Result<Reported> {
    if values.is_empty() || !(0.0..=1.0).contains(&q) {
        return Err(Error::InvalidQuantile {
            q,
            n: values.len(),
            reason: "a quantile needs values and 0 <= q <= 1".into(),
        });
    }
    if values.iter().flatten().any(|v| !v.is_finite()) {
        return Err(Error::InvalidQuantile {
            q,
            n: values.len(),
            reason: "values must be finite".into(),
        });
    }
    let mut sorted: Vec<Option<f64>> = values.to_vec();
    sorted.sort_by(|a, b| match (a, b) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => x.total_cmp(y),
    });
    let h = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    Ok(match (sorted[lo], sorted[hi]) {
        (Some(a), Some(b)) => Reported::Value(a + (h - lo as f64) * (b - a)),
        _ => Reported::BelowLloq,
    })
}

/// Median, range, and (for positive values) geometric mean and geometric CV%.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Distribution {
    /// Number of values.
    pub n: usize,
    /// Median.
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Geometric mean `exp(mean ln x)`; `None` unless every value is > 0.
    pub geometric_mean: Option<f64>,
    /// Geometric CV% `100·√(exp(s²) − 1)`, `s` the SD of `ln x` (n − 1); `None` unless every
    /// value is > 0 and n ≥ 2.
    pub geometric_cv_percent: Option<f64>,
}

/// Describes finite values; `None` for an empty slice.
///
/// ```
/// use cart_pkpd::summary::describe;
/// let d = describe(&[1.0, 10.0, 100.0]).unwrap();
/// assert_eq!((d.median, d.min, d.max), (10.0, 1.0, 100.0));
/// assert!((d.geometric_mean.unwrap() - 10.0).abs() < 1e-12);
/// ```
pub fn describe(values: &[f64]) -> Option<Distribution> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let present: Vec<Option<f64>> = values.iter().copied().map(Some).collect();
    let median = quantile_censored(&present, 0.5).ok()?.value()?;
    let n = values.len();
    let positive = values.iter().all(|&v| v > 0.0);
    let logs: Vec<f64> = values.iter().map(|v| v.ln()).collect();
    let mean_log = logs.iter().sum::<f64>() / n as f64;
    let sd_log = (n > 1).then(|| {
        (logs.iter().map(|l| (l - mean_log).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    });
    Some(Distribution {
        n,
        median,
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        geometric_mean: positive.then(|| mean_log.exp()),
        geometric_cv_percent: sd_log
            .filter(|_| positive)
            .map(|s| 100.0 * (s * s).exp_m1().sqrt()),
    })
}

/// Quantiles of one analyte at one time across subjects.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimeSummary {
    /// Time (days).
    pub time: f64,
    /// Number of values (subjects observed or simulated at that time).
    pub n: usize,
    /// Of which below the LLOQ.
    pub n_below_lloq: usize,
    /// Median.
    pub median: Reported,
    /// Requested quantiles `(q, value)`.
    pub quantiles: Vec<(f64, Reported)>,
}

fn time_summary(time: f64, values: &[Option<f64>], quantiles: &[f64]) -> Result<TimeSummary> {
    Ok(TimeSummary {
        time,
        n: values.len(),
        n_below_lloq: values.iter().filter(|v| v.is_none()).count(),
        median: quantile_censored(values, 0.5)?,
        quantiles: quantiles
            .iter()
            .map(|&q| Ok((q, quantile_censored(values, q)?)))
            .collect::<Result<_>>()?,
    })
}

/// Summaries of simulated profiles of one analyte at every output time; all simulations
/// must share their output times. Values below `lloq` (if given) count as below the LLOQ,
/// so that model and data are summarised alike.
///
/// # Errors
/// [`Error::UnknownAnalyte`] when a simulation lacks `analyte`; [`Error::InvalidTimes`]
/// when the simulations' output times differ; [`Error::InvalidQuantile`] for a level
/// outside `[0, 1]`.
///
/// ```
/// use cart_pkpd::models::{CarTBCell, CarTBCellParams};
/// use cart_pkpd::summary::summarize_simulations;
/// use cart_pkpd::{simulate, Dose, Parameters, SolverOptions};
/// let sims: Vec<_> = [1.0, 2.0, 3.0].iter().map(|kmax| {
///     let p = CarTBCellParams::default().with("kmax", *kmax).unwrap();
///     simulate(&CarTBCell, &p, &[Dose::bolus(0.0, 10.0)], &[0.0, 28.0],
///              &SolverOptions::default()).unwrap()
/// }).collect();
/// let rows = summarize_simulations(&sims, "b_cells", &[0.05, 0.95], Some(1.0)).unwrap();
/// assert_eq!(rows[0].n, 3);
/// assert!(rows[1].median.value().is_none());    // depleted at day 28: BLQ
/// ```
pub fn summarize_simulations(
    sims: &[Simulation],
    analyte: &str,
    quantiles: &[f64],
    lloq: Option<f64>,
) -> Result<Vec<TimeSummary>> {
    let Some(first) = sims.first() else {
        return Ok(Vec::new());
    };
    let columns = sims
        .iter()
        .map(|s| s.get(analyte))
        .collect::<Result<Vec<_>>>()?;
    if sims.iter().any(|s| s.times != first.times) {
        return Err(Error::InvalidTimes {
            reason: "simulations to summarise must share their output times".into(),
        });
    }
    first
        .times
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let values: Vec<Option<f64>> = columns
                .iter()
                .map(|c| Some(c[i]).filter(|&v| lloq.is_none_or(|l| v >= l)))
                .collect();
            time_summary(t, &values, quantiles)
        })
        .collect()
}

/// Summaries of observed values of one analyte per visit (observation time) across
/// subjects; censored values and values below their LLOQ count as below the LLOQ.
///
/// # Errors
/// [`Error::InvalidQuantile`] for a level outside `[0, 1]`.
pub fn summarize_observations(
    subjects: &[&Subject],
    analyte: &str,
    quantiles: &[f64],
) -> Result<Vec<TimeSummary>> {
    let mut by_time: Vec<(f64, Vec<Option<f64>>)> = Vec::new();
    for s in subjects {
        for o in s.observations_of(analyte) {
            let below = o.censored || o.lloq.is_some_and(|l| o.value < l);
            let v = (!below).then_some(o.value);
            match by_time.iter_mut().find(|(t, _)| *t == o.time) {
                Some((_, vals)) => vals.push(v),
                None => by_time.push((o.time, vec![v])),
            }
        }
    }
    by_time.sort_by(|a, b| a.0.total_cmp(&b.0));
    by_time
        .iter()
        .map(|(t, v)| time_summary(*t, v, quantiles))
        .collect()
}
