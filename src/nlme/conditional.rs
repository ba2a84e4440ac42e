//! The conditional distribution of a subject's random effects given its data,
//! `p(η | yᵢ; φ̂)`, summarised by its mean and covariance as SAEM's Markov chains estimate
//! them (Monolix's conditional means and SDs): the centre and scale of the importance
//! sampling proposal ([`importance_sampling_conditional`](super::importance_sampling_conditional)),
//! and the subject-level summary beside the conditional mode (the EBE).

use crate::error::{Error, Result};
use nalgebra::{DMatrix, DVector};

/// The mean and covariance of one subject's `η` given its data.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConditionalDistribution {
    /// Subject ID.
    pub id: String,
    /// `E[η | yᵢ]`, in the order of
    /// [`PopulationFit::random_effects`](super::PopulationFit::random_effects) (each on its
    /// parameter's estimation scale: log for positive parameters).
    pub mean: Vec<f64>,
    /// `sd[η | yᵢ]`, the square roots of the covariance's diagonal.
    pub sd: Vec<f64>,
    /// `Cov[η | yᵢ]`, row by row.
    pub covariance: Vec<Vec<f64>>,
    /// Draws it was estimated from (chains × iterations).
    pub draws: usize,
}

impl ConditionalDistribution {
    /// The mean and covariance as nalgebra types, checked against `k` random effects.
    ///
    /// # Errors
    /// [`Error::InvalidFitOptions`] where the dimensions are not `k` or a value is not
    /// finite.
    pub(crate) fn moments(&self, k: usize) -> Result<(DVector<f64>, DMatrix<f64>)> {
        let rows_ok = self.covariance.len() == k && self.covariance.iter().all(|r| r.len() == k);
        let finite = self.mean.iter().all(|v| v.is_finite())
            && self.covariance.iter().flatten().all(|v| v.is_finite());
        if self.mean.len() != k || !rows_ok || !finite {
            return Err(Error::InvalidFitOptions {
                reason: format!(
                    "conditional distribution of subject `{}`: needs a finite mean of length \
                     {k} and a finite {k} x {k} covariance",
                    self.id
                ),
            });
        }
        Ok((
            DVector::from_column_slice(&self.mean),
            DMatrix::from_fn(k, k, |r, c| self.covariance[r][c]),
        ))
    }
}

/// Running sums of draws of a subject's latent vector, for its mean and covariance.
#[derive(Debug, Clone)]
pub(crate) struct MomentSums {
    sum: DVector<f64>,
    outer: DMatrix<f64>,
    draws: usize,
}

impl MomentSums {
    pub fn new(k: usize) -> Self {
        MomentSums {
            sum: DVector::zeros(k),
            outer: DMatrix::zeros(k, k),
            draws: 0,
        }
    }

    /// Adds one draw.
    pub fn add(&mut self, x: &DVector<f64>) {
        self.sum += x;
        self.outer += x * x.transpose();
        self.draws += 1;
    }

    /// The distribution of `x − shift` (the draws' mean and covariance, divisor `n − 1`).
    pub fn distribution(&self, id: &str, shift: &DVector<f64>) -> ConditionalDistribution {
        let n = self.draws.max(2) as f64;
        let mean = &self.sum / n;
        let covariance = (&self.outer - &mean * mean.transpose() * n) / (n - 1.0);
        let k = mean.len();
        ConditionalDistribution {
            id: id.to_owned(),
            mean: (mean - shift).iter().copied().collect(),
            sd: (0..k).map(|r| covariance[(r, r)].max(0.0).sqrt()).collect(),
            covariance: (0..k)
                .map(|r| (0..k).map(|c| covariance[(r, c)]).collect())
                .collect(),
            draws: self.draws,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sums give the sample mean and the unbiased sample covariance of the draws.
    #[test]
    fn moments_of_three_draws() {
        let mut m = MomentSums::new(2);
        for (a, b) in [(1.0, 2.0), (3.0, 2.0), (2.0, 5.0)] {
            m.add(&DVector::from_vec(vec![a, b]));
        }
        let d = m.distribution("S", &DVector::from_vec(vec![1.0, 0.0]));
        // means 2 and 3; deviations (-1, -1), (1, -1), (0, 2)
        assert_eq!(d.mean, vec![1.0, 3.0]);
        approx::assert_relative_eq!(d.covariance[0][0], 1.0);
        approx::assert_relative_eq!(d.covariance[1][1], 3.0);
        approx::assert_relative_eq!(d.covariance[0][1], 0.0);
        approx::assert_relative_eq!(d.sd[1], 3f64.sqrt());
        assert_eq!(d.draws, 3);
    }
}
