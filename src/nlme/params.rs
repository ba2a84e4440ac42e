//! The outer parameter vector of a population fit and what it means.
//!
//! `φ = [θ | β | ω | σ]`:
//! - `θ`: typical values of the estimated parameters on their estimation scale (log for
//!   positive parameters);
//! - `β`: covariate coefficients, added on the estimation scale: a categorical effect adds
//!   `β` when the covariate equals its level (a factor `exp β` for log-scale parameters), a
//!   power effect adds `β·ln(cov/ref)` (a factor `(cov/ref)^β`);
//! - `ω`: Ω, as log standard deviations (diagonal) or as its Cholesky factor with log
//!   diagonal (block);
//! - `σ`: log of each estimated residual-error parameter.

use super::{CovariateModel, PopulationSpec};
use crate::data::Subject;
use crate::error::{Error, Result};
use crate::error_model::ErrorModel;
use crate::fit::Scale;
use crate::model::Model;
use crate::params::Parameters;
use nalgebra::DMatrix;

/// Where each piece of `φ` lives and how it maps to model values.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// (parameter index, scale) of each estimated typical value, in `θ` order.
    pub theta: Vec<(usize, Scale)>,
    /// (parameter index, scale) of each random effect, in `η` order.
    pub random: Vec<(usize, Scale)>,
    /// (parameter index, scale, model) of each covariate coefficient, in `β` order.
    pub covariates: Vec<(usize, Scale, CovariateModel)>,
    /// Whether Ω is a full block (else diagonal).
    pub block: bool,
    /// (residual index, parameter index) of each estimated residual parameter.
    pub sigma: Vec<(usize, usize)>,
    /// All model parameter values (initial typical values and fixed ones).
    pub base: Vec<f64>,
    /// Residual error models at their initial or fixed values.
    pub residuals: Vec<ErrorModel>,
}

impl Layout {
    pub fn new<M: Model>(spec: &PopulationSpec<M>) -> Result<Self> {
        let scale_of = |name: &str| -> Result<(usize, Scale)> {
            let i = M::Params::index_of(name)?;
            Ok((i, Scale::for_domain(name, M::Params::specs()[i].domain)?))
        };
        let unique = |names: &[String], what: &str| -> Result<()> {
            for (k, n) in names.iter().enumerate() {
                if names[..k].contains(n) {
                    return Err(Error::DuplicateEstimate {
                        name: format!("{what} `{n}`"),
                    });
                }
            }
            Ok(())
        };
        unique(&spec.estimate, "fixed effect")?;
        unique(&spec.random, "random effect")?;
        let theta = spec
            .estimate
            .iter()
            .map(|n| scale_of(n))
            .collect::<Result<Vec<_>>>()?;
        let random = spec
            .random
            .iter()
            .map(|n| scale_of(n))
            .collect::<Result<Vec<_>>>()?;
        let covariates = spec
            .covariates
            .iter()
            .map(|c| {
                let (i, s) = scale_of(c.parameter())?;
                Ok((i, s, c.clone()))
            })
            .collect::<Result<Vec<_>>>()?;
        let k = random.len();
        if spec.omega.nrows() != k || spec.omega.ncols() != k {
            return Err(Error::InvalidOmega {
                reason: format!(
                    "initial Ω is {}×{} for {k} random effects",
                    spec.omega.nrows(),
                    spec.omega.ncols()
                ),
            });
        }
        let base = spec.initial.values();
        for &(i, s) in theta.iter().chain(&random) {
            s.to_estimation(M::Params::specs()[i].name, base[i])?;
        }
        let mut sigma = Vec::new();
        for (r, res) in spec.residuals.iter().enumerate() {
            res.model.validate()?;
            if res.estimate {
                sigma.extend((0..res.model.values().len()).map(|p| (r, p)));
            }
        }
        Ok(Layout {
            theta,
            random,
            covariates,
            block: spec.omega_block,
            sigma,
            base,
            residuals: spec.residuals.iter().map(|r| r.model).collect(),
        })
    }

    pub fn n_omega(&self) -> usize {
        let k = self.random.len();
        if self.block { k * (k + 1) / 2 } else { k }
    }

    pub fn len(&self) -> usize {
        self.theta.len() + self.covariates.len() + self.n_omega() + self.sigma.len()
    }

    /// `φ` at the initial values; [`Error::InvalidOmega`] if Ω is not positive definite.
    pub fn initial(&self, omega: &DMatrix<f64>) -> Result<Vec<f64>> {
        let mut phi: Vec<f64> = self
            .theta
            .iter()
            .map(|&(i, s)| s.to_estimation("typical value", self.base[i]))
            .collect::<Result<_>>()?;
        phi.extend(std::iter::repeat_n(0.0, self.covariates.len()));
        if omega.iter().any(|v| !v.is_finite()) || (omega - omega.transpose()).abs().max() > 1e-12 {
            return Err(Error::InvalidOmega {
                reason: "initial Ω must be finite and symmetric".into(),
            });
        }
        let l = omega
            .clone()
            .cholesky()
            .ok_or_else(|| Error::InvalidOmega {
                reason: "initial Ω is not positive definite (singular or indefinite)".into(),
            })?;
        let l = l.l();
        for r in 0..l.nrows() {
            if self.block {
                for c in 0..r {
                    phi.push(l[(r, c)]);
                }
            }
            phi.push(l[(r, r)].ln());
        }
        for &(r, p) in &self.sigma {
            phi.push(self.residuals[r].values()[p].ln());
        }
        Ok(phi)
    }

    /// Ω from `φ`.
    pub fn omega(&self, phi: &[f64]) -> DMatrix<f64> {
        let k = self.random.len();
        let mut l = DMatrix::zeros(k, k);
        let mut j = self.theta.len() + self.covariates.len();
        for r in 0..k {
            if self.block {
                for c in 0..r {
                    l[(r, c)] = phi[j];
                    j += 1;
                }
            }
            l[(r, r)] = phi[j].exp();
            j += 1;
        }
        &l * l.transpose()
    }

    /// Residual error models from `φ`.
    pub fn residuals(&self, phi: &[f64]) -> Result<Vec<ErrorModel>> {
        let mut values: Vec<Vec<f64>> = self.residuals.iter().map(ErrorModel::values).collect();
        let start = self.len() - self.sigma.len();
        for (k, &(r, p)) in self.sigma.iter().enumerate() {
            values[r][p] = phi[start + k].exp();
        }
        self.residuals
            .iter()
            .zip(&values)
            .map(|(m, v)| m.with_values(v))
            .collect()
    }

    /// Estimation-scale values of every parameter for one subject at `η` (typical values,
    /// covariate effects, random effects), back-transformed to the natural scale.
    pub fn individual(&self, phi: &[f64], covariates: &[f64], eta: &[f64]) -> Vec<f64> {
        let mut values = self.base.clone();
        let mut shift = vec![0.0; values.len()];
        let mut scale: Vec<Option<Scale>> = vec![None; values.len()];
        for (j, &(i, s)) in self.theta.iter().enumerate() {
            values[i] = s.to_natural(phi[j]);
            scale[i] = Some(s);
        }
        let nt = self.theta.len();
        for (j, (i, s, _)) in self.covariates.iter().enumerate() {
            shift[*i] += phi[nt + j] * covariates[j];
            scale[*i] = Some(*s);
        }
        for (k, &(i, s)) in self.random.iter().enumerate() {
            shift[i] += eta[k];
            scale[i] = Some(s);
        }
        for i in 0..values.len() {
            if let Some(s) = scale[i].filter(|_| shift[i] != 0.0) {
                let u = s.to_estimation("", values[i]).unwrap_or(f64::NAN);
                values[i] = s.to_natural(u + shift[i]);
            }
        }
        values
    }

    /// The covariate terms of one subject (`1`/`0` for categorical, `ln(cov/ref)` for
    /// power); [`Error::CovariateMissing`] when the subject lacks one.
    pub fn covariate_terms(&self, subject: &Subject) -> Result<Vec<f64>> {
        self.covariates
            .iter()
            .map(|(_, _, c)| {
                let name = c.covariate();
                let v = subject
                    .covariate(name)
                    .ok_or_else(|| Error::CovariateMissing {
                        subject: subject.id().to_owned(),
                        covariate: name.to_owned(),
                    })?;
                Ok(match c {
                    CovariateModel::Categorical { level, .. } => f64::from(u8::from(v == *level)),
                    CovariateModel::Power { reference, .. } => (v / reference).ln(),
                })
            })
            .collect()
    }
}
