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
use crate::fit::Scale;
use crate::fit::status::{Checked, Kind};
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
    /// (parameter index, model) of each parameter set to a covariate's value.
    pub values: Vec<(usize, CovariateModel)>,
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
            .filter(|c| c.has_coefficient())
            .map(|c| {
                let (i, s) = scale_of(c.parameter())?;
                Ok((i, s, c.clone()))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut values = Vec::new();
        for c in spec.covariates.iter().filter(|c| !c.has_coefficient()) {
            let name = c.parameter();
            let i = M::Params::index_of(name)?;
            let taken = theta.iter().chain(&random).any(|t| t.0 == i)
                || covariates.iter().any(|t| t.0 == i)
                || values.iter().any(|v: &(usize, CovariateModel)| v.0 == i);
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
            values.push((i, c.clone()));
        }
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

    /// `φ` at the initial values; [`Error::InvalidOmega`] if Ω is not positive definite.
    pub fn initial(&self, omega: &DMatrix<f64>) -> Result<Vec<f64>> {
        let mut phi: Vec<f64> = self
            .theta
            .iter()
            .map(|&(i, s)| s.to_estimation("typical value", self.base[i]))
            .collect::<Result<_>>()?;
        phi.extend(self.covariates.iter().map(|c| c.2.initial_coefficient()));
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
            .map(|&(i, _)| (specs[i].name.to_owned(), Kind::Typical))
            .collect();
        out.extend(
            self.covariates
                .iter()
                .map(|c| (c.2.describe(), Kind::Other)),
        );
        for r in 0..self.random.len() {
            let name = specs[self.random[r].0].name;
            if self.block {
                for c in 0..r {
                    let other = specs[self.random[c].0].name;
                    out.push((format!("omega({name},{other})"), Kind::Other));
                }
            }
            out.push((format!("omega({name})"), Kind::Variance));
        }
        for &(r, p) in &self.sigma {
            let res = &spec.residuals[r];
            let param = res.model.param_names()[p];
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

    /// Every parameter's value for one subject at `η`, with covariate terms `terms` (one
    /// per effect with a coefficient, then one per parameter set to a covariate):
    /// typical values, additive covariate effects on the estimation scale, multiplicative
    /// ones on the natural scale, then `η` on the estimation scale.
    pub fn individual(&self, phi: &[f64], terms: &[f64], eta: &[f64]) -> Vec<f64> {
        let mut values = self.base.clone();
        let nc = self.covariates.len();
        for (k, (i, _)) in self.values.iter().enumerate() {
            values[*i] = terms[nc + k];
        }
        let n = values.len();
        let mut shift = vec![0.0; n];
        let mut factor = vec![1.0; n];
        let mut random = vec![0.0; n];
        let mut scale: Vec<Option<Scale>> = vec![None; n];
        for (j, &(i, s)) in self.theta.iter().enumerate() {
            values[i] = s.to_natural(phi[j]);
            scale[i] = Some(s);
        }
        let nt = self.theta.len();
        for (j, (i, s, c)) in self.covariates.iter().enumerate() {
            match c.shift(phi[nt + j], terms[j]) {
                Shift::Additive(d) => shift[*i] += d,
                Shift::Factor(f) => factor[*i] *= f,
            }
            scale[*i] = Some(*s);
        }
        for (k, &(i, s)) in self.random.iter().enumerate() {
            random[i] += eta[k];
            scale[i] = Some(s);
        }
        for i in 0..n {
            let Some(s) = scale[i] else { continue };
            if shift[i] == 0.0 && factor[i] == 1.0 && random[i] == 0.0 {
                continue;
            }
            let u = |x: f64| s.to_estimation("", x).unwrap_or(f64::NAN);
            values[i] = if factor[i] == 1.0 {
                s.to_natural(u(values[i]) + shift[i] + random[i])
            } else {
                let typical = s.to_natural(u(values[i]) + shift[i]) * factor[i];
                s.to_natural(u(typical) + random[i])
            };
        }
        values
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
            .map(|c| &c.2)
            .chain(self.values.iter().map(|v| &v.1))
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

/// A subject's covariate terms: one set per distinct combination of covariate values, and
/// which set each record uses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CovariatePieces {
    pub terms: Vec<Vec<f64>>,
    pub piece_of_record: Vec<usize>,
}
