//! One subject's part of a population fit: its empirical Bayes estimate (EBE) of `η` and
//! its FOCE-I contribution to the objective.
//!
//! With `l(η) = −2 ln p(y | η) + ηᵀΩ⁻¹η` (the MAP objective, `ln 2π` constants included),
//! the EBE is `η̂ = argmin l`, and the subject's contribution to −2 log-likelihood is the
//! Laplace approximation `l(η̂) + ln|Ω| + ln|H/2|` with `H/2 ≈ Ω⁻¹ + GᵀV⁻¹G + ½·H_cens`:
//! `G = ∂f/∂η` at `η̂` for the quantified observations (on the error model's scale), `V`
//! their residual variances at `η̂` (the interaction), and `H_cens` the exact Hessian of the
//! censored (M3) terms, for which the first-order linearization does not apply.

use super::params::Layout;
use crate::error::Result;
use crate::error_model::ErrorModel;
use crate::fit::Objective;
use crate::fit::covariance::hessian;
use crate::fit::optimize::{NelderMeadSettings, nelder_mead};
use crate::model::Model;
use crate::params::Parameters;
use argmin::core::{CostFunction, Gradient};
use nalgebra::{DMatrix, DVector};
use std::sync::Mutex;

/// Step of the finite differences in `η`.
const ETA_STEP: f64 = 1e-5;

/// What the outer objective needs at one `φ`, shared by every subject.
pub(crate) struct Shared<'l> {
    pub layout: &'l Layout,
    pub phi: &'l [f64],
    pub omega_inv: DMatrix<f64>,
    pub ln_det_omega: f64,
    pub errors: Vec<ErrorModel>,
}

/// A subject in a population fit.
pub(crate) struct SubjectProblem<'a, M: Model> {
    pub objective: Objective<'a, M>,
    pub covariates: Vec<f64>,
    /// The last EBE, the start of the next inner optimisation.
    pub eta: Mutex<Vec<f64>>,
}

/// One subject's EBE, its contribution and the pieces the diagnostics use.
#[derive(Debug, Clone)]
pub(crate) struct Contribution {
    pub eta: Vec<f64>,
    pub minus_two_ll: f64,
    /// `f(η̂)` on the error model's scale, per observation.
    pub transformed: Vec<f64>,
    /// `∂f/∂η` per observation (rows) and random effect (columns).
    pub g: DMatrix<f64>,
}

struct Inner<'s, 'a, M: Model> {
    subject: &'s SubjectProblem<'a, M>,
    shared: &'s Shared<'s>,
}

impl<M: Model> Clone for Inner<'_, '_, M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M: Model> Copy for Inner<'_, '_, M> {}

impl<M: Model> Inner<'_, '_, M> {
    fn l(&self, eta: &[f64]) -> f64 {
        let s = self.shared;
        let values = s.layout.individual(s.phi, &self.subject.covariates, eta);
        let Ok(params) = M::Params::from_values(&values) else {
            return f64::INFINITY;
        };
        let e = DVector::from_column_slice(eta);
        let prior = (e.transpose() * &s.omega_inv * &e)[(0, 0)];
        match self.subject.objective.minus_two_ll_at(&params, &s.errors) {
            Ok(v) if v.is_finite() => v + prior,
            _ => f64::INFINITY,
        }
    }
}

impl<M: Model> CostFunction for Inner<'_, '_, M> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, eta: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.l(eta))
    }
}

impl<M: Model> Gradient for Inner<'_, '_, M> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, eta: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        let mut x = eta.clone();
        Ok((0..eta.len())
            .map(|k| {
                x[k] = eta[k] + ETA_STEP;
                let up = self.l(&x);
                x[k] = eta[k] - ETA_STEP;
                let down = self.l(&x);
                x[k] = eta[k];
                (up - down) / (2.0 * ETA_STEP)
            })
            .collect())
    }
}

impl<'a, M: Model> SubjectProblem<'a, M> {
    /// Model parameters of this subject at `η`.
    pub fn params(&self, shared: &Shared, eta: &[f64]) -> Result<M::Params> {
        M::Params::from_values(&shared.layout.individual(shared.phi, &self.covariates, eta))
    }

    /// The EBE: restarted Nelder–Mead (argmin) from the last EBE. Derivative-free, so a
    /// trial `η` where the model cannot be evaluated (a log-scale prediction underflowing
    /// to 0 costs `+∞`) is only a worse point, never a failed line search.
    fn ebe(&self, shared: &Shared) -> Vec<f64> {
        let start = self.eta.lock().map(|e| e.clone()).unwrap_or_default();
        if start.is_empty() {
            return start;
        }
        let inner = Inner {
            subject: self,
            shared,
        };
        let settings = NelderMeadSettings {
            simplex_step: 0.1,
            max_restarts: 4,
            tolerance: 1e-9,
            max_iters: 2000,
        };
        match nelder_mead(inner, &start, settings) {
            Ok(outcome) if outcome.minus_two_ll.is_finite() => outcome.theta,
            _ => start,
        }
    }

    /// The subject's FOCE-I contribution at the shared `φ` (and its EBE, stored for the
    /// next call).
    pub fn contribution(&self, shared: &Shared) -> Result<Contribution> {
        let eta = self.ebe(shared);
        if let Ok(mut e) = self.eta.lock() {
            e.clone_from(&eta);
        }
        let inner = Inner {
            subject: self,
            shared,
        };
        let l_hat = inner.l(&eta);
        let rows: Vec<(bool, usize)> = self
            .objective
            .observation_rows()
            .map(|r| (r.4, r.5))
            .collect();
        let transform = |c: &[(f64, f64)]| -> Vec<f64> {
            c.iter()
                .zip(&rows)
                .map(|(&(pred, _), &(_, e))| shared.errors[e].transform(pred))
                .collect()
        };
        let transformed_at = |eta: &[f64]| -> Result<Vec<f64>> {
            let p = self.params(shared, eta)?;
            Ok(transform(
                &self.objective.contributions(&p, &shared.errors)?,
            ))
        };
        let params = self.params(shared, &eta)?;
        let preds = self.objective.contributions(&params, &shared.errors)?;
        let transformed = transform(&preds);
        let k = eta.len();
        let mut g = DMatrix::zeros(transformed.len(), k);
        let mut x = eta.clone();
        for c in 0..k {
            x[c] = eta[c] + ETA_STEP;
            let up = transformed_at(&x)?;
            x[c] = eta[c] - ETA_STEP;
            let down = transformed_at(&x)?;
            x[c] = eta[c];
            for r in 0..transformed.len() {
                g[(r, c)] = (up[r] - down[r]) / (2.0 * ETA_STEP);
            }
        }
        // Ω⁻¹ + GᵀV⁻¹G over quantified observations, + ½ H of the censored terms.
        let mut m = shared.omega_inv.clone();
        for (j, &(censored, e)) in rows.iter().enumerate() {
            if !censored {
                let v = shared.errors[e].sd(preds[j].0).powi(2);
                let gj = g.row(j);
                m += gj.transpose() * gj / v;
            }
        }
        if rows.iter().any(|r| r.0) {
            let censored_terms = |eta: &[f64]| -> f64 {
                let Ok(p) = self.params(shared, eta) else {
                    return f64::INFINITY;
                };
                match self.objective.contributions(&p, &shared.errors) {
                    Ok(c) => c
                        .iter()
                        .zip(&rows)
                        .filter(|(_, r)| r.0)
                        .map(|(c, _)| c.1)
                        .sum(),
                    Err(_) => f64::INFINITY,
                }
            };
            m += hessian(censored_terms, &eta, 1e-4) * 0.5;
        }
        let ln_det_m = m
            .cholesky()
            .map(|c| 2.0 * c.l().diagonal().iter().map(|d| d.ln()).sum::<f64>())
            .unwrap_or(f64::INFINITY);
        Ok(Contribution {
            eta,
            minus_two_ll: l_hat + shared.ln_det_omega + ln_det_m,
            transformed,
            g,
        })
    }
}
