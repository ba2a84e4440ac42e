//! A damped (Levenberg–Marquardt) Newton solver for argmin, for objectives that supply a
//! gradient and a positive semi-definite approximation of the Hessian (a Gauss–Newton or
//! Fisher-scoring matrix).
//!
//! From `x` with gradient `g` and Hessian approximation `H`, the step solves
//! `(H + λ·diag(H))·δ = −g`. A step that lowers the cost is taken and `λ` shrinks tenfold;
//! one that does not (including a step to where the cost is `+∞`, say a model that cannot be
//! evaluated) is refused and `λ` grows tenfold. The solver stops converged when the Newton
//! decrement `gᵀH⁻¹g` falls below the tolerance, or when `λ` has grown so large that no
//! further descent is resolvable (the gradient is at its finite-difference noise floor).
//! Below the resolvable decrement the cost's rounding can exceed the decrease a step
//! predicts; up to [`MAX_POLISH_STEPS`] steps are then taken although the cost rose (by less
//! than it resolves), as the gradient and Hessian still point the way.

use super::super::termination::{StartOutcome, Termination, best_point};
use super::nelder_mead::optimizer_failure;
use argmin::core::{
    CostFunction, Error, Executor, Gradient, Hessian, IterState, KV, Problem, Solver, State,
    TerminationReason, TerminationStatus,
};
use nalgebra::{DMatrix, DVector};

type MarquardtState = IterState<Vec<f64>, Vec<f64>, (), DMatrix<f64>, (), f64>;

/// Largest damping before the solver concludes that no descent is left.
const MAX_LAMBDA: f64 = 1e10;

/// Steps taken below the resolvable decrement although the cost rose (by less than it
/// resolves), before a refused step ends the search.
const MAX_POLISH_STEPS: usize = 2;

/// Eigenvalues below this fraction of the largest are a singular `H`'s null space.
const NULL_EIGENVALUE: f64 = 1e-10;

/// The Newton decrement `gᵀH⁻¹g`; where `H` is singular (a parameter the data do not
/// determine), `gᵀH⁺g` with the pseudo-inverse over eigenvalues above [`NULL_EIGENVALUE`]
/// of the largest: the decrease left along the directions the data determine.
fn decrement(h: &DMatrix<f64>, g: &[f64]) -> f64 {
    if let Some(d) = solve(h, g, 0.0) {
        return d.iter().zip(g).map(|(a, b)| a * b).sum();
    }
    let eigen = h.clone().symmetric_eigen();
    let largest = eigen.eigenvalues.amax();
    let g = DVector::from_column_slice(g);
    let mut sum = 0.0;
    for (i, &lambda) in eigen.eigenvalues.iter().enumerate() {
        if lambda > NULL_EIGENVALUE * largest {
            sum += eigen.eigenvectors.column(i).dot(&g).powi(2) / lambda;
        } else if lambda < -NULL_EIGENVALUE * largest {
            return f64::INFINITY;
        }
    }
    if largest > 0.0 { sum } else { f64::INFINITY }
}

/// The initial point of a solver's state and its (finite) cost.
pub(crate) fn start_cost<O>(
    problem: &mut Problem<O>,
    state: &IterState<Vec<f64>, Vec<f64>, (), DMatrix<f64>, (), f64>,
) -> Result<(Vec<f64>, f64), Error>
where
    O: CostFunction<Param = Vec<f64>, Output = f64>,
{
    let x = state
        .get_param()
        .cloned()
        .ok_or_else(|| Error::msg("the solver needs an initial point"))?;
    let cost = problem.cost(&x)?;
    if !cost.is_finite() {
        return Err(Error::msg("the objective is not finite at the start"));
    }
    Ok((x, cost))
}

/// The initial point of a solver's state, its (finite) cost and its gradient.
fn starting_point<O>(
    problem: &mut Problem<O>,
    state: &IterState<Vec<f64>, Vec<f64>, (), DMatrix<f64>, (), f64>,
) -> Result<(Vec<f64>, f64, Vec<f64>), Error>
where
    O: CostFunction<Param = Vec<f64>, Output = f64>
        + Gradient<Param = Vec<f64>, Gradient = Vec<f64>>,
{
    let (x, cost) = start_cost(problem, state)?;
    let g = problem.gradient(&x)?;
    Ok((x, cost, g))
}

/// Levenberg–Marquardt damping of Newton steps (argmin [`Solver`]).
#[derive(Debug, Clone)]
pub(crate) struct Marquardt {
    lambda: f64,
    /// The largest move of one coordinate in one step (the step is shortened to it).
    max_step: f64,
    tolerance: f64,
    resolvable: f64,
    decrement: f64,
    noise_floor: bool,
    polish_steps: usize,
}

impl Marquardt {
    /// Stops when `gᵀH⁻¹g < tolerance`, or when a step is refused with `gᵀH⁻¹g < resolvable`.
    pub fn new(tolerance: f64, resolvable: f64) -> Self {
        Marquardt {
            lambda: 1e-3,
            max_step: f64::INFINITY,
            tolerance,
            resolvable,
            decrement: f64::INFINITY,
            noise_floor: false,
            polish_steps: 0,
        }
    }

    /// Steps shortened so that no coordinate moves more than `max_step` (a Gauss–Newton
    /// step from far off, where the residuals are large, can overshoot to where the model
    /// no longer responds to its parameters).
    pub fn with_max_step(mut self, max_step: f64) -> Self {
        self.max_step = max_step;
        self
    }
}

/// `(H + λ·diag(H))⁻¹ g`, or `None` when that matrix is not positive definite. A diagonal
/// element below [`NULL_EIGENVALUE`] of the largest is damped as if it were that large,
/// so that a direction the data do not determine takes no large step.
fn solve(h: &DMatrix<f64>, g: &[f64], lambda: f64) -> Option<DVector<f64>> {
    let mut m = h.clone();
    let floor = (NULL_EIGENVALUE * h.diagonal().amax()).max(1e-12);
    for i in 0..m.nrows() {
        m[(i, i)] += lambda * h[(i, i)].abs().max(floor);
    }
    m.cholesky()
        .map(|c| c.solve(&DVector::from_column_slice(g)))
}

impl<O> Solver<O, MarquardtState> for Marquardt
where
    O: CostFunction<Param = Vec<f64>, Output = f64>
        + Gradient<Param = Vec<f64>, Gradient = Vec<f64>>
        + Hessian<Param = Vec<f64>, Hessian = DMatrix<f64>>,
{
    fn name(&self) -> &str {
        "Levenberg-Marquardt"
    }

    fn init(
        &mut self,
        problem: &mut Problem<O>,
        state: MarquardtState,
    ) -> Result<(MarquardtState, Option<KV>), Error> {
        let (x, cost, g) = starting_point(problem, &state)?;
        let h = problem.hessian(&x)?;
        self.decrement = decrement(&h, &g);
        Ok((state.cost(cost).gradient(g).hessian(h), None))
    }

    fn next_iter(
        &mut self,
        problem: &mut Problem<O>,
        mut state: MarquardtState,
    ) -> Result<(MarquardtState, Option<KV>), Error> {
        let x = state.take_param().ok_or_else(|| Error::msg("no point"))?;
        let g = state
            .take_gradient()
            .ok_or_else(|| Error::msg("no gradient"))?;
        let h = state
            .take_hessian()
            .ok_or_else(|| Error::msg("no Hessian"))?;
        let cost = state.get_cost();
        let Some(step) = solve(&h, &g, self.lambda) else {
            self.lambda = self.lambda.max(1e-3) * 10.0;
            return Ok((state.param(x).gradient(g).hessian(h), None));
        };
        let shorten = (self.max_step / step.amax()).min(1.0);
        let trial: Vec<f64> = (x.iter().zip(step.iter()))
            .map(|(a, d)| a - shorten * d)
            .collect();
        let trial_cost = problem.cost(&trial)?;
        // below the resolvable decrement, a rise of the cost within what it can resolve is
        // its rounding, not the step: the gradient and Hessian say more, so a few such steps
        // are taken
        let polish = self.decrement < self.resolvable
            && trial_cost - cost < self.resolvable
            && self.polish_steps < MAX_POLISH_STEPS;
        if trial_cost < cost || polish {
            if trial_cost >= cost {
                self.polish_steps += 1;
            }
            self.lambda = (self.lambda / 10.0).max(1e-12);
            let g = problem.gradient(&trial)?;
            let h = problem.hessian(&trial)?;
            self.decrement = decrement(&h, &g);
            Ok((
                state.param(trial).cost(trial_cost).gradient(g).hessian(h),
                None,
            ))
        } else {
            self.noise_floor = self.decrement < self.resolvable;
            self.lambda = self.lambda.max(1e-3) * 10.0;
            Ok((state.param(x).gradient(g).hessian(h), None))
        }
    }

    fn terminate(&mut self, _state: &MarquardtState) -> TerminationStatus {
        if self.decrement < self.tolerance || self.noise_floor {
            TerminationStatus::Terminated(TerminationReason::SolverConverged)
        } else if self.lambda > MAX_LAMBDA {
            TerminationStatus::Terminated(TerminationReason::SolverExit(
                "no step lowers the cost".into(),
            ))
        } else {
            TerminationStatus::NotTerminated
        }
    }
}

/// The decrement below which a refused step ends an individual fit's search as converged:
/// what differences of a −2LL from ODE solutions at relative tolerance `10⁻⁶` resolve.
const FIT_RESOLVABLE_DECREMENT: f64 = 1e-6;

/// The largest move of one coordinate (estimation scale) in one step of an individual
/// fit's search: a factor `e` for a log-scale parameter, as the population BFGS.
const FIT_MAX_STEP: f64 = 1.0;

/// Levenberg–Marquardt from `initial` for at most `max_iters` iterations, converged when
/// the Newton decrement `gᵀH⁻¹g` falls below `tolerance` (an individual fit's search). A
/// start where the cost is not finite ends at once, [`Termination::NotEvaluable`].
///
/// # Errors
/// [`Error::OptimizerFailed`](crate::Error::OptimizerFailed) when the run fails (for
/// example a gradient that cannot be evaluated at a point the search reached).
pub(crate) fn levenberg_marquardt<P>(
    problem: P,
    initial: &[f64],
    tolerance: f64,
    max_iters: u64,
) -> crate::error::Result<StartOutcome>
where
    P: CostFunction<Param = Vec<f64>, Output = f64>
        + Gradient<Param = Vec<f64>, Gradient = Vec<f64>>
        + Hessian<Param = Vec<f64>, Hessian = DMatrix<f64>>,
{
    let start = problem.cost(&initial.to_vec()).map_err(optimizer_failure)?;
    if !start.is_finite() {
        return Ok(StartOutcome {
            initial: initial.to_vec(),
            theta: initial.to_vec(),
            minus_two_ll: start,
            iterations: 0,
            evaluations: 0,
            termination: Termination::NotEvaluable,
        });
    }
    let solver = Marquardt::new(tolerance, FIT_RESOLVABLE_DECREMENT.max(tolerance))
        .with_max_step(FIT_MAX_STEP);
    let res = Executor::new(problem, solver)
        .configure(|s| s.param(initial.to_vec()).max_iters(max_iters))
        .run()
        .map_err(optimizer_failure)?;
    let state = res.state();
    let theta = best_point(state, initial);
    Ok(StartOutcome {
        initial: initial.to_vec(),
        theta,
        minus_two_ll: state.get_best_cost(),
        iterations: state.get_iter(),
        evaluations: 0,
        termination: Termination::from(state.get_termination_status()),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use argmin::core::Executor;

    /// Rosenbrock's function with its exact gradient and a Gauss–Newton Hessian, `+∞` for
    /// `x₀ ≤ −2` (a region where the "model" cannot be evaluated): the minimum is (1, 1).
    pub(crate) struct Rosenbrock;
    impl CostFunction for Rosenbrock {
        type Param = Vec<f64>;
        type Output = f64;
        fn cost(&self, x: &Vec<f64>) -> Result<f64, Error> {
            if x[0] <= -2.0 {
                return Ok(f64::INFINITY);
            }
            Ok((1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2))
        }
    }
    impl Gradient for Rosenbrock {
        type Param = Vec<f64>;
        type Gradient = Vec<f64>;
        fn gradient(&self, x: &Vec<f64>) -> Result<Vec<f64>, Error> {
            let r = x[1] - x[0] * x[0];
            Ok(vec![-2.0 * (1.0 - x[0]) - 400.0 * x[0] * r, 200.0 * r])
        }
    }
    impl Hessian for Rosenbrock {
        type Param = Vec<f64>;
        type Hessian = DMatrix<f64>;
        fn hessian(&self, x: &Vec<f64>) -> Result<DMatrix<f64>, Error> {
            // Gauss–Newton matrix of the residuals (1 − x₀, 10(x₁ − x₀²)), times 2
            let j = DMatrix::from_row_slice(2, 2, &[-1.0, 0.0, -20.0 * x[0], 10.0]);
            Ok(j.transpose() * j * 2.0)
        }
    }

    #[test]
    fn finds_the_rosenbrock_minimum_from_the_classic_start() {
        let result = Executor::new(Rosenbrock, Marquardt::new(1e-20, 0.0))
            .configure(|s| s.param(vec![-1.2, 1.0]).max_iters(200))
            .run()
            .unwrap();
        let x = result.state().get_best_param().unwrap();
        assert!(
            (x[0] - 1.0).abs() < 1e-8 && (x[1] - 1.0).abs() < 1e-8,
            "{x:?}"
        );
    }
}
