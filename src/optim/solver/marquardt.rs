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

use argmin::core::{
    CostFunction, Error, Gradient, Hessian, IterState, KV, Problem, Solver, State,
    TerminationReason, TerminationStatus,
};
use nalgebra::{DMatrix, DVector};

type MarquardtState = IterState<Vec<f64>, Vec<f64>, (), DMatrix<f64>, (), f64>;

/// Largest damping before the solver concludes that no descent is left.
const MAX_LAMBDA: f64 = 1e10;

/// Steps taken below the resolvable decrement although the cost rose (by less than it
/// resolves), before a refused step ends the search.
const MAX_POLISH_STEPS: usize = 2;

/// The Newton decrement `gᵀH⁻¹g` (`∞` when `H` is singular).
fn decrement(h: &DMatrix<f64>, g: &[f64]) -> f64 {
    solve(h, g, 0.0).map_or(f64::INFINITY, |d| d.iter().zip(g).map(|(a, b)| a * b).sum())
}

/// The initial point of a solver's state, its (finite) cost and its gradient.
pub(crate) fn starting_point<O>(
    problem: &mut Problem<O>,
    state: &IterState<Vec<f64>, Vec<f64>, (), DMatrix<f64>, (), f64>,
) -> Result<(Vec<f64>, f64, Vec<f64>), Error>
where
    O: CostFunction<Param = Vec<f64>, Output = f64>
        + Gradient<Param = Vec<f64>, Gradient = Vec<f64>>,
{
    let x = state
        .get_param()
        .cloned()
        .ok_or_else(|| Error::msg("the solver needs an initial point"))?;
    let cost = problem.cost(&x)?;
    if !cost.is_finite() {
        return Err(Error::msg("the objective is not finite at the start"));
    }
    let g = problem.gradient(&x)?;
    Ok((x, cost, g))
}

/// Levenberg–Marquardt damping of Newton steps (argmin [`Solver`]).
#[derive(Debug, Clone)]
pub(crate) struct Marquardt {
    lambda: f64,
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
            tolerance,
            resolvable,
            decrement: f64::INFINITY,
            noise_floor: false,
            polish_steps: 0,
        }
    }
}

/// `(H + λ·diag(H))⁻¹ g`, or `None` when that matrix is not positive definite.
fn solve(h: &DMatrix<f64>, g: &[f64], lambda: f64) -> Option<DVector<f64>> {
    let mut m = h.clone();
    for i in 0..m.nrows() {
        m[(i, i)] += lambda * h[(i, i)].abs().max(1e-12);
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
        let trial: Vec<f64> = x.iter().zip(step.iter()).map(|(a, d)| a - d).collect();
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
