//! Finite differences: every numerical derivative the estimation code takes, with the step
//! each one uses and why.
//!
//! Where a subject's model is solved as an ODE, the derivatives of its predictions come
//! instead from their forward sensitivities ([`crate::simulate_sensitivities`]: the
//! sensitivity equations integrated with the states, step `10⁻⁵` in the differences of the
//! right-hand side, which carry no solver noise): `G = ∂q/∂η` in the EBE search and the
//! gradient of an individual −2LL. The table's steps serve where they do not apply (exact
//! solutions, which carry no solver noise either; steady-state doses) and for the rest.
//!
//! | derivative | where | step (estimation scale) |
//! |---|---|---|
//! | gradient of an individual −2LL (L-BFGS) | [`INDIVIDUAL_GRADIENT_STEP`] | `10⁻⁴` |
//! | Hessian of an individual −2LL (covariance step) | `FitOptions::hessian_step` | user option |
//! | gradient of the FOCE-I objective (outer BFGS), from each subject's linearisations around its EBE | [`implicit_step`] | `10⁻⁴` at rtol `≤ 10⁻⁸` |
//! | gradient of the FOCE-I objective where those do not apply (and at BFGS's start, with the curvature) | `PopulationOptions::gradient_step` | `10⁻³` by default |
//! | Hessian of the FOCE-I objective (covariance step) | `PopulationOptions::hessian_step` | `3·10⁻³` by default |
//! | `G = ∂q/∂η` and the model curvature in the EBE search | [`ETA_STEP`] | `10⁻³` |
//! | Jacobian of Ω's elements in `φ` (their SEs) | [`OMEGA_JACOBIAN_STEP`] | `10⁻⁶` |
//!
//! The steps differ because the functions differ in noise. Truncation error grows like
//! `h²` and noise is amplified like `ε/h` (`ε/h²` for second differences), so a step is
//! chosen above the noise of what it differentiates. An individual −2LL is smooth to
//! rounding for a closed-form model, and `10⁻⁴` serves (it also gives the derivatives of
//! exact predictions in Levenberg–Marquardt's scoring matrix); for an ODE model solved
//! without sensitivities (steady-state doses) a gradient of differences sees the solver's
//! error, and the covariance step re-solves at tight tolerances
//! (`FitOptions::covariance_solver`). The
//! FOCE-I objective and the EBE search work at the population fit's solver tolerances; an
//! ODE solution's error changes discontinuously where the solver's step sequence changes
//! between `x ± h`: with relative tolerance `10⁻⁶`, a step of `10⁻⁵` in `η` gave errors
//! near 1% in `G`, so these derivatives use `10⁻³`, and second differences a larger step
//! still. Ω(φ) is a polynomial in `φ`, computed exactly, so its Jacobian takes a small step.
//!
//! Gradients are central, `(f(x+h) − f(x−h))/2h`; where one side cannot be evaluated
//! (`f = +∞`, a model outside its domain), the one-sided difference from `f(x)` replaces it.
//! The outer BFGS of a population fit takes forward differences from the cost it knows
//! while far from the optimum ([`one_sided_gradient`]), where their `O(h)` truncation error
//! is far below the gradient, for half the evaluations.

use nalgebra::DMatrix;

/// Step of the gradient of an individual fit's −2LL.
pub(crate) const INDIVIDUAL_GRADIENT_STEP: f64 = 1e-4;

/// The step of the implicit FOCE-I gradient's differences at ODE relative tolerance
/// `10⁻⁸` or below, and for exact solutions ([`implicit_step`]).
const IMPLICIT_STEP: f64 = 1e-4;

/// The step, in `φ` and in `η`, of the central differences of a subject's linearisations
/// that the implicit FOCE-I gradient takes: [`IMPLICIT_STEP`] at relative tolerance `rtol
/// ≤ 10⁻⁸`, `10⁻⁴·(rtol/10⁻⁸)^⅓` above it. The differenced functions (the Laplacian
/// objective and `∇_η l` at a fixed `η`, with `G` from sensitivities) carry the solutions'
/// error (noise near `rtol`, relative) but no EBE search's: on the model-2 cohort at
/// rtol `10⁻⁸` the truncation error at `10⁻³` reached `6·10⁻⁴` of the gradient along
/// `ln rho` (measured against a Richardson-extrapolated difference of the objective), and
/// `7·10⁻⁶` at `10⁻⁴`, where the noise about a smooth curve was `2·10⁻⁵` absolute. The
/// step balances truncation (`∝ h²`) against noise (`∝ rtol/h`), hence the cube root.
pub(crate) fn implicit_step(rtol: f64) -> f64 {
    IMPLICIT_STEP * (rtol / 1e-8).cbrt().max(1.0)
}

/// Step in `η` of the EBE search's derivatives.
pub(crate) const ETA_STEP: f64 = 1e-3;

/// Step of the Jacobian of Ω's elements with respect to `φ`.
pub(crate) const OMEGA_JACOBIAN_STEP: f64 = 1e-6;

/// No side of a coordinate could be evaluated: no difference exists there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NoDifference {
    /// The coordinate.
    pub coordinate: usize,
}

/// `f` either side of `x` along coordinate `i`.
struct Sides<T> {
    /// `f(x + h·eᵢ)`.
    up: T,
    /// `f(x − h·eᵢ)`.
    down: T,
}

/// `f` at `x ± h·eᵢ`, moving `y` (equal to `x` on entry and on return).
fn sides<T, F: Fn(&[f64]) -> T>(f: &F, y: &mut [f64], x: &[f64], i: usize, h: f64) -> Sides<T> {
    y[i] = x[i] + h;
    let up = f(y);
    y[i] = x[i] - h;
    let down = f(y);
    y[i] = x[i];
    Sides { up, down }
}

/// Gradient of `f` at `x` by central differences with step `h`, one-sided from `f(x)` where
/// one side is not finite (`f(x)` is evaluated only then). `2n` evaluations in the usual
/// case.
///
/// # Errors
/// [`NoDifference`] naming the first coordinate where neither side is finite.
pub(crate) fn gradient<F: Fn(&[f64]) -> f64>(
    f: F,
    x: &[f64],
    h: f64,
) -> Result<Vec<f64>, NoDifference> {
    let centre = std::cell::OnceCell::new();
    let centre = || *centre.get_or_init(|| f(x));
    let mut y = x.to_vec();
    let mut g = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        let s = sides(&f, &mut y, x, i, h);
        g.push(s.slope(centre, h).ok_or(NoDifference { coordinate: i })?);
    }
    Ok(g)
}

impl Sides<f64> {
    /// The central difference, or the one-sided one from `f(x)` (asked for only then) where
    /// one side is not finite; `None` where neither is.
    fn slope(&self, centre: impl FnOnce() -> f64, h: f64) -> Option<f64> {
        match (self.up.is_finite(), self.down.is_finite()) {
            (true, true) => Some((self.up - self.down) / (2.0 * h)),
            (true, false) => Some((self.up - centre()) / h),
            (false, true) => Some((centre() - self.down) / h),
            (false, false) => None,
        }
    }
}

/// A central-difference gradient and the diagonal of the Hessian from the same points.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Curved {
    /// `(f(x+h) − f(x−h))/2h` (one-sided from `f(x)` where a side is not finite).
    pub gradient: Vec<f64>,
    /// `(f(x+h) − 2f(x) + f(x−h))/h²`, NaN where a side is not finite.
    pub curvature: Vec<f64>,
}

/// [`gradient`] at `x` from the known `fx = f(x)`, with the second differences its points
/// give: `2n` evaluations.
///
/// # Errors
/// [`NoDifference`] naming the first coordinate where neither side is finite.
pub(crate) fn gradient_and_curvature<F: Fn(&[f64]) -> f64>(
    f: F,
    x: &[f64],
    fx: f64,
    h: f64,
) -> Result<Curved, NoDifference> {
    let mut y = x.to_vec();
    let n = x.len();
    let mut curved = Curved {
        gradient: Vec::with_capacity(n),
        curvature: Vec::with_capacity(n),
    };
    for i in 0..n {
        let s = sides(&f, &mut y, x, i, h);
        let g = s.slope(|| fx, h).ok_or(NoDifference { coordinate: i })?;
        curved.gradient.push(g);
        curved
            .curvature
            .push(if s.up.is_finite() && s.down.is_finite() {
                (s.up - 2.0 * fx + s.down) / (h * h)
            } else {
                f64::NAN
            });
    }
    Ok(curved)
}

/// Gradient of `f` at `x` by forward differences `(f(x + h·eᵢ) − f(x))/h` from the known
/// `fx = f(x)`, backward where the forward side is not finite: `n` evaluations, truncation
/// error `O(h)`.
///
/// # Errors
/// [`NoDifference`] naming the first coordinate where neither side is finite.
pub(crate) fn one_sided_gradient<F: Fn(&[f64]) -> f64>(
    f: F,
    x: &[f64],
    fx: f64,
    h: f64,
) -> Result<Vec<f64>, NoDifference> {
    let mut y = x.to_vec();
    let mut g = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        y[i] = x[i] + h;
        let up = f(&y);
        let d = if up.is_finite() {
            (up - fx) / h
        } else {
            y[i] = x[i] - h;
            let down = f(&y);
            if !down.is_finite() {
                return Err(NoDifference { coordinate: i });
            }
            (fx - down) / h
        };
        y[i] = x[i];
        g.push(d);
    }
    Ok(g)
}

/// Jacobian of a vector function `f: ℝⁿ → ℝᵐ` at `x` by central differences with step `h`
/// (`m × n`).
pub(crate) fn jacobian<F: Fn(&[f64]) -> Vec<f64>>(f: F, x: &[f64], h: f64) -> DMatrix<f64> {
    let mut y = x.to_vec();
    let mut columns = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        let Sides { up, down } = sides(&f, &mut y, x, i, h);
        columns.push(
            up.iter()
                .zip(&down)
                .map(|(u, d)| (u - d) / (2.0 * h))
                .collect::<Vec<f64>>(),
        );
    }
    let m = columns.first().map_or(0, Vec::len);
    DMatrix::from_fn(m, x.len(), |r, c| columns[c][r])
}

/// Hessian of `f` at `x` by central differences with step `h` in every coordinate:
/// `H_ii = (f(x+h) − 2f(x) + f(x−h))/h²`,
/// `H_ij = (f(++) − f(+−) − f(−+) + f(−−))/(4h²)`. Uses `1 + 2n + 2n(n−1)` evaluations.
pub(crate) fn hessian<F: Fn(&[f64]) -> f64>(f: F, x: &[f64], h: f64) -> DMatrix<f64> {
    let n = x.len();
    let f0 = f(x);
    let mut hess = DMatrix::zeros(n, n);
    let mut y = x.to_vec();
    let at = |y: &mut Vec<f64>, moves: &[(usize, f64)]| {
        for &(i, d) in moves {
            y[i] = x[i] + d;
        }
        let v = f(y);
        for &(i, _) in moves {
            y[i] = x[i];
        }
        v
    };
    for i in 0..n {
        let up = at(&mut y, &[(i, h)]);
        let down = at(&mut y, &[(i, -h)]);
        hess[(i, i)] = (up - 2.0 * f0 + down) / (h * h);
        for j in 0..i {
            let pp = at(&mut y, &[(i, h), (j, h)]);
            let pm = at(&mut y, &[(i, h), (j, -h)]);
            let mp = at(&mut y, &[(i, -h), (j, h)]);
            let mm = at(&mut y, &[(i, -h), (j, -h)]);
            let v = (pp - pm - mp + mm) / (4.0 * h * h);
            hess[(i, j)] = v;
            hess[(j, i)] = v;
        }
    }
    hess
}

/// Hessian of `f` at `x` by central differences with step `h`, the off-diagonal elements
/// from the axis points the diagonal needs and two more points per pair:
/// `H_ij = (f(++) + f(−−) − f(+0) − f(−0) − f(0+) − f(0−) + 2f(x))/(2h²)`, which is exact
/// for a quadratic and errs by `O(h²)` otherwise, as the four-point form does. Uses
/// `1 + 2n + n(n−1)` evaluations (111 for 10 parameters, against 201), at the price of
/// four times the four-point form's amplification of noise in `f` (coefficients summing to
/// `8/(2h²)` against `4/(4h²)`).
pub(crate) fn hessian_from_axes<F: Fn(&[f64]) -> f64>(f: F, x: &[f64], h: f64) -> DMatrix<f64> {
    let n = x.len();
    let f0 = f(x);
    let mut hess = DMatrix::zeros(n, n);
    let mut y = x.to_vec();
    let axes: Vec<Sides<f64>> = (0..n).map(|i| sides(&f, &mut y, x, i, h)).collect();
    for (i, a) in axes.iter().enumerate() {
        hess[(i, i)] = (a.up - 2.0 * f0 + a.down) / (h * h);
    }
    for i in 0..n {
        for j in 0..i {
            y[i] = x[i] + h;
            y[j] = x[j] + h;
            let pp = f(&y);
            y[i] = x[i] - h;
            y[j] = x[j] - h;
            let mm = f(&y);
            y[i] = x[i];
            y[j] = x[j];
            let axis = axes[i].up + axes[i].down + axes[j].up + axes[j].down;
            let v = (pp + mm - axis + 2.0 * f0) / (2.0 * h * h);
            hess[(i, j)] = v;
            hess[(j, i)] = v;
        }
    }
    hess
}

/// Coordinates where −2LL is not smooth at `x`: the second difference at step `2h`
/// disagrees with the one at step `h` (`hess_diag`) by more than 25%. At a smooth point the
/// two agree to O(h²); across a kink (a change point of the model landing on a sampling
/// time, say) the second difference grows like 1/h and the Wald SE is meaningless. The
/// coordinates' evaluations run in parallel where `parallel`.
pub(crate) fn non_smooth<F: Fn(&[f64]) -> f64 + Sync>(
    f: F,
    x: &[f64],
    h: f64,
    hess: &DMatrix<f64>,
    parallel: bool,
) -> Vec<usize> {
    let f0 = f(x);
    let kinked = super::map_in_order((0..x.len()).collect(), parallel, |i| {
        let mut y = x.to_vec();
        y[i] = x[i] + 2.0 * h;
        let up = f(&y);
        y[i] = x[i] - 2.0 * h;
        let down = f(&y);
        let wide = (up - 2.0 * f0 + down) / (4.0 * h * h);
        let narrow = hess[(i, i)];
        (wide - narrow).abs() > 0.25 * narrow.abs().max(wide.abs())
    });
    (0..x.len()).filter(|&i| kinked[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::super::covariance::{correlation, covariance_from_hessian};
    use super::*;

    /// A quadratic −2LL = (x−a)ᵀ A (x−a) has Hessian 2A exactly and covariance A⁻¹.
    #[test]
    fn recovers_the_covariance_of_a_quadratic() {
        let a = DMatrix::from_row_slice(2, 2, &[4.0, 1.0, 1.0, 2.0]);
        let centre = [0.3, -1.2];
        let f = |x: &[f64]| {
            let d = nalgebra::DVector::from_vec(vec![x[0] - centre[0], x[1] - centre[1]]);
            (d.transpose() * &a * &d)[(0, 0)]
        };
        let h = hessian(f, &centre, 1e-3);
        approx::assert_relative_eq!(h, &a * 2.0, max_relative = 1e-8);
        let from_axes = hessian_from_axes(f, &centre, 1e-3);
        approx::assert_relative_eq!(from_axes, &a * 2.0, max_relative = 1e-8);
        let cov = covariance_from_hessian(&h).unwrap();
        let expected = a.try_inverse().unwrap();
        approx::assert_relative_eq!(cov, expected, max_relative = 1e-8);
        let r = correlation(&cov);
        approx::assert_relative_eq!(r[(0, 1)], -1.0 / (8f64).sqrt(), max_relative = 1e-8);
    }

    /// On `exp(x + 2y) + sin(x·y)` both forms of the Hessian err by `O(h²)`: at `h = 10⁻³`,
    /// within `10⁻⁵` of the analytic one.
    #[test]
    fn both_hessians_approach_the_analytic_one() {
        let f = |x: &[f64]| (x[0] + 2.0 * x[1]).exp() + (x[0] * x[1]).sin();
        let (a, b) = (0.3_f64, -0.2_f64);
        let e = (a + 2.0 * b).exp();
        let (s, c) = ((a * b).sin(), (a * b).cos());
        let exact = DMatrix::from_row_slice(
            2,
            2,
            &[
                e - b * b * s,
                2.0 * e + c - a * b * s,
                2.0 * e + c - a * b * s,
                4.0 * e - a * a * s,
            ],
        );
        for h in [
            hessian(f, &[a, b], 1e-3),
            hessian_from_axes(f, &[a, b], 1e-3),
        ] {
            approx::assert_relative_eq!(h, exact, epsilon = 1e-5);
        }
    }

    #[test]
    fn a_kink_is_detected_and_a_smooth_minimum_is_not() {
        let smooth = |x: &[f64]| x[0] * x[0] + 3.0 * x[1] * x[1];
        let h = hessian(smooth, &[0.0, 0.0], 1e-3);
        assert!(non_smooth(smooth, &[0.0, 0.0], 1e-3, &h, false).is_empty());
        let kinked = |x: &[f64]| x[0].abs() + 3.0 * x[1] * x[1];
        let h = hessian(kinked, &[0.0, 0.0], 1e-3);
        assert_eq!(non_smooth(kinked, &[0.0, 0.0], 1e-3, &h, true), vec![0]);
    }

    #[test]
    fn an_indefinite_hessian_gives_no_covariance() {
        let h = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, -1.0]);
        assert!(covariance_from_hessian(&h).is_none());
    }

    #[test]
    fn gradients_are_exact_for_a_quadratic_and_one_sided_at_a_wall() {
        let f = |x: &[f64]| 3.0 * x[0] * x[0] + x[0] * x[1];
        let g = gradient(f, &[1.0, 2.0], 1e-4).unwrap();
        approx::assert_relative_eq!(g[0], 8.0, max_relative = 1e-9);
        approx::assert_relative_eq!(g[1], 1.0, max_relative = 1e-9);
        // a wall at x < 0: the forward difference of x² at 0 is h
        let walled = |x: &[f64]| {
            if x[0] < 0.0 {
                f64::INFINITY
            } else {
                x[0] * x[0]
            }
        };
        let g = gradient(walled, &[0.0], 1e-3).unwrap();
        approx::assert_relative_eq!(g[0], 1e-3, max_relative = 1e-9);
        let nowhere = |_: &[f64]| f64::INFINITY;
        assert_eq!(
            gradient(nowhere, &[0.0, 0.0], 1e-3),
            Err(NoDifference { coordinate: 0 })
        );
    }

    #[test]
    fn curvatures_of_a_quadratic_are_its_hessian_diagonal() {
        let f = |x: &[f64]| 3.0 * x[0] * x[0] + x[0] * x[1] - 0.5 * x[1] * x[1];
        let x = [1.0, 2.0];
        let c = gradient_and_curvature(f, &x, f(&x), 1e-3).unwrap();
        approx::assert_relative_eq!(c.gradient[0], 8.0, max_relative = 1e-9);
        approx::assert_relative_eq!(c.gradient[1], -1.0, max_relative = 1e-9);
        approx::assert_relative_eq!(c.curvature[0], 6.0, max_relative = 1e-6);
        approx::assert_relative_eq!(c.curvature[1], -1.0, max_relative = 1e-6);
    }

    #[test]
    fn one_sided_gradients_err_by_half_the_step_times_the_curvature() {
        let f = |x: &[f64]| 3.0 * x[0] * x[0] + x[0] * x[1];
        let x = [1.0, 2.0];
        let g = one_sided_gradient(f, &x, f(&x), 1e-4).unwrap();
        // (f(x+h) − f(x))/h = f' + h·f''/2: 8 + 3e-4 and 1 exactly
        approx::assert_relative_eq!(g[0], 8.0 + 3e-4, max_relative = 1e-9);
        approx::assert_relative_eq!(g[1], 1.0, max_relative = 1e-9);
        // a wall at x > 0: the backward difference of x² at 0 is (0 − h²)/h = −h
        let walled = |x: &[f64]| {
            if x[0] > 0.0 {
                f64::INFINITY
            } else {
                x[0] * x[0]
            }
        };
        let g = one_sided_gradient(walled, &[0.0], 0.0, 1e-3).unwrap();
        approx::assert_relative_eq!(g[0], -1e-3, max_relative = 1e-9);
        let nowhere = |_: &[f64]| f64::INFINITY;
        assert_eq!(
            one_sided_gradient(nowhere, &[0.0], 0.0, 1e-3),
            Err(NoDifference { coordinate: 0 })
        );
    }

    #[test]
    fn the_jacobian_of_a_linear_map_is_its_matrix() {
        let f = |x: &[f64]| vec![x[0] + 2.0 * x[1], -x[1], 4.0 * x[0]];
        let j = jacobian(f, &[0.3, 0.7], 1e-6);
        let expected = DMatrix::from_row_slice(3, 2, &[1.0, 2.0, 0.0, -1.0, 4.0, 0.0]);
        approx::assert_relative_eq!(j, expected, epsilon = 1e-8);
    }
}
