//! The Gauss–Newton (Fisher-scoring) approximation of the Hessian of an individual −2LL,
//! with the exact gradient, for Levenberg–Marquardt fits
//! ([`Method::LevenbergMarquardt`](crate::fit::Method::LevenbergMarquardt)).
//!
//! With `q_j` the prediction of observation `j` on its error model's scale (`ln f` for a
//! log-additive error, `f` otherwise), `t_j` its −2 ln L term and `θ_m` the model
//! parameters on their estimation scale:
//!
//! - gradient: `Σ_j t_j'(f_j)·∂f_j/∂θ_m` (as [`Objective::gradient_from`]);
//! - model block: `Σ_j w_j·∂q_j/∂θ_m·∂q_j/∂θ_n`, `w_j = 2/sd_j²` (the Fisher information
//!   of a normal term in its mean) for a quantified value, and the curvature of the M3 term
//!   (≥ 0) for a censored one: the matrix of the FOCE-I linearisation, here along `θ`;
//! - residual-error block: the Hessian of `Σ_j t_j` at fixed predictions (central second
//!   differences, no model solution);
//! - model × residual block: 0, its expectation where the SD does not move with the mean.
//!
//! `∂f/∂θ` comes from the predictions' forward sensitivities where the subject is solved as
//! an ODE (one augmented solution), from central differences of solutions otherwise (exact
//! solutions, or sensitivities that fail). The matrix is positive semi-definite; near the optimum
//! it differs from the Hessian by terms that scale with the residuals, so the steps
//! converge fast where the model describes the data and linearly otherwise, each at the
//! cost of one sensitivity solution.

use super::gradient::PredictionJacobian;
use super::objective::{Objective, Obs};
use crate::error_model::ErrorModel;
use crate::model::Model;
use crate::optim::differences::{INDIVIDUAL_GRADIENT_STEP, hessian};
use argmin::core::{CostFunction, Error, Gradient, Hessian};
use nalgebra::DMatrix;
use std::cell::RefCell;
use std::sync::atomic::Ordering;

/// Relative step of the second difference of a censored observation's term in its
/// prediction on the error model's scale (the M3 curvature): `10⁻³` leaves a rounding
/// error near `10⁻¹⁰` relative and a truncation error near `10⁻⁷`, smooth in the
/// prediction; `10⁻⁵` left rounding noise near `10⁻⁵` relative, which reached the FOCE-I
/// objective.
pub(crate) const CURVATURE_STEP: f64 = 1e-3;

/// Step of the second differences along the residual-error parameters (estimation scale):
/// their terms are smooth to rounding at fixed predictions.
const RESIDUAL_CURVATURE_STEP: f64 = 1e-3;

impl Obs {
    /// The information `w` of this observation's term in its prediction on the error
    /// model's scale: `2/sd²` (`sd` at the prediction `pred`, model units) for a quantified
    /// value; for a censored one, the curvature of its M3 term there (central second
    /// difference with relative step [`CURVATURE_STEP`], at least 0).
    pub(crate) fn information(&self, errors: &[ErrorModel], pred: f64) -> f64 {
        let m = &errors[self.error];
        if self.censored {
            let q = m.transform(pred);
            let t = |q: f64| self.term(errors, m.untransform(q));
            // a wide step for the second difference: its rounding error (ε·t/h²) would be
            // noise in the objective; its truncation error (h²) is smooth in q
            let h = CURVATURE_STEP * (1.0 + q.abs());
            ((t(q + h) - 2.0 * t(q) + t(q - h)) / (h * h)).max(0.0)
        } else {
            2.0 / m.sd(pred).powi(2)
        }
    }
}

/// The gradient of −2LL at one point and its Fisher-scoring matrix (module docs), on the
/// estimation scale.
#[derive(Debug, Clone)]
pub(crate) struct Scoring {
    /// `∂(−2LL)/∂θ`.
    pub gradient: Vec<f64>,
    /// The Gauss–Newton approximation of `∂²(−2LL)/∂θ²`.
    pub matrix: DMatrix<f64>,
}

impl<M: Model> Objective<'_, M> {
    /// The gradient and the scoring matrix at `θ` (module docs); `None` where the model
    /// cannot be solved at or beside `θ`, or a result is not finite.
    pub(crate) fn scoring(&self, theta: &[f64]) -> Option<Scoring> {
        let jacobian = match self.sensitivity_jacobian(theta) {
            Some(j) => j,
            None => self.difference_jacobian(theta)?,
        };
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        let gradient = self.gradient_from(theta, &jacobian)?;
        let (_, errors) = self.unpack(theta).ok()?;
        let p = theta.len();
        let PredictionJacobian {
            predictions,
            derivatives,
            modelled,
        } = &jacobian;
        let k = modelled.len();
        let mut matrix = DMatrix::zeros(p, p);
        for (r, o) in self.obs.iter().enumerate() {
            let f = predictions[r];
            let dq = if errors[o.error].is_log_scale() {
                1.0 / f
            } else {
                1.0
            };
            let w = o.information(&errors, f) * dq * dq;
            let row = &derivatives[r * k..(r + 1) * k];
            for (a, &i) in modelled.iter().enumerate() {
                for (b, &j) in modelled.iter().enumerate() {
                    matrix[(i, j)] += w * row[a] * row[b];
                }
            }
        }
        let residual: Vec<usize> = (0..p).filter(|i| !modelled.contains(i)).collect();
        if !residual.is_empty() {
            let at: Vec<f64> = residual.iter().map(|&i| theta[i]).collect();
            let terms = |v: &[f64]| {
                let mut u = theta.to_vec();
                for (&i, &x) in residual.iter().zip(v) {
                    u[i] = x;
                }
                self.terms_at(&u, predictions).unwrap_or(f64::INFINITY)
            };
            let block = hessian(terms, &at, RESIDUAL_CURVATURE_STEP);
            for (a, &i) in residual.iter().enumerate() {
                for (b, &j) in residual.iter().enumerate() {
                    matrix[(i, j)] = block[(a, b)];
                }
            }
        }
        matrix
            .iter()
            .all(|v| v.is_finite())
            .then_some(Scoring { gradient, matrix })
    }

    /// The predictions at `θ` and their derivatives along its model parameters by central
    /// differences of solutions (step `10⁻⁴` on the estimation scale); `None` where a side
    /// cannot be solved.
    pub(crate) fn difference_jacobian(&self, theta: &[f64]) -> Option<PredictionJacobian> {
        let predict = |u: &[f64]| -> Option<Vec<f64>> {
            let (params, _) = self.unpack(u).ok()?;
            self.evaluations.fetch_add(1, Ordering::Relaxed);
            self.predict(std::slice::from_ref(&params)).ok()
        };
        let predictions = predict(theta)?;
        let modelled = self.modelled();
        let (n, k, h) = (predictions.len(), modelled.len(), INDIVIDUAL_GRADIENT_STEP);
        let mut derivatives = vec![0.0; n * k];
        let mut u = theta.to_vec();
        for (c, &i) in modelled.iter().enumerate() {
            u[i] = theta[i] + h;
            let up = predict(&u)?;
            u[i] = theta[i] - h;
            let down = predict(&u)?;
            u[i] = theta[i];
            for r in 0..n {
                derivatives[r * k + c] = (up[r] - down[r]) / (2.0 * h);
            }
        }
        Some(PredictionJacobian {
            predictions,
            derivatives,
            modelled,
        })
    }
}

/// An individual −2LL as Levenberg–Marquardt sees it: its cost, and its gradient and
/// scoring matrix from one sensitivity solution (kept for the matrix the solver asks for
/// next, at the same point).
pub(crate) struct Scored<'o, 'a, M: Model> {
    objective: &'o Objective<'a, M>,
    last: RefCell<Option<(Vec<f64>, Scoring)>>,
}

impl<'o, 'a, M: Model> Scored<'o, 'a, M> {
    pub fn new(objective: &'o Objective<'a, M>) -> Self {
        Scored {
            objective,
            last: RefCell::new(None),
        }
    }

    /// The scoring at `θ`, from the last one where `θ` is its point.
    fn at(&self, theta: &[f64]) -> Result<Scoring, Error> {
        if let Some((x, s)) = self.last.borrow().as_ref()
            && x == theta
        {
            return Ok(s.clone());
        }
        let s = self
            .objective
            .scoring(theta)
            .ok_or_else(|| Error::msg("the model cannot be differentiated at these parameters"))?;
        *self.last.borrow_mut() = Some((theta.to_vec(), s.clone()));
        Ok(s)
    }
}

impl<M: Model> CostFunction for Scored<'_, '_, M> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, theta: &Vec<f64>) -> Result<f64, Error> {
        Ok(self.objective.cost_or_infinity(theta))
    }
}

impl<M: Model> Gradient for Scored<'_, '_, M> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, theta: &Vec<f64>) -> Result<Vec<f64>, Error> {
        Ok(self.at(theta)?.gradient)
    }
}

impl<M: Model> Hessian for Scored<'_, '_, M> {
    type Param = Vec<f64>;
    type Hessian = DMatrix<f64>;

    fn hessian(&self, theta: &Vec<f64>) -> Result<DMatrix<f64>, Error> {
        Ok(self.at(theta)?.matrix)
    }
}
