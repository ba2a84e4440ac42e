//! Exact derivatives of a subject's predictions and of its −2 log-likelihood from the
//! forward sensitivities of the ODE solution ([`crate::simulate_sensitivities`]).
//!
//! With `θ` the estimated parameters, `f_j` the predictions and `t_j(f_j)` the −2 ln L
//! terms of the observations, `∂(−2LL)/∂θ_m = Σ_j t_j'(f_j)·∂f_j/∂θ_m` for a model
//! parameter (`∂f/∂θ` from the sensitivities along `θ ± h·e_m`, `h = 10⁻⁵` on the
//! estimation scale; `t'` by a central difference of the closed-form term with relative
//! step `10⁻⁶`), and by central differences of the terms at fixed predictions for a
//! residual-error parameter (no model solution needed). One augmented solution replaces the
//! `2p` solutions of differences, and the result carries none of their step-selection
//! noise.

use super::objective::{Objective, Target};
use crate::error::Result;
use crate::model::Model;
use crate::optim::differences::INDIVIDUAL_GRADIENT_STEP;
use crate::simulate::sensitivity::{Directions, run_plan_sensitivities};
use crate::simulate::{SENSITIVITY_STEP, SolverOptions};
use std::sync::atomic::Ordering;

/// The predictions of the observations at `θ` and their derivatives along its model
/// parameters.
#[derive(Debug, Clone)]
pub(crate) struct PredictionJacobian {
    /// One per observation in the likelihood, in order.
    pub predictions: Vec<f64>,
    /// Observations × model parameters, row by row: `∂f_j/∂θ_m` on the estimation scale.
    pub derivatives: Vec<f64>,
    /// The coordinates of `θ` that are model parameters, in the columns' order.
    pub modelled: Vec<usize>,
}

/// Predictions of the observations and their derivatives along each direction.
#[derive(Debug, Clone)]
pub(crate) struct PredictionSensitivities {
    /// One per observation in the likelihood, in order.
    pub predictions: Vec<f64>,
    /// Observations × directions, row by row.
    pub derivatives: Vec<f64>,
}

impl<M: Model> Objective<'_, M> {
    /// The predictions and their derivatives along `dirs` by forward sensitivities, or
    /// `None` where the subject is solved exactly (differences of exact solutions then
    /// serve; known after the first call).
    ///
    /// # Errors
    /// Whatever the simulation reports, with the subject named.
    pub(crate) fn prediction_sensitivities(
        &self,
        pieces: &[M::Params],
        dirs: &Directions<M::Params>,
    ) -> Result<Option<PredictionSensitivities>> {
        if self.known_exact() {
            return Ok(None);
        }
        let n_out = self.model.outputs().len();
        let k = dirs.plus.len();
        let run = run_plan_sensitivities(
            self.model,
            pieces,
            dirs,
            &self.plan,
            &self.solver,
            self.nocb,
        )
        .map_err(|e| e.in_subject(&self.subject))?;
        // whether the plan is solved exactly does not change with the parameters (a linear
        // model, a closed form for these doses): ask once
        let _ = self.exact.set(run.is_none());
        Ok(run.map(|s| {
            let mut predictions = Vec::with_capacity(self.obs.len());
            let mut derivatives = Vec::with_capacity(self.obs.len() * k);
            for (slot, o) in self.obs.iter().enumerate() {
                predictions.push(s.outputs[slot * n_out + o.output]);
                derivatives
                    .extend((0..k).map(|j| s.derivatives[(slot * k + j) * n_out + o.output]));
            }
            PredictionSensitivities {
                predictions,
                derivatives,
            }
        }))
    }

    /// The ODE solver settings of the predictions.
    pub(crate) fn solver_options(&self) -> &SolverOptions {
        &self.solver
    }

    /// Whether the subject is known to be solved exactly (after a first call of
    /// [`prediction_sensitivities`](Self::prediction_sensitivities)): then there are no
    /// sensitivities to ask for.
    pub(crate) fn known_exact(&self) -> bool {
        self.exact.get() == Some(&true)
    }

    /// The gradient of −2LL at `θ` from the predictions' forward sensitivities (module
    /// docs), or `None` where there are none (an exact solution), a
    /// side of a parameter leaves its domain, or the result is not finite.
    pub(crate) fn sensitivity_gradient(&self, theta: &[f64]) -> Option<Vec<f64>> {
        let jacobian = self.sensitivity_jacobian(theta)?;
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        self.gradient_from(theta, &jacobian)
    }

    /// The model-parameter coordinates of `θ`, in order.
    pub(crate) fn modelled(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&i| matches!(self.slots[i].target, Target::Model(_)))
            .collect()
    }

    /// The predictions at `θ` and their derivatives along its model parameters from
    /// forward sensitivities; `None` as for
    /// [`sensitivity_gradient`](Self::sensitivity_gradient).
    pub(crate) fn sensitivity_jacobian(&self, theta: &[f64]) -> Option<PredictionJacobian> {
        if self.known_exact() {
            return None;
        }
        let (params, _) = self.unpack(theta).ok()?;
        let h = SENSITIVITY_STEP;
        let modelled = self.modelled();
        let mut dirs = Directions {
            plus: Vec::with_capacity(modelled.len()),
            minus: Vec::with_capacity(modelled.len()),
            h,
        };
        let mut u = theta.to_vec();
        for &i in &modelled {
            u[i] = theta[i] + h;
            dirs.plus.push(vec![self.unpack(&u).ok()?.0]);
            u[i] = theta[i] - h;
            dirs.minus.push(vec![self.unpack(&u).ok()?.0]);
            u[i] = theta[i];
        }
        let one = std::slice::from_ref(&params);
        let s = self.prediction_sensitivities(one, &dirs).ok()??;
        Some(PredictionJacobian {
            predictions: s.predictions,
            derivatives: s.derivatives,
            modelled,
        })
    }

    /// The gradient of −2LL at `θ` from the predictions there and their derivatives along
    /// the model parameters: `Σ_j t_j'(f_j)·∂f_j/∂θ_m` (`t'` by a central difference with
    /// relative step `10⁻⁶`), and central differences of the terms at fixed predictions
    /// along the residual-error parameters. `None` where it is not finite.
    pub(crate) fn gradient_from(
        &self,
        theta: &[f64],
        jacobian: &PredictionJacobian,
    ) -> Option<Vec<f64>> {
        let (_, errors) = self.unpack(theta).ok()?;
        let PredictionJacobian {
            predictions,
            derivatives,
            modelled,
        } = jacobian;
        let k = modelled.len();
        let mut g = vec![0.0; theta.len()];
        for (r, o) in self.obs.iter().enumerate() {
            let f = predictions[r];
            let d = if f == 0.0 { 1e-9 } else { 1e-6 * f.abs() };
            let slope = (o.term(&errors, f + d) - o.term(&errors, f - d)) / (2.0 * d);
            for (c, &i) in modelled.iter().enumerate() {
                g[i] += slope * derivatives[r * k + c];
            }
        }
        let step = INDIVIDUAL_GRADIENT_STEP;
        let mut u = theta.to_vec();
        for i in (0..theta.len()).filter(|i| !modelled.contains(i)) {
            u[i] = theta[i] + step;
            let up = self.terms_at(&u, predictions)?;
            u[i] = theta[i] - step;
            let down = self.terms_at(&u, predictions)?;
            u[i] = theta[i];
            g[i] = (up - down) / (2.0 * step);
        }
        g.iter().all(|v| v.is_finite()).then_some(g)
    }

    /// `Σ_j t_j` with the error models of `θ` at fixed `predictions` (no model solution);
    /// `None` where `θ` is outside the error models' domain.
    pub(crate) fn terms_at(&self, theta: &[f64], predictions: &[f64]) -> Option<f64> {
        let (_, errors) = self.unpack(theta).ok()?;
        let sum = self.obs.iter().zip(predictions);
        Some(sum.map(|(o, &f)| o.term(&errors, f)).sum())
    }
}
