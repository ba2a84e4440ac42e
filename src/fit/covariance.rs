//! Uncertainty from the observed Fisher information: the Hessian of −2LL at the optimum.
//!
//! On the estimation scale, `Cov(θ̂) = 2·H⁻¹` where `H` is the Hessian of −2LL (the Fisher
//! information of the log-likelihood is `H/2`). `H` is computed by central differences; it
//! is inverted through its Cholesky factor, which fails exactly when `H` is not positive
//! definite, and then no standard errors are reported.

use nalgebra::DMatrix;

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

/// Coordinates where −2LL is not smooth at `x`: the second difference at step `2h`
/// disagrees with the one at step `h` (`hess_diag`) by more than 25%. At a smooth point the
/// two agree to O(h²); across a kink (a change point of the model landing on a sampling
/// time, say) the second difference grows like 1/h and the Wald SE is meaningless.
pub(crate) fn non_smooth<F: Fn(&[f64]) -> f64>(
    f: F,
    x: &[f64],
    h: f64,
    hess: &DMatrix<f64>,
) -> Vec<usize> {
    let f0 = f(x);
    let mut y = x.to_vec();
    (0..x.len())
        .filter(|&i| {
            y[i] = x[i] + 2.0 * h;
            let up = f(&y);
            y[i] = x[i] - 2.0 * h;
            let down = f(&y);
            y[i] = x[i];
            let wide = (up - 2.0 * f0 + down) / (4.0 * h * h);
            let narrow = hess[(i, i)];
            (wide - narrow).abs() > 0.25 * narrow.abs().max(wide.abs())
        })
        .collect()
}

/// `2·H⁻¹`, or `None` when `H` is not positive definite (or not finite).
pub(crate) fn covariance_from_hessian(hess: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    if hess.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let chol = hess.clone().cholesky()?;
    Some(chol.inverse() * 2.0)
}

/// Correlation matrix from a covariance matrix.
pub(crate) fn correlation(cov: &DMatrix<f64>) -> DMatrix<f64> {
    let sd: Vec<f64> = (0..cov.nrows()).map(|i| cov[(i, i)].sqrt()).collect();
    DMatrix::from_fn(cov.nrows(), cov.ncols(), |i, j| {
        cov[(i, j)] / (sd[i] * sd[j])
    })
}

#[cfg(test)]
mod tests {
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
        let cov = covariance_from_hessian(&h).unwrap();
        let expected = a.try_inverse().unwrap();
        approx::assert_relative_eq!(cov, expected, max_relative = 1e-8);
        let r = correlation(&cov);
        approx::assert_relative_eq!(r[(0, 1)], -1.0 / (8f64).sqrt(), max_relative = 1e-8);
    }

    #[test]
    fn a_kink_is_detected_and_a_smooth_minimum_is_not() {
        let smooth = |x: &[f64]| x[0] * x[0] + 3.0 * x[1] * x[1];
        let h = hessian(smooth, &[0.0, 0.0], 1e-3);
        assert!(non_smooth(smooth, &[0.0, 0.0], 1e-3, &h).is_empty());
        let kinked = |x: &[f64]| x[0].abs() + 3.0 * x[1] * x[1];
        let h = hessian(kinked, &[0.0, 0.0], 1e-3);
        assert_eq!(non_smooth(kinked, &[0.0, 0.0], 1e-3, &h), vec![0]);
    }

    #[test]
    fn an_indefinite_hessian_gives_no_covariance() {
        let h = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, -1.0]);
        assert!(covariance_from_hessian(&h).is_none());
    }
}
