//! L-BFGS with the Moré–Thuente line search (argmin's [`LBFGS`]), for smooth objectives
//! with a gradient: memory of 7 pairs, stopping when the gradient norm falls below `10⁻⁴`
//! or the cost changes by less than a thousandth of the tolerance.

use super::super::termination::{StartOutcome, Termination};
use super::nelder_mead::optimizer_failure;
use crate::error::Result;
use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

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
    let res = Executor::new(problem, solver)
        .configure(|s| s.param(initial.to_vec()).max_iters(max_iters))
        .run()
        .map_err(optimizer_failure)?;
    let state = res.state();
    let theta = state
        .get_best_param()
        .cloned()
        .unwrap_or_else(|| initial.to_vec());
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
