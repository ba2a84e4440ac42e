//! The result of an individual fit: estimates with uncertainty, objective values, the
//! optimisation's history, warnings and per-observation diagnostics.

use super::{Estimate, Method, Termination};
use crate::digits::{decimals, interval, optional};
use crate::error::Result;
use crate::error_model::ErrorModel;
use crate::params::Parameters;
use std::fmt;
use std::io::Write;

/// What one start of the multi-start optimisation reached.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StartSummary {
    /// Initial values, natural scale, in the order of [`FitResult::estimates`].
    pub initial: Vec<f64>,
    /// −2LL reached.
    pub minus_two_ll: f64,
    /// Optimiser iterations.
    pub iterations: u64,
    /// Objective-function evaluations (including finite-difference gradients).
    pub evaluations: u64,
    /// How the start's optimisation ended.
    pub termination: Termination,
}

impl StartSummary {
    /// Whether this start converged.
    pub fn converged(&self) -> bool {
        self.termination.is_converged()
    }
}

/// Something the user should look at before trusting the estimates.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum FitWarning {
    /// The Hessian of −2LL is not positive definite at the optimum: no standard errors.
    HessianNotPositiveDefinite,
    /// A parameter's relative standard error exceeds the threshold: poorly identified.
    HighRelativeStandardError {
        /// Parameter name.
        name: String,
        /// RSE (%).
        rse_percent: f64,
    },
    /// −2LL is not smooth in this parameter at the optimum (for example a change point such
    /// as model 1's `tmax` landing on a sampling time): its SE and CI are not reliable.
    NonSmoothLikelihood {
        /// Parameter name.
        name: String,
    },
    /// Two estimates are nearly collinear.
    HighCorrelation {
        /// First parameter.
        first: String,
        /// Second parameter.
        second: String,
        /// Correlation on the estimation scale.
        correlation: f64,
    },
}

impl fmt::Display for FitWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitWarning::HessianNotPositiveDefinite => {
                write!(f, "Hessian not positive definite: no standard errors")
            }
            FitWarning::HighRelativeStandardError { name, rse_percent } => {
                write!(f, "`{name}` poorly identified: RSE {rse_percent:.0}%")
            }
            FitWarning::NonSmoothLikelihood { name } => write!(
                f,
                "-2LL is not smooth in `{name}` at the optimum: its SE and CI are not reliable"
            ),
            FitWarning::HighCorrelation {
                first,
                second,
                correlation,
            } => write!(
                f,
                "`{first}` and `{second}` highly correlated: r = {correlation:.3}"
            ),
        }
    }
}

/// One observation with its individual prediction and residuals.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Prediction {
    /// Time of the observation.
    pub time: f64,
    /// Analyte.
    pub analyte: String,
    /// Observed value (the LLOQ for a censored observation).
    pub observed: f64,
    /// Individual prediction (IPRED) at the estimates.
    pub ipred: f64,
    /// `observed − ipred`, on the natural scale.
    pub residual: f64,
    /// Individual weighted residual (IWRES) on the error model's scale; for a censored
    /// observation, at the LLOQ (read it as a bound, not a residual).
    pub iwres: f64,
    /// Whether the observation is below its LLOQ.
    pub censored: bool,
    /// LLOQ, if any.
    pub lloq: Option<f64>,
}

/// The result of [`fit_subject`](super::fit_subject).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FitResult {
    /// Model name.
    pub model: String,
    /// Subject identifier.
    pub subject: String,
    /// Optimiser used.
    pub method: Method,
    /// Estimated parameters (model parameters, then residual error parameters).
    pub estimates: Vec<Estimate>,
    /// Every model parameter at the estimates (estimated and fixed), name and value.
    pub params: Vec<(String, f64)>,
    /// Residual error models at the estimates, by analyte.
    pub residual_errors: Vec<(String, ErrorModel)>,
    /// Covariance of the estimates on the estimation scale (`None` if the Hessian is not
    /// positive definite).
    pub covariance: Option<Vec<Vec<f64>>>,
    /// Correlation of the estimates on the estimation scale.
    pub correlation: Option<Vec<Vec<f64>>>,
    /// −2 log-likelihood at the estimates, including `ln 2π` constants.
    pub minus_two_ll: f64,
    /// Objective-function value as NONMEM reports it: −2LL without the `ln 2π` constants.
    pub ofv: f64,
    /// Akaike information criterion, `−2LL + 2k`.
    pub aic: f64,
    /// Bayesian information criterion, `−2LL + k·ln n`.
    pub bic: f64,
    /// Observations in the likelihood (`n`).
    pub n_observations: usize,
    /// Of which censored (M3).
    pub n_censored: usize,
    /// Every start of the optimisation.
    pub starts: Vec<StartSummary>,
    /// Index of the start whose optimum is reported.
    pub best_start: usize,
    /// How the fit ended: an interior optimum, or estimates at a boundary, an unbounded
    /// likelihood, parameters the data do not determine (see [`FitStatus`](super::FitStatus)).
    pub status: super::FitStatus,
    /// Objective evaluations in all, including the covariance step.
    pub evaluations: u64,
    /// What to look at before trusting the estimates.
    pub warnings: Vec<FitWarning>,
    /// Per-observation predictions and residuals.
    pub predictions: Vec<Prediction>,
}

impl FitResult {
    /// One estimate by name.
    pub fn estimate(&self, name: &str) -> Option<&Estimate> {
        self.estimates.iter().find(|e| e.name == name)
    }

    /// The model parameters at the estimates as the model's parameter struct.
    ///
    /// # Errors
    /// [`Error::UnknownParameter`](crate::Error::UnknownParameter) or [`Error::ParameterOutOfDomain`](crate::Error::ParameterOutOfDomain) when `P` is not the
    /// fitted model's parameter set.
    pub fn parameters<P: Parameters>(&self) -> Result<P> {
        let values: Vec<f64> = self.params.iter().map(|p| p.1).collect();
        P::from_values(&values)
    }

    /// Writes the per-observation diagnostics as CSV:
    /// `time,analyte,observed,ipred,residual,iwres,censored,lloq` (`censored` 0/1; an empty
    /// `lloq` where there is none, so that the column reads as numeric).
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) or [`Error::Csv`](crate::Error::Csv) when writing fails.
    pub fn write_predictions_csv<W: Write>(&self, writer: W) -> Result<()> {
        let mut w = csv::Writer::from_writer(writer);
        w.write_record([
            "time", "analyte", "observed", "ipred", "residual", "iwres", "censored", "lloq",
        ])?;
        for p in &self.predictions {
            w.write_record([
                p.time.to_string(),
                p.analyte.clone(),
                p.observed.to_string(),
                p.ipred.to_string(),
                p.residual.to_string(),
                p.iwres.to_string(),
                u8::from(p.censored).to_string(),
                p.lloq.map_or_else(String::new, |v| v.to_string()),
            ])?;
        }
        w.flush()?;
        Ok(())
    }
}

/// The estimates table, NONMEM-style.
impl fmt::Display for FitResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n_conv = self.starts.iter().filter(|s| s.converged()).count();
        writeln!(
            f,
            "Model `{}`, subject `{}`, {:?}",
            self.model, self.subject, self.method
        )?;
        writeln!(
            f,
            "{} observations ({} censored, M3); {} of {} starts converged, best = start {}; {} evaluations",
            self.n_observations,
            self.n_censored,
            n_conv,
            self.starts.len(),
            self.best_start,
            self.evaluations
        )?;
        writeln!(
            f,
            "OFV {:.4}   -2LL {:.4}   AIC {:.4}   BIC {:.4}   ({})",
            self.ofv, self.minus_two_ll, self.aic, self.bic, self.status
        )?;
        writeln!(
            f,
            "{:<16} {:>13} {:>12} {:>8} {:>27}  unit",
            "parameter", "estimate", "SE", "RSE%", "95% CI"
        )?;
        for e in &self.estimates {
            writeln!(
                f,
                "{:<16} {:>13} {:>12} {:>8} {:>27}  {}",
                e.name,
                decimals(e.value, 6),
                optional(e.se, 5),
                e.rse_percent
                    .map_or_else(|| "-".to_owned(), |v| format!("{v:.1}")),
                interval(e.ci95, 5),
                e.unit
            )?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}
