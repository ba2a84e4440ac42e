//! Seeded random streams and correlated normal draws, shared by every simulation.
//!
//! A simulation that runs replicates in parallel gives replicate `r` its own stream `r` of
//! ChaCha8 seeded with the user's seed, so that its numbers do not depend on which thread
//! runs it or in which order.

use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// ChaCha8 seeded with `seed`, on stream `stream`.
pub(crate) fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// `L·z` with `z ~ N(0, I)`: a draw from `N(0, LLᵀ)` for a lower Cholesky factor `L`.
pub(crate) fn correlated_normal<R: Rng + ?Sized>(factor: &DMatrix<f64>, rng: &mut R) -> Vec<f64> {
    let z = DVector::from_fn(factor.ncols(), |_, _| rng.sample(StandardNormal));
    (factor * z).iter().copied().collect()
}

/// `mean + L·z`: a draw from `N(mean, LLᵀ)`.
pub(crate) fn around<R: Rng + ?Sized>(
    mean: &[f64],
    factor: &DMatrix<f64>,
    rng: &mut R,
) -> Vec<f64> {
    mean.iter()
        .zip(correlated_normal(factor, rng))
        .map(|(m, d)| m + d)
        .collect()
}
