//! Shared by the population recovery tests: tallies estimates of known parameters across
//! seeded replicates.

use cart_pkpd::nlme::PopulationFit;

/// Mean relative bias and 95% CI coverage per parameter over replicates.
pub struct Tally {
    names: Vec<String>,
    truth: Vec<f64>,
    bias: Vec<f64>,
    covered: Vec<usize>,
    /// Fits with a CI for the parameter (the covariance step can fail).
    with_ci: Vec<usize>,
    fits: usize,
}

impl Tally {
    /// Parameters in the order of a fit's θ, then Ω, then σ.
    pub fn new(names: Vec<String>, truth: Vec<f64>) -> Self {
        let n = names.len();
        Tally {
            names,
            truth,
            bias: vec![0.0; n],
            covered: vec![0; n],
            with_ci: vec![0; n],
            fits: 0,
        }
    }

    /// Adds one fit: relative error of each estimate, and whether its 95% CI (Wald; on the
    /// log scale for Ω variances) holds the truth.
    pub fn record(&mut self, fit: &PopulationFit) {
        let estimates: Vec<(f64, Option<(f64, f64)>)> = fit
            .theta
            .iter()
            .map(|e| (e.value, e.ci95))
            .chain(fit.omega.iter().map(|o| (o.value, o.ci95)))
            .chain(fit.sigma.iter().map(|e| (e.value, e.ci95)))
            .collect();
        assert_eq!(estimates.len(), self.names.len(), "parameter count");
        for (i, (value, ci)) in estimates.into_iter().enumerate() {
            let t = self.truth[i];
            self.bias[i] += value / t - 1.0;
            self.covered[i] += usize::from(ci.is_some_and(|(lo, hi)| lo <= t && t <= hi));
            self.with_ci[i] += usize::from(ci.is_some());
        }
        self.fits += 1;
    }

    /// Mean relative bias of parameter `i`.
    pub fn bias(&self, i: usize) -> f64 {
        self.bias[i] / self.fits as f64
    }

    /// Share of the fits with a CI whose CI holds the truth.
    pub fn coverage(&self, i: usize) -> f64 {
        self.covered[i] as f64 / self.with_ci[i].max(1) as f64
    }

    /// Prints the table and asserts the criteria: |bias| < `typical_limit` for the
    /// first `n_typical` parameters, < `omega_limit` for the next `n_omega`; and CI coverage
    /// of the typical values of at least 75%.
    pub fn check(&self, n_typical: usize, n_omega: usize, typical_limit: f64, omega_limit: f64) {
        for i in 0..self.names.len() {
            eprintln!(
                "{:<14} truth {:>10.4}  mean relative bias {:+.3}  CI coverage {:.2} ({} of {} CIs hold the truth)",
                self.names[i],
                self.truth[i],
                self.bias(i),
                self.coverage(i),
                self.covered[i],
                self.with_ci[i]
            );
        }
        for i in 0..n_typical {
            assert!(
                self.bias(i).abs() < typical_limit,
                "{}: {}",
                self.names[i],
                self.bias(i)
            );
        }
        for i in 0..n_typical {
            // nominal 95%; with 16–20 replicates a share below 75% has probability < 2%
            assert!(
                self.coverage(i) >= 0.75,
                "{}: CI coverage {}",
                self.names[i],
                self.coverage(i)
            );
        }
        for i in n_typical..n_typical + n_omega {
            assert!(
                self.bias(i).abs() < omega_limit,
                "{}: {}",
                self.names[i],
                self.bias(i)
            );
        }
    }
}
