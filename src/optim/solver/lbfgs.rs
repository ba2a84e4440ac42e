//! L-BFGS with the Moré–Thuente line search (argmin's [`LBFGS`]), for smooth objectives
//! with a gradient: memory of 7 pairs, stopping when the gradient norm falls below `10⁻⁴`
//! or the cost changes by less than a thousandth of the tolerance.
//!
//! The line search interpolates costs and slopes, which an infinite cost (parameters where
//! the model cannot be evaluated, such as the first trial step of a steep start) turns
//! into NaN. The problem is therefore [`Guarded`]: such a point costs [`UNEVALUABLE`] with
//! a zero gradient, which the line search brackets and steps back from.

use super::super::termination::{StartOutcome, Termination, best_point};
use super::nelder_mead::optimizer_failure;
use crate::error::Result;
use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use std::cell::RefCell;

/// The cost the line search sees where the model cannot be evaluated: far above any −2LL,
/// yet small enough that the line search's cubic interpolation does not overflow.
const UNEVALUABLE: f64 = 1e100;

/// A problem whose unevaluable points cost [`UNEVALUABLE`] with a zero gradient. The line
/// search asks for the gradient where it has just asked for the cost; at a point whose cost
/// was not finite the gradient is not attempted (its differences could wander into
/// parameters where each model solution exhausts the step budget).
struct Guarded<P> {
    problem: P,
    /// The last point costed, where its cost was not finite.
    unevaluable: RefCell<Option<Vec<f64>>>,
}

impl<P: CostFunction<Param = Vec<f64>, Output = f64>> CostFunction for Guarded<P> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, theta: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        let c = self.problem.cost(theta)?;
        let finite = c.is_finite();
        *self.unevaluable.borrow_mut() = (!finite).then(|| theta.clone());
        Ok(if finite { c } else { UNEVALUABLE })
    }
}

impl<P: Gradient<Param = Vec<f64>, Gradient = Vec<f64>>> Gradient for Guarded<P> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, theta: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        let zero = || vec![0.0; theta.len()];
        if self.unevaluable.borrow().as_ref() == Some(theta) {
            return Ok(zero());
        }
        Ok(self.problem.gradient(theta).unwrap_or_else(|_| zero()))
    }
}

/// L-BFGS from `initial` for at most `max_iters` iterations.
///
/// # Errors
/// [`Error::OptimizerFailed`](crate::Error::OptimizerFailed) when argmin refuses the
/// settings or its run fails (for example a gradient that cannot be evaluated).
pub(crate) fn lbfgs<P>(
    problem: P,
    initial: &[f64],
    tolerance: f64,
    max_iters: u64,
) -> Result<StartOutcome>
where
    P: CostFunction<Param = Vec<f64>, Output = f64>
        + Gradient<Param = Vec<f64>, Gradient = Vec<f64>>
        + Copy,
{
    let linesearch = MoreThuenteLineSearch::new();
    let solver = LBFGS::new(linesearch, 7)
        .with_tolerance_grad(1e-4)
        .and_then(|s| s.with_tolerance_cost(tolerance * 1e-3))
        .map_err(optimizer_failure)?;
    let guarded = Guarded {
        problem,
        unevaluable: RefCell::new(None),
    };
    let res = Executor::new(guarded, solver)
        .configure(|s| s.param(initial.to_vec()).max_iters(max_iters))
        .run()
        .map_err(optimizer_failure)?;
    let state = res.state();
    let theta = best_point(state, initial);
    let minus_two_ll = problem.cost(&theta).map_err(optimizer_failure)?;
    let termination = if minus_two_ll.is_finite() {
        Termination::from(state.get_termination_status())
    } else {
        Termination::NotEvaluable
    };
    Ok(StartOutcome {
        initial: initial.to_vec(),
        theta,
        minus_two_ll,
        iterations: state.get_iter(),
        evaluations: 0,
        termination,
    })
}
