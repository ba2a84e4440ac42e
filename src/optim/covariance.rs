//! Uncertainty from the observed Fisher information: the Hessian of −2LL at the optimum.
//!
//! On the estimation scale, `Cov(θ̂) = 2·H⁻¹` where `H` is the Hessian of −2LL (the Fisher
//! information of the log-likelihood is `H/2`). `H` is computed by central differences
//! ([`hessian`](super::differences::hessian); for a population fit, whose evaluations are
//! dear, [`hessian_from_axes`](super::differences::hessian_from_axes)); it is inverted
//! through its Cholesky factor,
//! which fails exactly when `H` is not positive definite, and then no standard errors are
//! reported.

use nalgebra::DMatrix;

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

/// The lower Cholesky factor of a covariance given as rows (as results serialise it), the
/// factor draws of the estimates' sampling distribution use; `None` when the matrix is not
/// positive definite.
pub(crate) fn factor_of_rows(rows: &[Vec<f64>]) -> Option<DMatrix<f64>> {
    let cov = DMatrix::from_fn(rows.len(), rows.len(), |r, c| rows[r][c]);
    cov.cholesky().map(|c| c.l())
}

/// The rows of a matrix, for results that serialise as nested lists.
pub(crate) fn rows(m: &DMatrix<f64>) -> Vec<Vec<f64>> {
    (0..m.nrows())
        .map(|i| m.row(i).iter().copied().collect())
        .collect()
}
