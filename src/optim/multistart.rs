//! Seeded multi-start minimisation.
//!
//! Start 0 is the given initial point; start `k ≥ 1` perturbs every component by a uniform
//! draw in `[−spread, +spread]` on the estimation scale (ChaCha8 seeded with the fit's
//! seed, so the same seed gives the same starts on any machine and thread count).

use super::termination::{StartOutcome, Termination};
use crate::error::Result;
use argmin::core::CostFunction;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Where the starts of a multi-start search lie.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StartDesign {
    /// Number of starts (1 = the initial point only).
    pub starts: usize,
    /// Half-width of the uniform perturbation (estimation scale).
    pub spread: f64,
    /// Seed of the perturbations.
    pub seed: u64,
}

/// Initial point of every start.
pub(crate) fn start_points(theta0: &[f64], design: StartDesign) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(design.seed);
    let mut points = vec![theta0.to_vec()];
    for _ in 1..design.starts {
        points.push(
            theta0
                .iter()
                .map(|&u| u + rng.random_range(-design.spread..=design.spread))
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
    StartOutcome {
        initial: Vec::new(),
        theta: Vec::new(),
        minus_two_ll,
        iterations: 0,
        evaluations: 1,
        termination: if minus_two_ll.is_finite() {
            Termination::NothingToEstimate
        } else {
            Termination::NotEvaluable
        },
    }
}

/// Runs `search` from every start, the starts in parallel where `parallel`; the outcomes
/// are in start order and each depends only on its start, so they are the same on any
/// number of threads. A start whose search errors is recorded as [`Termination::Failed`],
/// not propagated. `search` returns the outcome and the number of evaluations it took.
pub(crate) fn run_starts<S>(
    theta0: &[f64],
    design: StartDesign,
    parallel: bool,
    search: S,
) -> Vec<StartOutcome>
where
    S: Fn(&[f64]) -> Counted<Result<StartOutcome>> + Sync,
{
    super::map_in_order(start_points(theta0, design), parallel, |initial| {
        let Counted { value, evaluations } = search(&initial);
        let mut outcome = value.unwrap_or_else(|e| StartOutcome::failed(&initial, e));
        outcome.evaluations = evaluations;
        outcome
    })
}

/// A search's result and the objective evaluations it took.
pub(crate) struct Counted<T> {
    pub value: T,
    pub evaluations: u64,
}
