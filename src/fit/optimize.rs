//! Seeded multi-start minimisation of an [`Objective`] with argmin.
//!
//! Start 0 is the specification's initial values; start `k ≥ 1` perturbs every component of
//! `θ` by a uniform draw in `[−spread, +spread]` on the estimation scale (ChaCha8 seeded with
//! the fit's seed, so the same seed gives the same starts). Nelder–Mead is restarted from
//! its best vertex with a fresh simplex until a restart improves −2LL by less than the
//! tolerance, the usual guard against a collapsed simplex; L-BFGS uses central
//! finite-difference gradients and the Moré–Thuente line search.

use super::objective::Objective;
use super::{FitOptions, Method};
use crate::error::{Error, Result};
use crate::model::Model;
use argmin::core::{CostFunction, Executor, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::neldermead::NelderMead;
use argmin::solver::quasinewton::LBFGS;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What one start of the optimisation reached.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StartOutcome {
    pub initial: Vec<f64>,
    pub theta: Vec<f64>,
    pub minus_two_ll: f64,
    pub iterations: u64,
    pub evaluations: u64,
    pub status: String,
    pub converged: bool,
}

/// Initial `θ` of every start.
pub(crate) fn start_points(theta0: &[f64], opts: &FitOptions) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut points = vec![theta0.to_vec()];
    for _ in 1..opts.starts {
        points.push(
            theta0
                .iter()
                .map(|&u| u + rng.random_range(-opts.spread..=opts.spread))
                .collect(),
        );
    }
    points
}

/// The objective at fixed values, as the outcome of a "search" with nothing to estimate.
pub(crate) fn evaluation<P>(problem: P) -> StartOutcome
where
    P: CostFunction<Param = Vec<f64>, Output = f64>,
{
    let minus_two_ll = problem.cost(&Vec::new()).unwrap_or(f64::INFINITY);
    let converged = minus_two_ll.is_finite();
    StartOutcome {
        initial: Vec::new(),
        theta: Vec::new(),
        minus_two_ll,
        iterations: 0,
        evaluations: 1,
        status: if converged {
            "evaluated (nothing to estimate)".into()
        } else {
            "the model cannot be evaluated at the given values".into()
        },
        converged,
    }
}

/// Runs every start; a start that errors is recorded as not converged, not propagated.
/// With nothing to estimate, the objective is evaluated once.
pub(crate) fn run_starts<M: Model>(
    objective: &Objective<'_, M>,
    theta0: &[f64],
    opts: &FitOptions,
) -> Vec<StartOutcome> {
    if theta0.is_empty() {
        return vec![evaluation(objective)];
    }
    start_points(theta0, opts)
        .into_iter()
        .map(|initial| {
            let before = objective.evaluations();
            let mut outcome = match opts.method {
                Method::NelderMead => nelder_mead(objective, &initial, opts.into()),
                Method::Lbfgs => lbfgs(objective, &initial, opts),
            }
            .unwrap_or_else(|e| StartOutcome {
                initial: initial.clone(),
                theta: initial.clone(),
                minus_two_ll: f64::INFINITY,
                iterations: 0,
                evaluations: 0,
                status: format!("failed: {e}"),
                converged: false,
            });
            outcome.evaluations = objective.evaluations() - before;
            outcome
        })
        .collect()
}

fn reason_text(status: &TerminationStatus) -> (String, bool) {
    match status {
        TerminationStatus::Terminated(TerminationReason::SolverConverged) => {
            ("converged".into(), true)
        }
        TerminationStatus::Terminated(r) => (r.text().to_owned(), false),
        TerminationStatus::NotTerminated => ("not terminated".into(), false),
    }
}

pub(crate) fn argmin_failure(e: argmin::core::Error) -> Error {
    Error::InvalidFitOptions {
        reason: format!("optimiser failed: {e}"),
    }
}

/// Settings of the restarted Nelder–Mead search.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NelderMeadSettings {
    pub simplex_step: f64,
    pub max_restarts: usize,
    pub tolerance: f64,
    pub max_iters: u64,
}

impl From<&FitOptions> for NelderMeadSettings {
    fn from(o: &FitOptions) -> Self {
        NelderMeadSettings {
            simplex_step: o.simplex_step,
            max_restarts: o.max_restarts,
            tolerance: o.tolerance,
            max_iters: o.max_iters,
        }
    }
}

/// Nelder–Mead from `initial`, restarted from the best vertex with a fresh (halved)
/// simplex until a restart improves the cost by less than the tolerance. One run is at
/// most `100·(dim + 1)` iterations: a simplex that has not converged by then restarts.
pub(crate) fn nelder_mead<P>(
    problem: P,
    initial: &[f64],
    opts: NelderMeadSettings,
) -> Result<StartOutcome>
where
    P: CostFunction<Param = Vec<f64>, Output = f64> + Copy,
{
    let mut theta = initial.to_vec();
    let mut best = problem.cost(&theta).map_err(argmin_failure)?;
    if !best.is_finite() {
        return Err(Error::InvalidFitOptions {
            reason: "the model cannot be evaluated at this start".into(),
        });
    }
    let (mut iterations, mut status, mut converged) = (0, String::new(), false);
    let mut step = opts.simplex_step;
    for _restart in 0..opts.max_restarts {
        let mut simplex = vec![theta.clone()];
        for i in 0..theta.len() {
            let mut v = theta.clone();
            v[i] += step;
            simplex.push(v);
        }
        let solver = NelderMead::new(simplex)
            .with_sd_tolerance(opts.tolerance)
            .map_err(argmin_failure)?;
        let remaining = opts.max_iters.saturating_sub(iterations);
        let run_limit = remaining.min(100 * (theta.len() as u64 + 1));
        let res = Executor::new(problem, solver)
            .configure(|s| s.max_iters(run_limit))
            .run()
            .map_err(argmin_failure)?;
        let state = res.state();
        iterations += state.get_iter();
        let (text, mut ok) = reason_text(state.get_termination_status());
        if !ok && run_limit < remaining && state.get_iter() >= run_limit {
            // a simplex that stalls (its values never agree to the tolerance, e.g. on a
            // slightly noisy objective) is restarted rather than run to the budget
            ok = true;
        }
        status = text;
        let new_best = state.get_best_cost();
        let improved = best - new_best;
        if new_best < best {
            theta = state
                .get_best_param()
                .cloned()
                .unwrap_or_else(|| theta.clone());
            best = new_best;
        }
        if !ok {
            break;
        }
        if improved.abs() < opts.tolerance {
            converged = true;
            break;
        }
        step = (step * 0.5).max(1e-3);
    }
    if !converged && status == "converged" {
        status = format!("still improving after {} restarts", opts.max_restarts);
    }
    Ok(StartOutcome {
        initial: initial.to_vec(),
        theta,
        minus_two_ll: best,
        iterations,
        evaluations: 0,
        status,
        converged,
    })
}

fn lbfgs<M: Model>(
    objective: &Objective<'_, M>,
    initial: &[f64],
    opts: &FitOptions,
) -> Result<StartOutcome> {
    let linesearch = MoreThuenteLineSearch::new();
    let solver = LBFGS::new(linesearch, 7)
        .with_tolerance_grad(1e-4)
        .and_then(|s| s.with_tolerance_cost(opts.tolerance * 1e-3))
        .map_err(argmin_failure)?;
    let res = Executor::new(objective, solver)
        .configure(|s| s.param(initial.to_vec()).max_iters(opts.max_iters))
        .run()
        .map_err(argmin_failure)?;
    let state = res.state();
    let theta = state
        .get_best_param()
        .cloned()
        .unwrap_or_else(|| initial.to_vec());
    let (status, converged) = reason_text(state.get_termination_status());
    let minus_two_ll = objective.cost(&theta).map_err(argmin_failure)?;
    Ok(StartOutcome {
        initial: initial.to_vec(),
        theta,
        minus_two_ll,
        iterations: state.get_iter(),
        evaluations: 0,
        status,
        converged: converged && minus_two_ll.is_finite(),
    })
}
