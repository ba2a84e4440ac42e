//! The likelihood of one subject's data: what individual fits maximise and what every
//! subject contributes to a population fit.
//!
//! A [`FitSpec`] names the parameters to estimate and the residual error model of each
//! analyte ([`ResidualSpec`]); an [`Objective`] holds the subject's timeline with an output
//! slot per observation and evaluates −2 log-likelihood: the error model's density for a
//! quantified value, and for a value below the LLOQ either Beal's M3 term `P(y < LLOQ)` or
//! nothing ([`Censoring`]).

#[cfg(test)]
mod below_tests;
mod gradient;
mod objective;
mod problem;
mod scoring;
#[cfg(test)]
mod scoring_tests;
#[cfg(test)]
mod slope_tests;

pub use objective::{Objective, Slot, Target};
pub(crate) use objective::{Obs, ObservationTerm};
pub(crate) use scoring::Scored;

use crate::error_model::ErrorModel;
use crate::model::Model;
use crate::params::{ParamName, names_of};

/// How observations below their LLOQ enter the likelihood.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Censoring {
    /// Beal's M3: `P(y < LLOQ)` under the error model. The default and the right choice.
    #[default]
    M3,
    /// Drop them. Biased; offered only to compare with M3.
    Drop,
}

/// A residual error model for one analyte, estimated or fixed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResidualSpec {
    /// Analyte (model output) name.
    pub analyte: String,
    /// Error model with initial (or fixed) values.
    pub model: ErrorModel,
    /// Whether its parameters are estimated.
    pub estimate: bool,
}

impl ResidualSpec {
    /// A residual error model whose parameters are estimated.
    pub fn estimated(analyte: &str, model: ErrorModel) -> Self {
        ResidualSpec {
            analyte: analyte.to_owned(),
            model,
            estimate: true,
        }
    }

    /// A residual error model with fixed parameters.
    pub fn fixed(analyte: &str, model: ErrorModel) -> Self {
        ResidualSpec {
            estimate: false,
            ..Self::estimated(analyte, model)
        }
    }
}

/// What to estimate: initial values of every model parameter, the names of those estimated
/// (the rest stay fixed), and a residual error model for each observed analyte.
#[derive(Debug, Clone, PartialEq)]
pub struct FitSpec<M: Model> {
    /// Every model parameter: initial values of the estimated ones, fixed values of the rest.
    pub initial: M::Params,
    /// Names of the estimated model parameters.
    pub estimate: Vec<String>,
    /// Residual error models, one per analyte in the data.
    pub residuals: Vec<ResidualSpec>,
    /// Analytes in the data that the fit leaves out on purpose.
    pub ignored: Vec<String>,
}

impl<M: Model> FitSpec<M> {
    /// Starts from `initial`, estimating nothing yet.
    pub fn new(initial: M::Params) -> Self {
        FitSpec {
            initial,
            estimate: Vec::new(),
            residuals: Vec::new(),
            ignored: Vec::new(),
        }
    }

    /// Estimates these model parameters, by name or by typed key
    /// ([`ParamKey`](crate::ParamKey), e.g. `CellularKineticsParams::KEYS.cmax`).
    pub fn estimate<K: ParamName<M::Params>>(mut self, names: &[K]) -> Self {
        self.estimate.extend(names_of(names));
        self
    }

    /// Adds an estimated residual error model for `analyte`.
    pub fn residual(mut self, analyte: &str, model: ErrorModel) -> Self {
        self.residuals.push(ResidualSpec::estimated(analyte, model));
        self
    }

    /// Leaves the observations of these analytes out of the fit. Without this, an analyte in
    /// the data that has no residual error model is an error, never dropped silently.
    pub fn ignore(mut self, analytes: &[&str]) -> Self {
        self.ignored.extend(analytes.iter().map(|s| s.to_string()));
        self
    }

    /// Adds a residual error model for `analyte` with fixed parameters.
    pub fn residual_fixed(mut self, analyte: &str, model: ErrorModel) -> Self {
        self.residuals.push(ResidualSpec::fixed(analyte, model));
        self
    }
}
