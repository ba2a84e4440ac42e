//! The inner problem of FOCE-I: one subject's empirical Bayes estimate (EBE)
//! `η̂ = argmin l(η)`, `l(η) = −2 ln p(y | η) + ηᵀΩ⁻¹η`.
//!
//! With `q_j(η)` the prediction of observation `j` on its error model's scale and
//! `G = ∂q/∂η`, the gradient is `∇l = 2Ω⁻¹η + Σ_j t_j'(q_j)·G_j` (`t_j` the observation's
//! −2 ln L term), and the Hessian is approximated by Fisher scoring,
//! `2Ω⁻¹ + Σ_j w_j·G_jᵀG_j` with `w_j = 2/V_j` for a quantified observation (`V_j` its
//! residual variance) and the curvature of `t_j` (clamped at 0) for a censored one.
//! Levenberg–Marquardt steps ([`Marquardt`], an argmin solver) then need one linearisation
//! per accepted step, where Nelder–Mead needs hundreds of solutions. A search that starts
//! from a nearby EBE with the model curvature computed there (the population fit's outer
//! gradient gives it for every subject) first takes quasi-Newton steps
//! with that curvature frozen, which converge in two or three steps. Fisher scoring
//! converges linearly, and slowly where residuals are large or the model predicts censored
//! data above the LLOQ; a search that has not converged after [`FISHER_ITERS`] steps
//! continues with Newton steps on the exact Hessian, which adds the model's curvature
//! `Σ_j t_j'·∂²q_j/∂η²` (by central differences of `q` with `h = 10⁻³`: `2k²` further
//! solutions per step for `k` random effects). Restarted Nelder–Mead remains the fallback
//! when the model cannot be linearised at the start.
//!
//! `G` comes from the forward sensitivities of the predictions along each random effect
//! where the subject is solved as an ODE (one augmented solution; no solver noise, see
//! [`crate::simulate_sensitivities`]), from forward differences where it is solved exactly
//! (`k` more solutions, `h = 10⁻⁶`: exact solutions carry no solver noise; on Theophylline
//! the objective's noise is 2–4·10⁻⁹ against 5–9·10⁻¹⁰ with central differences, and the
//! OFV moves by 1·10⁻⁵), else (an ODE whose sensitivities fail, e.g. a parameter within
//! their step of the edge of its domain) from central differences (`2k` more,
//! `h = 10⁻³`). Differences of adaptive ODE
//! solutions needed that large a step:
//! with relative tolerance `10⁻⁶`, a step of `10⁻⁵` gave `G` errors near 1% where the
//! solver's step sequence changed between `η ± h`, and the FOCE-I objective jumped by up to
//! 0.01.

mod curvature;

use super::subject::{Shared, SubjectProblem};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::optim::differences::ETA_STEP;
use crate::optim::solver::marquardt::Marquardt;
use crate::optim::solver::nelder_mead::{NelderMeadSettings, nelder_mead};
use crate::simulate::SENSITIVITY_STEP;
use crate::simulate::sensitivity::Directions;
use argmin::core::{
    CostFunction, Executor, Gradient, Hessian, State, TerminationReason, TerminationStatus,
};
use nalgebra::DMatrix;
use std::cell::RefCell;
use std::rc::Rc;

/// The smallest Newton decrement `gᵀH⁻¹g` (in units of −2LL) at which the EBE has
/// converged; see [`MapProblem::decrement_tolerance`].
const DECREMENT_FLOOR: f64 = 1e-16;

/// A decrement below which a refused step ends the search as converged: the decrease left
/// is below what differences of `l` resolve (ODE solutions carry relative errors ~ rtol).
const RESOLVABLE_DECREMENT: f64 = 1e-7;

/// Step in `η` of the forward differences that give `G` where a subject is solved exactly
/// (closed form or linear system): with no solver noise, the truncation error (`h/2` times
/// the curvature of `q`, near `10⁻⁶` relative and smooth in the parameters) and the rounding
/// error (`ε·|q|/h`, near `2·10⁻¹⁰` relative) are both far below what the FOCE-I objective
/// resolves, for `k` solutions where central differences take `2k`.
const EXACT_ETA_STEP: f64 = 1e-6;

/// Fisher-scoring iterations before Newton steps take over.
const FISHER_ITERS: u64 = 8;

/// Quasi-Newton iterations with a frozen model curvature before Fisher scoring takes over.
const FROZEN_ITERS: u64 = 8;

/// Largest number of Newton iterations per EBE.
const MAX_ITERS: u64 = 50;

/// The fallback search where the model cannot be linearised: simplex edge 0.1, 4 restarts,
/// tolerance 10⁻⁹ on `l`, 2000 iterations.
const FALLBACK: NelderMeadSettings = NelderMeadSettings::new(0.1, 4, 1e-9, 2000);

/// The model linearised around `η`.
#[derive(Debug, Clone)]
pub(crate) struct Linearization {
    pub eta: Vec<f64>,
    /// `l(η)`.
    pub l: f64,
    /// Predictions in model units.
    pub predictions: Vec<f64>,
    /// Predictions on the error model's scale.
    pub transformed: Vec<f64>,
    /// `∂q/∂η`, observations × random effects.
    pub g: DMatrix<f64>,
    /// The data part of the Fisher-scoring Hessian, `Σ_j w_j·G_jᵀG_j`.
    pub information: DMatrix<f64>,
    /// `∇l`.
    pub gradient: Vec<f64>,
    /// `t_j'(q_j)` per observation.
    slopes: Vec<f64>,
    /// `q` at `η ± h·e_c` per random effect `c`, where `G` came from them.
    sides: Option<Vec<Sides>>,
}

impl Linearization {
    /// Whether `G` came from central differences of ODE solutions (where the forward
    /// sensitivities failed), which carry the solver's step-selection noise.
    pub fn g_from_solution_differences(&self) -> bool {
        self.sides.is_some()
    }
}

/// Predictions on the error models' scales either side of `η` along one random effect.
#[derive(Debug, Clone)]
struct Sides {
    /// At `η + h·e_c`.
    up: Vec<f64>,
    /// At `η − h·e_c`.
    down: Vec<f64>,
}

/// `l(η)` of one subject at the shared population parameters: an argmin problem.
pub(crate) struct MapProblem<'s, 'a, M: Model> {
    pub subject: &'s SubjectProblem<'a, M>,
    pub shared: &'s Shared<'s>,
    last: RefCell<Option<Rc<Linearization>>>,
    /// The last evaluation of `l`, whose predictions a linearisation there reuses.
    evaluated: RefCell<Evaluated>,
}

/// `η` and the model's predictions at the last evaluation of `l` (`valid` once there was
/// one: without random effects every `η` is the empty one).
#[derive(Debug, Clone, Default)]
struct Evaluated {
    valid: bool,
    eta: Vec<f64>,
    predictions: Vec<f64>,
}

/// What the Hessian of `l` given to the Marquardt solver contains.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Curvature<'c> {
    /// `2Ω⁻¹ + Σ_j w_j·G_jᵀG_j` (Fisher scoring).
    Fisher,
    /// Fisher scoring plus the model's curvature `Σ_j t_j'·∂²q_j/∂η²` (Newton).
    Newton,
    /// Fisher scoring plus a model curvature computed earlier, at nearby `η` and population
    /// parameters (a quasi-Newton step that costs no second differences).
    Frozen(&'c DMatrix<f64>),
}

/// The EBE problem as argmin sees it: `l`, its gradient, and the Hessian of the chosen
/// [`Curvature`].
struct Search<'p, 's, 'a, M: Model> {
    map: &'p MapProblem<'s, 'a, M>,
    curvature: Curvature<'p>,
}

impl<M: Model> Clone for Search<'_, '_, '_, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: Model> Copy for Search<'_, '_, '_, M> {}

impl<'s, 'a, M: Model> MapProblem<'s, 'a, M> {
    pub fn new(subject: &'s SubjectProblem<'a, M>, shared: &'s Shared<'s>) -> Self {
        MapProblem {
            subject,
            shared,
            last: RefCell::new(None),
            evaluated: RefCell::new(Evaluated::default()),
        }
    }

    /// Predictions at `η` (model units), or an error where the model cannot be evaluated.
    fn predictions(&self, eta: &[f64]) -> Result<Vec<f64>> {
        let objective = &self.subject.objective;
        self.subject
            .with_params(self.shared, eta, |params| objective.predict(params))?
    }

    /// Predictions on the error models' scales.
    fn transform(&self, predictions: &[f64]) -> Vec<f64> {
        self.transformed(predictions.to_vec())
    }

    /// `predictions` moved to the error models' scales, in place.
    fn transformed(&self, mut predictions: Vec<f64>) -> Vec<f64> {
        let errors = &self.shared.errors;
        for (p, o) in predictions
            .iter_mut()
            .zip(self.subject.objective.observations())
        {
            *p = errors[o.error].transform(*p);
        }
        predictions
    }

    /// `l(η)`, `+∞` where the model cannot be evaluated.
    pub fn l(&self, eta: &[f64]) -> f64 {
        let s = self.shared;
        let objective = &self.subject.objective;
        let terms = self
            .subject
            .with_params(s, eta, |params| objective.contributions(params, &s.errors));
        let Ok(Ok(terms)) = terms else {
            return f64::INFINITY;
        };
        let prior = quadratic_form(&s.omega_inv, eta);
        let v: f64 = terms.iter().map(|c| c.minus_two_ll).sum();
        let mut evaluated = self.evaluated.borrow_mut();
        evaluated.eta.clear();
        evaluated.eta.extend_from_slice(eta);
        evaluated.predictions.clear();
        (evaluated.predictions).extend(terms.iter().map(|c| c.prediction));
        evaluated.valid = true;
        if v.is_finite() {
            v + prior
        } else {
            f64::INFINITY
        }
    }

    /// `G = ∂q/∂η` by forward differences of exact solutions (step [`EXACT_ETA_STEP`]) from
    /// `q` at `η`: `k` solutions.
    fn forward_g(&self, eta: &[f64], transformed: &[f64]) -> Result<DMatrix<f64>> {
        let h = EXACT_ETA_STEP;
        let mut x = eta.to_vec();
        let mut g = DMatrix::zeros(transformed.len(), eta.len());
        for c in 0..eta.len() {
            let up = self.transformed_moved(eta, &mut x, &[(c, h)])?;
            for (r, (u, q)) in up.iter().zip(transformed).enumerate() {
                g[(r, c)] = (u - q) / h;
            }
        }
        Ok(g)
    }

    /// `G = ∂q/∂η` from the forward sensitivities of the predictions along each random
    /// effect (the parameters at `η ± h·e_c`, `h` = [`SENSITIVITY_STEP`]), with
    /// `∂q/∂f = 1/f` on the log scale; `None` where the subject is solved exactly or its
    /// sensitivities fail (then differences of solutions serve).
    fn sensitivity_g(&self, eta: &[f64], predictions: &[f64]) -> Option<DMatrix<f64>> {
        let (s, h, k) = (self.subject, SENSITIVITY_STEP, eta.len());
        if s.objective.known_exact() {
            return None;
        }
        let mut dirs = Directions {
            plus: Vec::with_capacity(k),
            minus: Vec::with_capacity(k),
            h,
        };
        let mut moved = eta.to_vec();
        for c in 0..k {
            moved[c] = eta[c] + h;
            dirs.plus.push(s.params(self.shared, &moved).ok()?);
            moved[c] = eta[c] - h;
            dirs.minus.push(s.params(self.shared, &moved).ok()?);
            moved[c] = eta[c];
        }
        let params = s.params(self.shared, eta).ok()?;
        let d = s
            .objective
            .prediction_sensitivities(&params, &dirs)
            .ok()??
            .derivatives;
        let errors = &self.shared.errors;
        let mut g = DMatrix::zeros(predictions.len(), k);
        for (r, o) in s.objective.observations().iter().enumerate() {
            let slope = if errors[o.error].is_log_scale() {
                1.0 / predictions[r]
            } else {
                1.0
            };
            for c in 0..k {
                g[(r, c)] = slope * d[r * k + c];
            }
        }
        Some(g)
    }

    /// `G = ∂q/∂η` at `η` (with the predictions there, in model units and on the error
    /// models' scales): from sensitivities, forward differences of exact solutions, or
    /// central differences of solutions (then with the sides they came from).
    fn g(
        &self,
        eta: &[f64],
        predictions: &[f64],
        transformed: &[f64],
    ) -> Result<(DMatrix<f64>, Option<Vec<Sides>>)> {
        if let Some(g) = self.sensitivity_g(eta, predictions) {
            return Ok((g, None));
        }
        if self.subject.objective.known_exact() {
            return Ok((self.forward_g(eta, transformed)?, None));
        }
        let sides = self.sides(eta)?;
        let mut g = DMatrix::zeros(transformed.len(), eta.len());
        for (c, s) in sides.iter().enumerate() {
            for r in 0..transformed.len() {
                g[(r, c)] = (s.up[r] - s.down[r]) / (2.0 * ETA_STEP);
            }
        }
        Ok((g, Some(sides)))
    }

    /// The linearisation at `η` (shared with the cache when `η` is the last point
    /// linearised).
    pub fn linearize(&self, eta: &[f64]) -> Result<Rc<Linearization>> {
        if let Some(last) = self.last.borrow().as_ref().filter(|l| l.eta == eta) {
            return Ok(Rc::clone(last));
        }
        let cached = {
            let e = self.evaluated.borrow();
            (e.valid && e.eta == eta).then(|| e.predictions.clone())
        };
        let predictions = match cached {
            Some(p) => p,
            None => self.predictions(eta)?,
        };
        let transformed = self.transform(&predictions);
        let (g, sides) = self.g(eta, &predictions, &transformed)?;
        let lin = Rc::new(Linearization {
            sides,
            ..self.assemble(eta, predictions, transformed, g)?
        });
        *self.last.borrow_mut() = Some(Rc::clone(&lin));
        Ok(lin)
    }

    /// The linearisation at `η` from the predictions there (model units and on the error
    /// models' scales) and `G`: `l`, its gradient and the Fisher information under this
    /// problem's population parameters. With the predictions and `G` of another problem of
    /// the same subject whose parameters are the same at `η` (only Ω or σ differ), it is
    /// this problem's linearisation without a model solution.
    ///
    /// # Errors
    /// [`Error::LikelihoodNotFinite`] where an observation's term has no finite slope or
    /// weight.
    pub fn assemble(
        &self,
        eta: &[f64],
        predictions: Vec<f64>,
        transformed: Vec<f64>,
        g: DMatrix<f64>,
    ) -> Result<Linearization> {
        let k = eta.len();
        let omega_inv = &self.shared.omega_inv;
        let mut l = quadratic_form(omega_inv, eta);
        // 2Ω⁻¹η
        let mut gradient: Vec<f64> = (0..k)
            .map(|a| 2.0 * (0..k).map(|b| omega_inv[(a, b)] * eta[b]).sum::<f64>())
            .collect();
        let mut information = DMatrix::zeros(k, k);
        let mut slopes = Vec::with_capacity(transformed.len());
        let errors = &self.shared.errors;
        for (j, o) in self.subject.objective.observations().iter().enumerate() {
            let m = &errors[o.error];
            let q = transformed[j];
            let t = |q: f64| o.term(errors, m.untransform(q));
            let slope = o.constant_variance_slope(errors, q).unwrap_or_else(|| {
                let h = 1e-5 * (1.0 + q.abs());
                (t(q + h) - t(q - h)) / (2.0 * h)
            });
            let weight = o.information(errors, predictions[j]);
            if !(slope.is_finite() && weight.is_finite()) {
                return Err(Error::LikelihoodNotFinite {
                    subject: self.subject.objective.subject().to_owned(),
                    analyte: self.subject.objective.analyte(o).to_owned(),
                    time: o.time,
                });
            }
            l += o.term(errors, predictions[j]);
            // gradient += G_jᵀ·slope and information += w·G_jᵀG_j, without temporaries
            for a in 0..k {
                let ga = g[(j, a)];
                gradient[a] += ga * slope;
                for b in 0..k {
                    information[(a, b)] += weight * ga * g[(j, b)];
                }
            }
            slopes.push(slope);
        }
        Ok(Linearization {
            eta: eta.to_vec(),
            l,
            predictions,
            transformed,
            g,
            information,
            gradient,
            slopes,
            sides: None,
        })
    }

    /// Marquardt steps from `from`. With a `frozen` model curvature (from an earlier EBE
    /// nearby), quasi-Newton steps with it first. Otherwise, or where those have not
    /// converged after [`FROZEN_ITERS`] steps, Fisher scoring; where that has not converged
    /// after [`FISHER_ITERS`] steps (linear convergence, e.g. with large residuals or
    /// censored data the model predicts above the LLOQ), Newton steps with the model's
    /// curvature from where it got. `None` where the model cannot be linearised on the way.
    fn marquardt(&self, from: &[f64], frozen: Option<&DMatrix<f64>>) -> Option<Vec<f64>> {
        let mut eta = from.to_vec();
        let stages = [
            frozen.map(|c| (Curvature::Frozen(c), FROZEN_ITERS)),
            Some((Curvature::Fisher, FISHER_ITERS)),
            Some((Curvature::Newton, MAX_ITERS)),
        ];
        for (curvature, iters) in stages.into_iter().flatten() {
            let search = Search {
                map: self,
                curvature,
            };
            let run = Executor::new(
                search,
                Marquardt::new(self.decrement_tolerance(), RESOLVABLE_DECREMENT),
            )
            .configure(|s| s.param(eta.clone()).max_iters(iters))
            .run();
            let result = run.ok()?;
            let state = result.state();
            // the last point taken: a polishing step may have raised `l` by its rounding
            eta.clone_from(state.get_param().or(state.get_best_param())?);
            if state.get_termination_status()
                == &TerminationStatus::Terminated(TerminationReason::SolverConverged)
            {
                break;
            }
        }
        Some(eta)
    }

    /// The Newton decrement at which the EBE has converged: the square of the ODE
    /// solver's relative tolerance, and at least [`DECREMENT_FLOOR`] (exact solutions too).
    /// The Laplacian's `ln|H|` is not stationary at `η̂`, so the objective moves with the
    /// error of `η̂` itself, about `√(gᵀH⁻¹g)`; this keeps that error near the solver's.
    /// With the tolerance fixed at `10⁻¹⁰`, the FOCE-I objective of the model-2 cohort at
    /// rtol `10⁻⁸`, evaluated from warm starts as a gradient's differences are, carried
    /// noise near `2·10⁻⁶`; at `10⁻¹⁶` it is near `2·10⁻⁹`.
    fn decrement_tolerance(&self) -> f64 {
        let objective = &self.subject.objective;
        if objective.known_exact() {
            DECREMENT_FLOOR
        } else {
            objective.solver_options().rtol.powi(2).max(DECREMENT_FLOOR)
        }
    }

    /// The Newton Hessian of `l` at a linearisation, `2Ω⁻¹ + Σ_j w_j·G_jᵀG_j` plus the
    /// model's curvature, or Fisher scoring alone where that sum is not positive definite.
    pub fn hessian(&self, lin: &Linearization) -> Result<DMatrix<f64>> {
        let fisher = &self.shared.omega_inv * 2.0 + &lin.information;
        let newton = &fisher + self.curvature(lin)?;
        Ok(if newton.clone().cholesky().is_some() {
            newton
        } else {
            fisher
        })
    }

    /// The EBE from `start` and the linearisation there: Marquardt steps (quasi-Newton with
    /// a `frozen` model curvature where one is given), falling back to restarted
    /// Nelder–Mead (from `start`, else from `η = 0`) where the model cannot be linearised
    /// along the way.
    pub fn solve(&self, start: &[f64], frozen: Option<&DMatrix<f64>>) -> Result<Linearization> {
        let owned = |lin: Rc<Linearization>| {
            self.last.borrow_mut().take();
            Rc::try_unwrap(lin).unwrap_or_else(|shared| (*shared).clone())
        };
        for from in [start.to_vec(), vec![0.0; start.len()]] {
            if let Some(eta) = self.marquardt(&from, frozen) {
                return self.linearize(&eta).map(owned);
            }
        }
        let search = Search {
            map: self,
            curvature: Curvature::Fisher,
        };
        let eta = match nelder_mead(search, start, FALLBACK) {
            Ok(outcome) if outcome.minus_two_ll.is_finite() => outcome.theta,
            _ => start.to_vec(),
        };
        self.linearize(&eta).map(owned)
    }
}

/// `xᵀ·M·x`.
fn quadratic_form(m: &DMatrix<f64>, x: &[f64]) -> f64 {
    let mut v = 0.0;
    for (b, xb) in x.iter().enumerate() {
        for (a, xa) in x.iter().enumerate() {
            v += xa * m[(a, b)] * xb;
        }
    }
    v
}

fn argmin_error(e: Error) -> argmin::core::Error {
    argmin::core::Error::msg(e.to_string())
}

impl<M: Model> CostFunction for Search<'_, '_, '_, M> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, eta: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.map.l(eta))
    }
}

impl<M: Model> Gradient for Search<'_, '_, '_, M> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, eta: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        Ok(self
            .map
            .linearize(eta)
            .map_err(argmin_error)?
            .gradient
            .clone())
    }
}

impl<M: Model> Hessian for Search<'_, '_, '_, M> {
    type Param = Vec<f64>;
    type Hessian = DMatrix<f64>;
    fn hessian(&self, eta: &Vec<f64>) -> std::result::Result<DMatrix<f64>, argmin::core::Error> {
        let lin = self.map.linearize(eta).map_err(argmin_error)?;
        let fisher = &self.map.shared.omega_inv * 2.0 + &lin.information;
        match self.curvature {
            Curvature::Fisher => Ok(fisher),
            Curvature::Newton => Ok(fisher + self.map.curvature(&lin).map_err(argmin_error)?),
            Curvature::Frozen(c) => Ok(fisher + c),
        }
    }
}
