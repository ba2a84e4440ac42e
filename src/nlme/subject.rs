//! One subject's part of a population fit: its empirical Bayes estimate (EBE) of `η` and
//! its FOCE-I contribution to the objective.
//!
//! With `l(η) = −2 ln p(y | η) + ηᵀΩ⁻¹η` (the MAP objective, `ln 2π` constants included),
//! the EBE is `η̂ = argmin l`, and the subject's contribution to −2 log-likelihood is the
//! Laplace approximation `l(η̂) + ln|Ω| + ln|H/2|` with `H/2 ≈ Ω⁻¹ + GᵀV⁻¹G + ½·H_cens`:
//! `G = ∂f/∂η` at `η̂` for the quantified observations (on the error model's scale), `V`
//! their residual variances at `η̂` (the interaction), and `H_cens` the exact Hessian of the
//! censored (M3) terms, for which the first-order linearization does not apply. With
//! `Ω = LLᵀ`, `ln|Ω| + ln|H/2|` is computed as `ln|I + Lᵀ(GᵀV⁻¹G + ½·H_cens)L|`, which has
//! no cancellation when a variance is small.

use super::ebe::MapProblem;
use super::params::Layout;
use crate::error::Result;
use crate::error_model::ErrorModel;
use crate::fit::Objective;
use crate::fit::covariance::hessian;
use crate::model::Model;
use crate::params::Parameters;
use nalgebra::DMatrix;
use std::sync::Mutex;

/// What the outer objective needs at one `φ`, shared by every subject.
pub(crate) struct Shared<'l> {
    pub layout: &'l Layout,
    pub phi: &'l [f64],
    pub omega_inv: DMatrix<f64>,
    /// Cholesky factor `L` of `Ω = LLᵀ`.
    pub omega_factor: DMatrix<f64>,
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

impl<'a, M: Model> SubjectProblem<'a, M> {
    /// Model parameters of this subject at `η`.
    pub fn params(&self, shared: &Shared, eta: &[f64]) -> Result<M::Params> {
        M::Params::from_values(&shared.layout.individual(shared.phi, &self.covariates, eta))
    }

    /// The subject's FOCE-I contribution at the shared `φ` (and its EBE, stored for the
    /// next call).
    pub fn contribution(&self, shared: &Shared) -> Result<Contribution> {
        let start = self.eta.lock().map(|e| e.clone()).unwrap_or_default();
        let map = MapProblem::new(self, shared);
        let lin = map.solve(&start)?;
        if let Ok(mut e) = self.eta.lock() {
            e.clone_from(&lin.eta);
        }
        let eta = lin.eta;
        let observations = self.objective.observations();
        // A = GᵀV⁻¹G over quantified observations + ½ H of the censored terms; then
        // ln|Ω| + ln|Ω⁻¹ + A| = ln|I + LᵀAL|, which stays accurate as a variance → 0.
        let k = eta.len();
        let mut m = DMatrix::zeros(k, k);
        for (j, o) in observations.iter().enumerate() {
            if !o.censored {
                let v = shared.errors[o.error].sd(lin.predictions[j]).powi(2);
                let gj = lin.g.row(j);
                m += gj.transpose() * gj / v;
            }
        }
        if observations.iter().any(|o| o.censored) {
            let censored_terms = |eta: &[f64]| -> f64 {
                match map.predictions(eta) {
                    Ok(p) => observations
                        .iter()
                        .zip(p)
                        .filter(|(o, _)| o.censored)
                        .map(|(o, p)| o.term(&shared.errors, p))
                        .sum(),
                    Err(_) => f64::INFINITY,
                }
            };
            m += hessian(censored_terms, &eta, 1e-4) * 0.5;
        }
        let l = &shared.omega_factor;
        let ln_det_m = (DMatrix::identity(k, k) + l.transpose() * m * l)
            .cholesky()
            .map(|c| 2.0 * c.l().diagonal().iter().map(|d| d.ln()).sum::<f64>())
            .unwrap_or(f64::INFINITY);
        Ok(Contribution {
            eta,
            minus_two_ll: lin.l + ln_det_m,
            transformed: lin.transformed,
            g: lin.g,
        })
    }
}
