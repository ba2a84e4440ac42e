//! Restarted Nelder–Mead (argmin's [`NelderMead`]): from the best vertex, a fresh simplex
//! until a restart improves the cost by less than the tolerance, the usual guard against a
//! collapsed simplex.

use super::super::termination::{StartOutcome, Termination};
use crate::error::{Error, Result};
use argmin::core::{CostFunction, Executor, State};
use argmin::solver::neldermead::NelderMead;

/// Settings of the restarted Nelder–Mead search.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NelderMeadSettings {
    /// Edge of the first simplex on the estimation scale (halved at each restart, down to
    /// `10⁻³`).
    pub simplex_step: f64,
    /// Largest number of runs.
    pub max_restarts: usize,
    /// A run has converged when its vertices' costs agree within this (standard deviation),
    /// and the search when a restart improves the cost by less.
    pub tolerance: f64,
    /// Iteration budget over all runs.
    pub max_iters: u64,
}

impl NelderMeadSettings {
    /// Settings from their four values, in field order.
    pub const fn new(
        simplex_step: f64,
        max_restarts: usize,
        tolerance: f64,
        max_iters: u64,
    ) -> Self {
        NelderMeadSettings {
            simplex_step,
            max_restarts,
            tolerance,
            max_iters,
        }
    }
}

/// An optimiser failure (not a failure of the model) as a crate error.
pub(crate) fn optimizer_failure(e: argmin::core::Error) -> Error {
    Error::OptimizerFailed {
        reason: e.to_string(),
    }
}

/// Nelder–Mead from `initial`, restarted from the best vertex with a fresh (halved)
/// simplex until a restart improves the cost by less than the tolerance. One run is at
/// most `100·(dim + 1)` iterations: a simplex that has not converged by then restarts.
/// A start where the cost is not finite ends at once, [`Termination::NotEvaluable`].
///
/// # Errors
/// [`Error::OptimizerFailed`] when argmin refuses the settings or its run fails.
pub(crate) fn nelder_mead<P>(
    problem: P,
    initial: &[f64],
    opts: NelderMeadSettings,
) -> Result<StartOutcome>
where
    P: CostFunction<Param = Vec<f64>, Output = f64> + Copy,
{
    let mut theta = initial.to_vec();
    let mut best = problem.cost(&theta).map_err(optimizer_failure)?;
    let mut outcome = StartOutcome {
        initial: initial.to_vec(),
        theta: theta.clone(),
        minus_two_ll: best,
        iterations: 0,
        evaluations: 0,
        termination: Termination::NotEvaluable,
    };
    if !best.is_finite() {
        return Ok(outcome);
    }
    let mut step = opts.simplex_step;
    outcome.termination = Termination::StillImproving {
        restarts: opts.max_restarts,
    };
    for _restart in 0..opts.max_restarts {
        let mut simplex = vec![theta.clone()];
        for i in 0..theta.len() {
            let mut v = theta.clone();
            v[i] += step;
            simplex.push(v);
        }
        let solver = NelderMead::new(simplex)
            .with_sd_tolerance(opts.tolerance)
            .map_err(optimizer_failure)?;
        let remaining = opts.max_iters.saturating_sub(outcome.iterations);
        let run_limit = remaining.min(100 * (theta.len() as u64 + 1));
        let res = Executor::new(problem, solver)
            .configure(|s| s.max_iters(run_limit))
            .run()
            .map_err(optimizer_failure)?;
        let state = res.state();
        outcome.iterations += state.get_iter();
        let run_end = Termination::from(state.get_termination_status());
        // a simplex that stalls (its values never agree to the tolerance, e.g. on a
        // slightly noisy objective) is restarted rather than run to the budget
        let stalled = run_limit < remaining && state.get_iter() >= run_limit;
        let new_best = state.get_best_cost();
        let improved = best - new_best;
        if new_best < best {
            theta = state
                .get_best_param()
                .cloned()
                .unwrap_or_else(|| theta.clone());
            best = new_best;
        }
        if !(run_end.is_converged() || stalled) {
            outcome.termination = run_end;
            break;
        }
        if improved.abs() < opts.tolerance {
            outcome.termination = Termination::Converged;
            break;
        }
        step = (step * 0.5).max(1e-3);
    }
    outcome.theta = theta;
    outcome.minus_two_ll = best;
    Ok(outcome)
}
