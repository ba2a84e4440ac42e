//! The inner problem of FOCE-I: one subject's empirical Bayes estimate (EBE)
//! `η̂ = argmin l(η)`, `l(η) = −2 ln p(y | η) + ηᵀΩ⁻¹η`.
//!
//! With `q_j(η)` the prediction of observation `j` on its error model's scale and
//! `G = ∂q/∂η` (central differences), the gradient is exact up to those differences,
//! `∇l = 2Ω⁻¹η + Σ_j t_j'(q_j)·G_j` (`t_j` the observation's −2 ln L term), and the Hessian
//! is approximated by Fisher scoring, `2Ω⁻¹ + Σ_j w_j·G_jᵀG_j` with `w_j = 2/V_j` for a
//! quantified observation (`V_j` its residual variance) and the curvature of `t_j`
//! (clamped at 0) for a censored one. Levenberg–Marquardt steps ([`Marquardt`], an argmin
//! solver) then need one linearisation (`1 + 2·dim η` model solutions) per accepted step,
//! where Nelder–Mead needs hundreds of solutions. Restarted Nelder–Mead remains the
//! fallback when the model cannot be linearised at the start.

use super::subject::{Shared, SubjectProblem};
use crate::error::{Error, Result};
use crate::fit::marquardt::Marquardt;
use crate::fit::optimize::{NelderMeadSettings, nelder_mead};
use crate::model::Model;
use argmin::core::{CostFunction, Executor, Gradient, Hessian, State};
use nalgebra::{DMatrix, DVector};
use std::cell::RefCell;

/// Step of the finite differences in `η`.
pub(crate) const ETA_STEP: f64 = 1e-5;

/// Newton decrement `gᵀH⁻¹g` (in units of −2LL) at which the EBE has converged.
const DECREMENT_TOLERANCE: f64 = 1e-10;

/// Largest number of Marquardt iterations per EBE.
const MAX_ITERS: u64 = 100;

/// The model linearised around `η`.
#[derive(Debug, Clone)]
pub(crate) struct Linearization {
    pub eta: Vec<f64>,
    /// `l(η)`.
    pub l: f64,
    /// Predictions on the error model's scale.
    pub transformed: Vec<f64>,
    /// `∂q/∂η`, observations × random effects.
    pub g: DMatrix<f64>,
    /// The data part of the Fisher-scoring Hessian, `Σ_j w_j·G_jᵀG_j`.
    pub information: DMatrix<f64>,
    gradient: Vec<f64>,
}

/// `l(η)` of one subject at the shared population parameters: an argmin problem.
pub(crate) struct MapProblem<'s, 'a, M: Model> {
    pub subject: &'s SubjectProblem<'a, M>,
    pub shared: &'s Shared<'s>,
    last: RefCell<Option<Linearization>>,
    /// `η` and predictions of the last evaluation of `l`.
    evaluated: RefCell<(Vec<f64>, Vec<f64>)>,
}

impl<'s, 'a, M: Model> MapProblem<'s, 'a, M> {
    pub fn new(subject: &'s SubjectProblem<'a, M>, shared: &'s Shared<'s>) -> Self {
        MapProblem {
            subject,
            shared,
            last: RefCell::new(None),
            evaluated: RefCell::new((Vec::new(), Vec::new())),
        }
    }

    /// Predictions at `η` (model units), or an error where the model cannot be evaluated.
    pub fn predictions(&self, eta: &[f64]) -> Result<Vec<f64>> {
        let params = self.subject.params(self.shared, eta)?;
        Ok(self
            .subject
            .objective
            .contributions(&params, &self.shared.errors)?
            .into_iter()
            .map(|c| c.0)
            .collect())
    }

    /// Predictions on the error models' scales.
    fn transform(&self, predictions: &[f64]) -> Vec<f64> {
        let errors = &self.shared.errors;
        predictions
            .iter()
            .zip(self.subject.objective.observations())
            .map(|(&p, o)| errors[o.error].transform(p))
            .collect()
    }

    /// `l(η)`, `+∞` where the model cannot be evaluated.
    pub fn l(&self, eta: &[f64]) -> f64 {
        let s = self.shared;
        let Ok(params) = self.subject.params(s, eta) else {
            return f64::INFINITY;
        };
        let e = DVector::from_column_slice(eta);
        let prior = (e.transpose() * &s.omega_inv * &e)[(0, 0)];
        let Ok(terms) = self.subject.objective.contributions(&params, &s.errors) else {
            return f64::INFINITY;
        };
        let v: f64 = terms.iter().map(|c| c.1).sum();
        *self.evaluated.borrow_mut() = (eta.to_vec(), terms.iter().map(|c| c.0).collect());
        if v.is_finite() {
            v + prior
        } else {
            f64::INFINITY
        }
    }

    /// The linearisation at `η` (reused when `η` is the last point linearised).
    pub fn linearize(&self, eta: &[f64]) -> Result<Linearization> {
        if let Some(last) = self.last.borrow().as_ref().filter(|l| l.eta == eta) {
            return Ok(last.clone());
        }
        let cached = {
            let e = self.evaluated.borrow();
            (e.0 == eta).then(|| e.1.clone())
        };
        let predictions = match cached {
            Some(p) => p,
            None => self.predictions(eta)?,
        };
        let transformed = self.transform(&predictions);
        let k = eta.len();
        let mut g = DMatrix::zeros(transformed.len(), k);
        let mut x = eta.to_vec();
        for c in 0..k {
            x[c] = eta[c] + ETA_STEP;
            let up = self.transform(&self.predictions(&x)?);
            x[c] = eta[c] - ETA_STEP;
            let down = self.transform(&self.predictions(&x)?);
            x[c] = eta[c];
            for r in 0..transformed.len() {
                g[(r, c)] = (up[r] - down[r]) / (2.0 * ETA_STEP);
            }
        }
        let omega_inv = &self.shared.omega_inv;
        let e = DVector::from_column_slice(eta);
        let mut l = (e.transpose() * omega_inv * &e)[(0, 0)];
        let mut gradient = omega_inv * e * 2.0;
        let mut information = DMatrix::zeros(k, k);
        let errors = &self.shared.errors;
        for (j, o) in self.subject.objective.observations().iter().enumerate() {
            let m = &errors[o.error];
            let q = transformed[j];
            let t = |q: f64| o.term(errors, m.untransform(q));
            let h = 1e-5 * (1.0 + q.abs());
            let (up, mid, down) = (t(q + h), t(q), t(q - h));
            let slope = (up - down) / (2.0 * h);
            let weight = if o.censored {
                ((up - 2.0 * mid + down) / (h * h)).max(0.0)
            } else {
                2.0 / m.sd(predictions[j]).powi(2)
            };
            if !(slope.is_finite() && weight.is_finite()) {
                return Err(Error::NotConverged {
                    subject: self.subject.objective.subject().to_owned(),
                    starts: 1,
                    best_minus_two_ll: f64::INFINITY,
                    reason: format!("the likelihood of observation {j} is not finite at η"),
                });
            }
            l += o.term(errors, predictions[j]);
            let gj = g.row(j).transpose();
            gradient += &gj * slope;
            information += &gj * gj.transpose() * weight;
        }
        let lin = Linearization {
            eta: eta.to_vec(),
            l,
            transformed,
            g,
            information,
            gradient: gradient.iter().copied().collect(),
        };
        *self.last.borrow_mut() = Some(lin.clone());
        Ok(lin)
    }

    /// The EBE from `start` and the linearisation there: Marquardt steps, falling back to
    /// restarted Nelder–Mead (from `start`, else from `η = 0`) where the model cannot be
    /// linearised along the way.
    pub fn solve(&self, start: &[f64]) -> Result<Linearization> {
        for from in [start.to_vec(), vec![0.0; start.len()]] {
            let run = Executor::new(self, Marquardt::new(DECREMENT_TOLERANCE))
                .configure(|s| s.param(from.clone()).max_iters(MAX_ITERS))
                .run();
            if let Ok(result) = run
                && let Some(eta) = result.state().get_best_param()
            {
                return self.linearize(eta);
            }
        }
        let settings = NelderMeadSettings {
            simplex_step: 0.1,
            max_restarts: 4,
            tolerance: 1e-9,
            max_iters: 2000,
        };
        let eta = match nelder_mead(self, start, settings) {
            Ok(outcome) if outcome.minus_two_ll.is_finite() => outcome.theta,
            _ => start.to_vec(),
        };
        self.linearize(&eta)
    }
}

fn argmin_error(e: Error) -> argmin::core::Error {
    argmin::core::Error::msg(e.to_string())
}

impl<M: Model> CostFunction for &MapProblem<'_, '_, M> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, eta: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.l(eta))
    }
}

impl<M: Model> Gradient for &MapProblem<'_, '_, M> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, eta: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        Ok(self.linearize(eta).map_err(argmin_error)?.gradient)
    }
}

impl<M: Model> Hessian for &MapProblem<'_, '_, M> {
    type Param = Vec<f64>;
    type Hessian = DMatrix<f64>;
    fn hessian(&self, eta: &Vec<f64>) -> std::result::Result<DMatrix<f64>, argmin::core::Error> {
        let lin = self.linearize(eta).map_err(argmin_error)?;
        Ok(&self.shared.omega_inv * 2.0 + lin.information)
    }
}
