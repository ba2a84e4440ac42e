//! The settings of [`fit_population_saem`](super::fit_population_saem): phases, chains,
//! kernels, annealing, the importance sampling and the standard errors.

use super::chain::Kernels;
use crate::error::{Error, Result};
use crate::likelihood::Censoring;
use crate::nlme::PopulationOptions;
use crate::simulate::SolverOptions;

/// How long the exploration phase lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Exploration {
    /// Exactly this many iterations.
    Fixed(usize),
    /// Until every element of `φ` is stable (the slope of its least-squares line over the
    /// last [`STABILITY_WINDOW`](super::STABILITY_WINDOW) iterations within two standard
    /// errors of zero), checked every 10 iterations after `min`, and at most `max`
    /// iterations.
    Auto {
        /// Fewest iterations.
        min: usize,
        /// Most iterations.
        max: usize,
    },
}

/// Markov chains per subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Chains {
    /// The fewest with subjects × chains ≥ 50 (as Monolix).
    Auto,
    /// This many (≥ 1).
    Fixed(usize),
}

/// Settings of [`fit_population_saem`](super::fit_population_saem).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SaemOptions {
    /// Seed of the chains and of the importance sampling.
    pub seed: u64,
    /// Exploration phase (`γ = 1`).
    pub exploration: Exploration,
    /// Smoothing iterations (`γₖ = (k − K₁)^(−0.6)`, estimates averaged).
    pub smoothing: usize,
    /// Markov chains per subject.
    pub chains: Chains,
    /// Metropolis–Hastings iterations per kernel and SAEM iteration.
    pub kernels: Kernels,
    /// Simulated annealing during exploration: the largest fall of a variance per
    /// iteration, as a factor in `(0, 1]` (1: none).
    pub annealing: f64,
    /// Draws per subject of the importance-sampling likelihood (0: not computed, and the
    /// fit reports the FOCE-I approximation at the estimates).
    pub importance_samples: usize,
    /// Degrees of freedom of the importance sampling's t proposal.
    pub degrees_of_freedom: f64,
    /// Treatment of below-LLOQ observations.
    pub censoring: Censoring,
    /// ODE solver settings (unused for models with a closed form).
    pub solver: SolverOptions,
    /// Compute standard errors (by [`SaemOptions::standard_errors`]).
    pub covariance: bool,
    /// How the standard errors are computed.
    #[serde(default)]
    pub standard_errors: StandardErrors,
}

/// How [`fit_population_saem`](super::fit_population_saem) computes standard errors (and
/// how [`PopulationFit::standard_errors`](crate::nlme::PopulationFit::standard_errors) says
/// they were computed: FOCE-I's are by linearisation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StandardErrors {
    /// By linearisation: the FOCE-I covariance step (the Hessian of FOCE-I's −2LL) at the
    /// SAEM estimates.
    #[default]
    Linearisation,
    /// By the observed Fisher information with Louis' principle (no linearisation; as
    /// Monolix): with `ℓᵢ` subject `i`'s complete-data log-likelihood,
    /// `I = −Σᵢ (E[∇²ℓᵢ] + E[∇ℓᵢ∇ℓᵢᵀ] − E[∇ℓᵢ]E[∇ℓᵢ]ᵀ)` over `p(η | yᵢ)`, estimated from the
    /// chains run this many iterations (≥ 1) at the estimates, with derivatives by central
    /// differences (step 3e-3 on the estimation scale); the covariance is `I⁻¹`.
    ///
    /// On Theophylline, 200 iterations give every SE within 6% of the exact observed
    /// information (quadrature). Where random effects carry most of the information on a
    /// parameter, the chains' draws understate the spread of the complete-data score and
    /// the SEs come out too small, converging slowly: on model 2 and the 19-subject cohort,
    /// β's and kp's SEs (parameters without a random effect) were 0.43× and 0.28×
    /// linearisation's after 100 iterations and 0.52× and 0.50× after 400. The fit warns
    /// ([`StandardErrorsUnstable`](crate::nlme::PopulationWarning::StandardErrorsUnstable))
    /// where an SE from the first half of the iterations differs from that from all of them
    /// by more than 20% (it flagged kp after 100 iterations there).
    Louis {
        /// Iterations of the chains at the estimates.
        iterations: usize,
    },
}

impl Default for SaemOptions {
    /// Seed 1, exploration auto between 150 and 500 iterations, 200 smoothing iterations,
    /// automatic chains, kernels 2/2/2, annealing 0.95, 5,000 importance draws with a t of
    /// 5 degrees of freedom, M3, ODE rtol 1e-9 (the population fit's), standard errors by
    /// linearisation.
    fn default() -> Self {
        let foce = PopulationOptions::default();
        SaemOptions {
            seed: 1,
            exploration: Exploration::Auto { min: 150, max: 500 },
            smoothing: 200,
            chains: Chains::Auto,
            kernels: Kernels::default(),
            annealing: 0.95,
            importance_samples: 5000,
            degrees_of_freedom: 5.0,
            censoring: foce.censoring,
            solver: foce.solver,
            covariance: true,
            standard_errors: StandardErrors::Linearisation,
        }
    }
}

impl SaemOptions {
    pub(super) fn check(&self) -> Result<()> {
        let invalid = |reason: &str| {
            Err(Error::InvalidFitOptions {
                reason: reason.into(),
            })
        };
        let kernels = self.kernels.prior + self.kernels.joint + self.kernels.single;
        match self.exploration {
            Exploration::Fixed(0) => return invalid("the exploration phase needs an iteration"),
            Exploration::Auto { min, max } if min > max || max == 0 => {
                return invalid("exploration: min must not exceed max, and max must be >= 1");
            }
            _ => {}
        }
        if self.smoothing == 0 {
            return invalid("the smoothing phase needs an iteration");
        }
        if self.chains == Chains::Fixed(0) {
            return invalid("chains must be >= 1");
        }
        if kernels == 0 {
            return invalid("at least one Metropolis-Hastings kernel must run");
        }
        if !(self.annealing > 0.0 && self.annealing <= 1.0) {
            return invalid("annealing must be in (0, 1]");
        }
        if self.importance_samples == 1 {
            return invalid("importance sampling needs at least 2 samples (or 0: none)");
        }
        if !(self.degrees_of_freedom.is_finite() && self.degrees_of_freedom > 0.0) {
            return invalid("degrees_of_freedom must be finite and > 0");
        }
        if self.standard_errors == (StandardErrors::Louis { iterations: 0 }) {
            return invalid("Louis' standard errors need at least one iteration");
        }
        self.solver.check()
    }

    /// The same settings as a FOCE-I fit's, for what is computed at the estimates.
    pub(super) fn population_options(&self) -> PopulationOptions {
        PopulationOptions {
            censoring: self.censoring,
            solver: self.solver,
            covariance: self.covariance && self.standard_errors == StandardErrors::Linearisation,
            ..PopulationOptions::default()
        }
    }
}

impl std::fmt::Display for StandardErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StandardErrors::Linearisation => {
                write!(f, "by linearisation (the Hessian of FOCE-I's -2LL)")
            }
            StandardErrors::Louis { iterations } => write!(
                f,
                "by Louis' principle ({iterations} iterations of the chains at the estimates)"
            ),
        }
    }
}
