//! Checks of the BFGS solver on problems with known minima.

use super::super::marquardt::tests::Rosenbrock;
use super::*;

#[test]
fn finds_the_rosenbrock_minimum_from_the_classic_start() {
    let result = Executor::new(Rosenbrock, Bfgs::new(1e-20, 1.0))
        .configure(|s| s.param(vec![-1.2, 1.0]).max_iters(500))
        .run()
        .unwrap();
    let x = result.state().get_best_param().unwrap();
    assert!(
        (x[0] - 1.0).abs() < 1e-7 && (x[1] - 1.0).abs() < 1e-7,
        "{x:?} after {} iterations",
        result.state().get_iter()
    );
}

/// Forward differences of Rosenbrock's function, step `10⁻⁶`.
impl DifferenceGradient for Rosenbrock {
    fn difference_step(&self) -> f64 {
        1e-6
    }
    fn gradient_and_curvature(&self, x: &[f64], cost: f64) -> Result<Curved, Error> {
        let f = |u: &[f64]| self.cost(&u.to_vec()).unwrap();
        crate::optim::differences::gradient_and_curvature(f, x, cost, 1e-4)
            .map_err(|_| Error::msg("no difference"))
    }
    fn one_sided_gradient(&self, x: &[f64], cost: f64) -> Result<Vec<f64>, Error> {
        let f = |u: &[f64]| self.cost(&u.to_vec()).unwrap();
        crate::optim::differences::one_sided_gradient(f, x, cost, 1e-6)
            .map_err(|_| Error::msg("no difference"))
    }
}

/// Started from the Hessian's diagonal, with one-sided gradients far from the minimum
/// and exact ones near it, the minimum is found as accurately, the one-sided ones taken
/// while steps are long.
#[test]
fn one_sided_gradients_far_off_leave_the_minimum_where_it_is() {
    let result = Executor::new(Rosenbrock, Bfgs::new(1e-20, 1.0).for_differences())
        .configure(|s| s.param(vec![-1.2, 1.0]).max_iters(500).counting(true))
        .run()
        .unwrap();
    let state = result.state();
    let x = state.get_best_param().unwrap();
    assert!(
        (x[0] - 1.0).abs() < 1e-7 && (x[1] - 1.0).abs() < 1e-7,
        "{x:?} after {} iterations",
        state.get_iter()
    );
    let counts = state.get_func_counts();
    assert!(counts["one_sided_gradient_count"] > 5, "{counts:?}");
    assert!(counts["gradient_count"] >= 1, "{counts:?}");
}

/// A quadratic `½xᵀAx − bᵀx` is minimised at `A⁻¹b`; BFGS with exact line searches
/// would need `n` steps, and backtracking needs few more.
struct Quadratic(DMatrix<f64>, DVector<f64>);
impl CostFunction for Quadratic {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Vec<f64>) -> Result<f64, Error> {
        let x = DVector::from_column_slice(x);
        Ok(0.5 * x.dot(&(&self.0 * &x)) - self.1.dot(&x))
    }
}
impl DifferenceGradient for Quadratic {
    fn difference_step(&self) -> f64 {
        1e-6
    }
    fn gradient_and_curvature(&self, x: &[f64], _: f64) -> Result<Curved, Error> {
        Ok(Curved {
            gradient: self.gradient(&x.to_vec())?,
            curvature: self.0.diagonal().iter().copied().collect(),
        })
    }
    fn one_sided_gradient(&self, x: &[f64], _: f64) -> Result<Vec<f64>, Error> {
        self.gradient(&x.to_vec())
    }
}
impl Gradient for Quadratic {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, x: &Vec<f64>) -> Result<Vec<f64>, Error> {
        let x = DVector::from_column_slice(x);
        Ok((&self.0 * x - &self.1).iter().copied().collect())
    }
}

#[test]
fn stops_at_the_solution_of_an_ill_conditioned_quadratic() {
    let a = DMatrix::from_row_slice(3, 3, &[100.0, 1.0, 0.0, 1.0, 10.0, 0.5, 0.0, 0.5, 1.0]);
    let b = DVector::from_vec(vec![1.0, -2.0, 3.0]);
    let exact = a.clone().lu().solve(&b).unwrap();
    let result = Executor::new(Quadratic(a, b), Bfgs::new(1e-14, 1.0))
        .configure(|s| s.param(vec![0.0; 3]).max_iters(200))
        .run()
        .unwrap();
    let state = result.state();
    assert_eq!(
        state.get_termination_status(),
        &TerminationStatus::Terminated(TerminationReason::SolverConverged)
    );
    let x = state.get_best_param().unwrap();
    for i in 0..3 {
        assert!((x[i] - exact[i]).abs() < 1e-6, "{x:?} vs {exact}");
    }
}
