//! The outer parameter vector of a population fit and what it means.
//!
//! `φ = [θ | β | ω | σ]`:
//! - `θ`: typical values of the estimated parameters on their estimation scale (log for
//!   positive parameters);
//! - `β`: covariate coefficients (forms in [`CovariateModel`]);
//! - `ω`: Ω, as log standard deviations (diagonal) or as its Cholesky factor with log
//!   diagonal (block);
//! - `σ`: log of each estimated residual-error parameter.

use super::covariate::Shift;
use super::{CovariateModel, PopulationSpec};
use crate::data::Subject;
use crate::error::{Error, Result};
use crate::error_model::ErrorModel;
use crate::likelihood::ResidualSpec;
use crate::model::Model;
use crate::optim::Scale;
use crate::optim::status::{Checked, Kind};
use crate::params::Parameters;
use crate::population::omega_factor;
use nalgebra::DMatrix;

/// A model parameter and the scale it is estimated on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ScaledParameter {
    /// Index in the model's parameters.
    pub index: usize,
    pub scale: Scale,
}

/// A covariate effect with an estimated coefficient.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CoefficientEffect {
    /// The parameter it acts on.
    pub parameter: ScaledParameter,
    pub model: CovariateModel,
}

/// A model parameter set to a covariate's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValueEffect {
    /// Index in the model's parameters.
    pub index: usize,
    pub model: CovariateModel,
}

/// An estimated residual error parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SigmaElement {
    /// Index in the specification's residual models.
    pub residual: usize,
    /// Index in that error model's parameters.
    pub parameter: usize,
}

/// Where each piece of `φ` lives and how it maps to model values.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Each estimated typical value, in `θ` order.
    pub theta: Vec<ScaledParameter>,
    /// Each parameter with a random effect, in `η` order.
    pub random: Vec<ScaledParameter>,
    /// Each covariate effect with a coefficient, in `β` order.
    pub covariates: Vec<CoefficientEffect>,
    /// Each parameter set to a covariate's value.
    pub values: Vec<ValueEffect>,
    /// Whether Ω is a full block (else diagonal).
    pub block: bool,
    /// Each estimated residual parameter, in `σ` order.
    pub sigma: Vec<SigmaElement>,
    /// All model parameter values (initial typical values and fixed ones).
    pub base: Vec<f64>,
    /// Residual error models at their initial or fixed values.
    pub residuals: Vec<ErrorModel>,
    /// The parameters [`individual`](Self::individual) computes.
    adjusted: Vec<Adjusted>,
}

/// What acts on one model parameter of a subject: its estimated typical value, covariate
/// effects with a coefficient, random effects (positions in `θ`, `β` and `η`), and the
/// scale on which they act. [`Layout::individual`] computes the parameters listed.
#[derive(Debug, Clone)]
struct Adjusted {
    /// Index in the model's parameters.
    index: usize,
    scale: Scale,
    theta: Option<usize>,
    covariates: Vec<usize>,
    random: Vec<usize>,
}

/// The parameters that a typical value, a covariate coefficient or a random effect acts
/// on, in the model's order.
fn adjusted(
    theta: &[ScaledParameter],
    covariates: &[CoefficientEffect],
    random: &[ScaledParameter],
) -> Vec<Adjusted> {
    let indices = theta
        .iter()
        .chain(covariates.iter().map(|c| &c.parameter))
        .chain(random);
    let mut out: Vec<Adjusted> = Vec::new();
    for p in indices {
        if out.iter().any(|t| t.index == p.index) {
            continue;
        }
        out.push(Adjusted {
            index: p.index,
            scale: p.scale,
            theta: theta.iter().position(|t| t.index == p.index),
            covariates: (0..covariates.len())
                .filter(|&j| covariates[j].parameter.index == p.index)
                .collect(),
            random: (0..random.len())
                .filter(|&k| random[k].index == p.index)
                .collect(),
        });
    }
    out.sort_by_key(|t| t.index);
    out
}

impl Layout {
    pub fn new<M: Model>(spec: &PopulationSpec<M>) -> Result<Self> {
        let scale_of = |name: &str| -> Result<ScaledParameter> {
            let index = M::Params::index_of(name)?;
            let scale = Scale::for_domain(name, M::Params::specs()[index].domain)?;
            Ok(ScaledParameter { index, scale })
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
            .filter(|c| c.has_coefficient())
            .map(|c| {
                Ok(CoefficientEffect {
                    parameter: scale_of(c.parameter())?,
                    model: c.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let values = value_effects::<M>(spec, &theta, &random, &covariates)?;
        omega_factor(&spec.omega, random.len())?;
        let base = spec.initial.values();
        for p in theta.iter().chain(&random) {
            p.scale
                .to_estimation(M::Params::specs()[p.index].name, base[p.index])?;
        }
        let sigma = sigma_elements(&spec.residuals)?;
        Ok(Layout {
            adjusted: adjusted(&theta, &covariates, &random),
            theta,
            random,
            covariates,
            values,
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

    /// `φ` at the initial values.
    ///
    /// # Errors
    /// [`Error::InvalidOmega`] if Ω is not symmetric positive definite (see
    /// [`omega_factor`]).
    pub fn initial(&self, omega: &DMatrix<f64>) -> Result<Vec<f64>> {
        let mut phi: Vec<f64> = self
            .theta
            .iter()
            .map(|p| p.scale.to_estimation("typical value", self.base[p.index]))
            .collect::<Result<_>>()?;
        phi.extend(
            self.covariates
                .iter()
                .map(|c| c.model.initial_coefficient()),
        );
        phi.resize(phi.len() + self.n_omega(), 0.0);
        self.write_omega(&mut phi, omega)?;
        for s in &self.sigma {
            phi.push(self.residuals[s.residual].values()[s.parameter].ln());
        }
        Ok(phi)
    }

    /// Every element of `φ` named and classified for the end-of-fit checks, with its
    /// initial and final values.
    pub fn checked<M: Model>(
        &self,
        spec: &PopulationSpec<M>,
        initial: &[f64],
        last: &[f64],
    ) -> Vec<Checked> {
        let specs = M::Params::specs();
        let mut out: Vec<(String, Kind)> = self
            .theta
            .iter()
            .map(|p| (specs[p.index].name.to_owned(), Kind::Typical))
            .collect();
        out.extend(
            self.covariates
                .iter()
                .map(|c| (c.model.describe(), Kind::Other)),
        );
        for r in 0..self.random.len() {
            let name = specs[self.random[r].index].name;
            if self.block {
                for c in 0..r {
                    let other = specs[self.random[c].index].name;
                    out.push((format!("omega({name},{other})"), Kind::Other));
                }
            }
            out.push((format!("omega({name})"), Kind::Variance));
        }
        for s in &self.sigma {
            let res = &spec.residuals[s.residual];
            let param = res.model.param_names()[s.parameter];
            out.push((format!("{}.{param}", res.analyte), Kind::Residual));
        }
        out.into_iter()
            .zip(initial.iter().zip(last))
            .map(|((name, kind), (&initial, &last))| Checked {
                name,
                kind,
                initial,
                last,
            })
            .collect()
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

    /// Writes Ω into `φ` (log SDs, or the Cholesky factor with log diagonal for a block;
    /// the off-diagonal elements of a diagonal Ω are not read).
    ///
    /// # Errors
    /// [`Error::InvalidOmega`] if Ω is not symmetric positive definite.
    pub fn write_omega(&self, phi: &mut [f64], omega: &DMatrix<f64>) -> Result<()> {
        let k = self.random.len();
        let l = if self.block {
            omega_factor(omega, k)?
        } else {
            omega_factor(&DMatrix::from_diagonal(&omega.diagonal()), k)?
        };
        let mut j = self.theta.len() + self.covariates.len();
        for r in 0..k {
            if self.block {
                for c in 0..r {
                    phi[j] = l[(r, c)];
                    j += 1;
                }
            }
            phi[j] = l[(r, r)].ln();
            j += 1;
        }
        Ok(())
    }

    /// Residual error models from `φ`.
    pub fn residuals(&self, phi: &[f64]) -> Result<Vec<ErrorModel>> {
        let mut values: Vec<Vec<f64>> = self.residuals.iter().map(ErrorModel::values).collect();
        let start = self.len() - self.sigma.len();
        for (k, s) in self.sigma.iter().enumerate() {
            values[s.residual][s.parameter] = phi[start + k].exp();
        }
        self.residuals
            .iter()
            .zip(&values)
            .map(|(m, v)| m.with_values(v))
            .collect()
    }

    /// Every parameter's value for one subject at `η`, with covariate terms `terms` (one
    /// per effect with a coefficient, then one per parameter set to a covariate):
    /// typical values, additive covariate effects on the estimation scale, multiplicative
    /// ones on the natural scale, then `η` on the estimation scale.
    pub fn individual(&self, phi: &[f64], terms: &[f64], eta: &[f64]) -> Vec<f64> {
        let mut values = self.base.clone();
        self.individual_into(phi, terms, eta, &mut values);
        values
    }

    /// As [`individual`](Self::individual), into `values` (the length of
    /// [`base`](Self::base)).
    pub fn individual_into(&self, phi: &[f64], terms: &[f64], eta: &[f64], values: &mut [f64]) {
        values.copy_from_slice(&self.base);
        let nc = self.covariates.len();
        for (k, v) in self.values.iter().enumerate() {
            values[v.index] = terms[nc + k];
        }
        let nt = self.theta.len();
        for t in &self.adjusted {
            let s = t.scale;
            if let Some(j) = t.theta {
                values[t.index] = s.to_natural(phi[j]);
            }
            let (mut shift, mut factor) = (0.0, 1.0);
            for &j in &t.covariates {
                match self.covariates[j].model.shift(phi[nt + j], terms[j]) {
                    Shift::Additive(d) => shift += d,
                    Shift::Factor(f) => factor *= f,
                }
            }
            let random: f64 = t.random.iter().map(|&k| eta[k]).sum();
            if shift == 0.0 && factor == 1.0 && random == 0.0 {
                continue;
            }
            let u = |x: f64| s.to_estimation("", x).unwrap_or(f64::NAN);
            // the typical value on the estimation scale: θ itself where it is estimated
            let typical = t.theta.map_or_else(|| u(values[t.index]), |j| phi[j]);
            values[t.index] = if factor == 1.0 {
                s.to_natural(typical + shift + random)
            } else {
                let typical = s.to_natural(typical + shift) * factor;
                s.to_natural(u(typical) + random)
            };
        }
    }

    /// The covariate terms of one subject, one set per distinct combination over its
    /// records, and which set each record uses; [`Error::CovariateMissing`] when the
    /// subject lacks a covariate, [`Error::InvalidCovariate`] for a value the form cannot
    /// take (a category where a number is needed, a power of a value ≤ 0).
    pub fn covariate_pieces(&self, subject: &Subject) -> Result<CovariatePieces> {
        let n = subject.n_records();
        let effects: Vec<&CovariateModel> = self
            .covariates
            .iter()
            .map(|c| &c.model)
            .chain(self.values.iter().map(|v| &v.model))
            .collect();
        let mut series = Vec::with_capacity(effects.len());
        for c in &effects {
            let name = c.covariate();
            series.push(
                subject
                    .covariate_series(name)
                    .ok_or_else(|| Error::CovariateMissing {
                        subject: subject.id().to_owned(),
                        covariate: name.to_owned(),
                    })?,
            );
        }
        // records where any covariate changes start a new combination
        let mut starts: Vec<usize> = series
            .iter()
            .flat_map(|s| s.changes().iter().map(|c| c.0))
            .collect();
        starts.push(0);
        starts.sort_unstable();
        starts.dedup();
        let mut pieces = CovariatePieces {
            terms: Vec::new(),
            piece_of_record: vec![0; n],
        };
        let mut index: std::collections::HashMap<Vec<u64>, usize> = Default::default();
        for (k, &start) in starts.iter().enumerate() {
            let terms = effects
                .iter()
                .zip(&series)
                .map(|(c, s)| {
                    c.term(s.at(start))
                        .map_err(|reason| Error::InvalidCovariate {
                            subject: subject.id().to_owned(),
                            covariate: c.covariate().to_owned(),
                            reason,
                        })
                })
                .collect::<Result<Vec<f64>>>()?;
            let key = terms.iter().map(|t| t.to_bits()).collect();
            let next = pieces.terms.len();
            let piece = *index.entry(key).or_insert(next);
            if piece == next {
                pieces.terms.push(terms);
            }
            let end = starts.get(k + 1).copied().unwrap_or(n).min(n);
            pieces.piece_of_record[start.min(n)..end].fill(piece);
        }
        Ok(pieces)
    }
}

/// The parameters set to a covariate's value.
///
/// # Errors
/// [`Error::NotEstimable`] for a parameter that is also estimated, random, has another
/// covariate effect or is set twice.
fn value_effects<M: Model>(
    spec: &PopulationSpec<M>,
    theta: &[ScaledParameter],
    random: &[ScaledParameter],
    covariates: &[CoefficientEffect],
) -> Result<Vec<ValueEffect>> {
    let mut values = Vec::new();
    for c in spec.covariates.iter().filter(|c| !c.has_coefficient()) {
        let name = c.parameter();
        let i = M::Params::index_of(name)?;
        let taken = theta.iter().chain(random).any(|t| t.index == i)
            || covariates.iter().any(|t| t.parameter.index == i)
            || values.iter().any(|v: &ValueEffect| v.index == i);
        if taken {
            return Err(Error::NotEstimable {
                name: name.to_owned(),
                reason: format!(
                    "it is set to covariate `{}`, so it cannot also be estimated, be \
                     random, have another covariate effect or be set twice",
                    c.covariate()
                ),
            });
        }
        values.push(ValueEffect {
            index: i,
            model: c.clone(),
        });
    }
    Ok(values)
}

/// Every estimated residual error parameter, after checking every error model.
fn sigma_elements(residuals: &[ResidualSpec]) -> Result<Vec<SigmaElement>> {
    let mut sigma = Vec::new();
    for (r, res) in residuals.iter().enumerate() {
        res.model.validate()?;
        if res.estimate {
            sigma.extend((0..res.model.values().len()).map(|p| SigmaElement {
                residual: r,
                parameter: p,
            }));
        }
    }
    Ok(sigma)
}

/// A subject's covariate terms: one set per distinct combination of covariate values, and
/// which set each record uses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CovariatePieces {
    pub terms: Vec<Vec<f64>>,
    pub piece_of_record: Vec<usize>,
}
