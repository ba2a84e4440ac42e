//! One subject's part of a population fit: its empirical Bayes estimate (EBE) of `η` and
//! its FOCE-I contribution to the objective.
//!
//! With `l(η) = −2 ln p(y | η) + ηᵀΩ⁻¹η` (the MAP objective, `ln 2π` constants included),
//! the EBE is `η̂ = argmin l`, and the subject's contribution to −2 log-likelihood is the
//! Laplace approximation `l(η̂) + ln|Ω| + ln|H/2|` with `H/2 ≈ Ω⁻¹ + A`,
//! `A = Σ_quantified G_jᵀG_j / V_j + ½·Σ_censored t_j''·G_jᵀG_j`: `G_j = ∂q_j/∂η` at `η̂`
//! (`q_j` the prediction on the error model's scale), `V_j` the residual variance at `η̂`
//! (the interaction), and `t_j''` the exact curvature in `q_j` of a censored observation's
//! M3 term `−2 ln Φ(…)`, which is not Gaussian, so that FOCE-I's `1/V_j` does not apply
//! (the Laplacian form along the linearised model; as for quantified observations, the
//! model's own curvature `∂²q/∂η²` is left out, which keeps `A` positive semi-definite and
//! needs no second differences of ODE solutions). With `Ω = LLᵀ`, `ln|Ω| + ln|H/2|` is
//! computed as `ln|I + LᵀAL|`, which has no cancellation when a variance is small.

use super::ebe::MapProblem;
use super::params::Layout;
use crate::error::Result;
use crate::error_model::ErrorModel;
use crate::likelihood::Objective;
use crate::model::Model;
use crate::params::Parameters;
use nalgebra::DMatrix;
use std::sync::Mutex;

/// Models with up to this many parameters get a subject's values on the stack when its
/// parameters are formed for one prediction ([`SubjectProblem::with_params`]).
const STACK_PARAMETERS: usize = 64;

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
    /// Covariate terms per parameter set (one set unless covariates change over time).
    pub covariates: Vec<Vec<f64>>,
    /// The last EBE, the start of the next inner optimisation.
    pub start: WarmStart,
}

/// `ln|det L|` of a triangular matrix `L` (a Cholesky factor or its inverse): the sum of
/// the logs of its diagonal's magnitudes.
pub(crate) fn ln_det_triangular(l: &DMatrix<f64>) -> f64 {
    l.diagonal().iter().map(|d| d.abs().ln()).sum()
}

/// `ln|Ω| + ln|Ω⁻¹ + A|` of a subject's Laplace approximation, with `A` half the data
/// part of its EBE search's Fisher-scoring matrix (`information`: `GᵀV⁻¹G` over quantified
/// observations and `½·Σ t''·GᵀG` over censored ones), computed as `ln|I + LᵀAL|`
/// (`Ω = LLᵀ`), which stays accurate as a variance → 0; `+∞` where that matrix is not
/// positive definite.
pub(crate) fn laplace_ln_det(information: &DMatrix<f64>, omega_factor: &DMatrix<f64>) -> f64 {
    let k = information.nrows();
    let a = information * 0.5;
    (DMatrix::identity(k, k) + omega_factor.transpose() * a * omega_factor)
        .cholesky()
        .map(|c| 2.0 * ln_det_triangular(&c.l()))
        .unwrap_or(f64::INFINITY)
}

/// A subject's warm start: its last EBE, where its next inner optimisation begins, and the
/// model curvature of `l` there (at the population parameters of the last gradient), which
/// its next searches use as a quasi-Newton Hessian. Subjects are solved in parallel, each
/// writing only its own start; a lock makes that safe to share.
pub(crate) struct WarmStart(Mutex<Start>);

/// What a warm start holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Start {
    pub eta: Vec<f64>,
    pub curvature: Option<DMatrix<f64>>,
}

impl WarmStart {
    /// `η = 0` with `k` random effects, no curvature yet.
    pub fn at_zero(k: usize) -> Self {
        WarmStart(Mutex::new(Start {
            eta: vec![0.0; k],
            curvature: None,
        }))
    }

    /// The start and curvature of the next EBE search.
    pub fn read(&self) -> Start {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The start of the next EBE search.
    pub fn get(&self) -> Vec<f64> {
        self.0.lock().map(|s| s.eta.clone()).unwrap_or_default()
    }

    /// Replaces the start.
    pub fn set(&self, eta: &[f64]) {
        if let Ok(mut s) = self.0.lock() {
            s.eta.clear();
            s.eta.extend_from_slice(eta);
        }
    }

    /// Replaces the model curvature the next searches start with.
    pub fn set_curvature(&self, curvature: Option<DMatrix<f64>>) {
        if let Ok(mut s) = self.0.lock() {
            s.curvature = curvature;
        }
    }
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
    /// `f` of the model parameters of this subject at `η` (one set per covariate piece),
    /// without a vector for the usual single set (this runs per prediction).
    pub fn with_params<R>(
        &self,
        shared: &Shared,
        eta: &[f64],
        f: impl FnOnce(&[M::Params]) -> R,
    ) -> Result<R> {
        if let [terms] = &self.covariates[..] {
            let layout = &shared.layout;
            let mut stack = [0.0; STACK_PARAMETERS];
            if let Some(values) = stack.get_mut(..layout.base.len()) {
                layout.individual_into(shared.phi, terms, eta, values);
                let p = M::Params::from_values(values)?;
                return Ok(f(std::slice::from_ref(&p)));
            }
        }
        Ok(f(&self.params(shared, eta)?))
    }

    /// Model parameters of this subject at `η`: one set per covariate piece.
    pub fn params(&self, shared: &Shared, eta: &[f64]) -> Result<Vec<M::Params>> {
        let layout = &shared.layout;
        let mut values = vec![0.0; layout.base.len()];
        self.covariates
            .iter()
            .map(|terms| {
                layout.individual_into(shared.phi, terms, eta, &mut values);
                M::Params::from_values(&values)
            })
            .collect()
    }

    /// Computes the model curvature of `l` at the current start under the shared `φ`, for
    /// the searches that follow (none where the model cannot be solved there).
    pub fn refresh_curvature(&self, shared: &Shared) {
        let map = MapProblem::new(self, shared);
        let curvature = map.model_curvature(&self.start.get()).ok();
        self.start.set_curvature(curvature);
    }

    /// The subject's FOCE-I contribution at the shared `φ` (and its EBE, stored for the
    /// next call).
    pub fn contribution(&self, shared: &Shared) -> Result<Contribution> {
        let map = MapProblem::new(self, shared);
        let start = self.start.read();
        let lin = map.solve(&start.eta, start.curvature.as_ref())?;
        self.start.set(&lin.eta);
        Ok(Contribution {
            minus_two_ll: lin.l + laplace_ln_det(&lin.information, &shared.omega_factor),
            eta: lin.eta,
            transformed: lin.transformed,
            g: lin.g,
        })
    }
}
