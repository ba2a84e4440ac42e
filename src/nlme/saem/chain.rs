//! The E-step of SAEM: Metropolis–Hastings chains of each subject's random effects.
//!
//! The target is the conditional distribution `p(η | yᵢ) ∝ exp(−U(η)/2)` with
//! `U(η) = −2 ln p(yᵢ | η) + ηᵀΩ⁻¹η`. Each iteration runs three kernels on every chain (as
//! Monolix and saemix do):
//! 1. independent draws from the population distribution `N(0, Ω)`, accepted with
//!    probability `min(1, exp(−ΔU_y/2))` (`U_y` the data part: the prior cancels);
//! 2. a random walk on all components, `η' = η + s ⊙ z`, accepted with
//!    `min(1, exp(−ΔU/2))`;
//! 3. a random walk on one component at a time, with its own step.
//!
//! The random-walk steps start at half of each `ω` and adapt between iterations towards an
//! acceptance rate of 0.4: `s ← s·(1 + 0.4·(rate − 0.4))`, with the rate pooled over all
//! subjects' chains (so it is the same on any number of threads).
//!
//! A step draws its uniform `u` before it solves the proposal, so the proposal is accepted
//! only if `U_y' < limit` for a limit known in advance. The solution stops as soon as the
//! observations solved so far rule that out: their `−2 ln L` terms plus the least terms
//! the remaining ones can have (0 for a value below the LLOQ, `ln 2π + 2 ln sd` for an
//! additive, log-additive or combined error) reach the limit. The chains are exactly those
//! of whole solutions; only the rejected proposals' later stretches go unsolved (a
//! proportional error on an observation of 0 has no least term, and then every solution is
//! whole).

use super::super::subject::{Shared, SubjectProblem};
use crate::error::Result;
use crate::likelihood::ObservationTerm;
use crate::model::Model;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// The acceptance rate the random-walk steps adapt towards.
const TARGET_ACCEPTANCE: f64 = 0.4;

/// The gain of the step adaptation.
const ADAPTATION: f64 = 0.4;

/// Metropolis–Hastings iterations of each kernel per SAEM iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Kernels {
    /// Draws from the population distribution.
    pub prior: usize,
    /// Random-walk steps on all components at once.
    pub joint: usize,
    /// Sweeps of random-walk steps on one component at a time.
    pub single: usize,
}

impl Default for Kernels {
    /// 2, 2, 2 (Monolix's and saemix's defaults).
    fn default() -> Self {
        Kernels {
            prior: 2,
            joint: 2,
            single: 2,
        }
    }
}

/// One Markov chain's state.
#[derive(Debug, Clone)]
pub(super) struct Chain {
    pub eta: Vec<f64>,
    /// `U_y = −2 ln p(y | η)` (`ln 2π` constants included), `+∞` where the model cannot
    /// be evaluated.
    pub data_term: f64,
    /// The predictions at `eta` (model units), for M-steps that change only σ.
    pub predictions: Vec<f64>,
}

/// A subject's chains and its random stream.
pub(super) struct SubjectChains {
    pub chains: Vec<Chain>,
    pub rng: ChaCha8Rng,
}

/// Random-walk steps per random effect, shared by all subjects.
#[derive(Debug, Clone)]
pub(super) struct Steps {
    pub joint: Vec<f64>,
    pub single: Vec<f64>,
}

/// Proposals and acceptances of one iteration.
#[derive(Debug, Clone, Default)]
pub(super) struct Acceptance {
    pub joint: [u64; 2],
    pub single: Vec<[u64; 2]>,
    /// Model solutions.
    pub solutions: u64,
}

impl Steps {
    /// Half of each `ω` for both kernels.
    pub fn new(omega_sd: &[f64]) -> Self {
        let s: Vec<f64> = omega_sd.iter().map(|w| 0.5 * w).collect();
        Steps {
            joint: s.clone(),
            single: s,
        }
    }

    /// Moves the steps towards the target acceptance rate.
    pub fn adapt(&mut self, acceptance: &[Acceptance]) {
        let rate = |a: [u64; 2]| (a[1] > 0).then(|| a[0] as f64 / a[1] as f64);
        let factor = |r: f64| 1.0 + ADAPTATION * (r - TARGET_ACCEPTANCE);
        let joint = acceptance
            .iter()
            .fold([0, 0], |t, a| [t[0] + a.joint[0], t[1] + a.joint[1]]);
        if let Some(r) = rate(joint) {
            self.joint.iter_mut().for_each(|s| *s *= factor(r));
        }
        for (c, s) in self.single.iter_mut().enumerate() {
            let counts = acceptance.iter().fold([0, 0], |t, a| {
                let x = a.single.get(c).copied().unwrap_or_default();
                [t[0] + x[0], t[1] + x[1]]
            });
            if let Some(r) = rate(counts) {
                *s *= factor(r);
            }
        }
    }
}

impl Chain {
    /// The chain at `η`: `U_y` (`+∞` where the likelihood is not finite) and the
    /// predictions.
    ///
    /// # Errors
    /// The model's, where it cannot be evaluated at `η`.
    pub fn at<M: Model>(
        subject: &SubjectProblem<'_, M>,
        shared: &Shared<'_>,
        eta: Vec<f64>,
    ) -> Result<Chain> {
        let objective = &subject.objective;
        let terms = subject.with_params(shared, &eta, |params| {
            objective.contributions(params, &shared.errors)
        })??;
        Ok(Chain::from_terms(eta, &terms))
    }

    /// The chain at `η` if `U_y < limit` may hold, or `None` as soon as the observations
    /// solved so far show that it does not (the rest of the solution is not computed).
    ///
    /// # Errors
    /// The model's, where it cannot be evaluated at `η`.
    fn below<M: Model>(
        subject: &SubjectProblem<'_, M>,
        shared: &Shared<'_>,
        eta: Vec<f64>,
        limit: f64,
    ) -> Result<Option<Chain>> {
        let objective = &subject.objective;
        let terms = subject.with_params(shared, &eta, |params| {
            objective.contributions_below(params, &shared.errors, limit)
        })??;
        Ok(terms.map(|terms| Chain::from_terms(eta, &terms)))
    }

    fn from_terms(eta: Vec<f64>, terms: &[ObservationTerm]) -> Chain {
        let u: f64 = terms.iter().map(|t| t.minus_two_ll).sum();
        Chain {
            eta,
            data_term: if u.is_finite() { u } else { f64::INFINITY },
            predictions: terms.iter().map(|t| t.prediction).collect(),
        }
    }

    /// Solves the chain again at its `η` under `shared` (`U_y = +∞` and no predictions
    /// where the model cannot be evaluated).
    pub fn resolve<M: Model>(&mut self, subject: &SubjectProblem<'_, M>, shared: &Shared<'_>) {
        let eta = std::mem::take(&mut self.eta);
        *self = Chain::at(subject, shared, eta.clone()).unwrap_or(Chain {
            eta,
            data_term: f64::INFINITY,
            predictions: Vec::new(),
        });
    }
}

/// `ηᵀΩ⁻¹η`.
fn prior_term(shared: &Shared<'_>, eta: &[f64]) -> f64 {
    let k = eta.len();
    let mut q = 0.0;
    for a in 0..k {
        for b in 0..k {
            q += eta[a] * shared.omega_inv[(a, b)] * eta[b];
        }
    }
    q
}

/// One kernel's proposal for a chain.
enum Proposal<'s> {
    Prior,
    Joint(&'s [f64]),
    Single(usize, f64),
}

impl SubjectChains {
    /// Runs the kernels once on every chain of the subject.
    pub fn iterate<M: Model>(
        &mut self,
        subject: &SubjectProblem<'_, M>,
        shared: &Shared<'_>,
        steps: &Steps,
        kernels: Kernels,
    ) -> Acceptance {
        let k = steps.joint.len();
        let mut acc = Acceptance {
            single: vec![[0, 0]; k],
            ..Acceptance::default()
        };
        for chain in &mut self.chains {
            for _ in 0..kernels.prior {
                step(chain, subject, shared, Proposal::Prior, &mut self.rng);
            }
            for _ in 0..kernels.joint {
                let accepted = step(
                    chain,
                    subject,
                    shared,
                    Proposal::Joint(&steps.joint),
                    &mut self.rng,
                );
                acc.joint[0] += u64::from(accepted);
                acc.joint[1] += 1;
            }
            for _ in 0..kernels.single {
                for (c, single) in acc.single.iter_mut().enumerate() {
                    let p = Proposal::Single(c, steps.single[c]);
                    single[0] += u64::from(step(chain, subject, shared, p, &mut self.rng));
                    single[1] += 1;
                }
            }
        }
        let per_chain = kernels.prior + kernels.joint + kernels.single * k;
        acc.solutions = (per_chain * self.chains.len()) as u64;
        acc
    }
}

/// One Metropolis–Hastings step of a chain; whether the proposal was accepted.
fn step<M: Model>(
    chain: &mut Chain,
    subject: &SubjectProblem<'_, M>,
    shared: &Shared<'_>,
    proposal: Proposal<'_>,
    rng: &mut ChaCha8Rng,
) -> bool {
    let mut normal = || -> f64 { rng.sample(StandardNormal) };
    let (eta, with_prior) = match proposal {
        Proposal::Prior => {
            let z: Vec<f64> = (0..chain.eta.len()).map(|_| normal()).collect();
            let l = &shared.omega_factor;
            let eta = (0..z.len())
                .map(|r| (0..=r).map(|c| l[(r, c)] * z[c]).sum())
                .collect();
            (eta, false)
        }
        Proposal::Joint(s) => {
            let eta = chain
                .eta
                .iter()
                .zip(s)
                .map(|(e, s)| e + s * normal())
                .collect();
            (eta, true)
        }
        Proposal::Single(c, s) => {
            let mut eta = chain.eta.clone();
            eta[c] += s * normal();
            (eta, true)
        }
    };
    let u: f64 = rng.random();
    let prior = if with_prior {
        prior_term(shared, &eta) - prior_term(shared, &chain.eta)
    } else {
        0.0
    };
    // accepted when ln u < −(ΔU_y + Δprior)/2, i.e. U_y' < limit; an infinite current U
    // (a start the model cannot evaluate) accepts any finite proposal
    let limit = chain.data_term - prior - 2.0 * u.ln();
    let Ok(Some(proposed)) = Chain::below(subject, shared, eta, limit) else {
        return false;
    };
    let accept = proposed.data_term.is_finite() && proposed.data_term < limit;
    if accept {
        *chain = proposed;
    }
    accept
}
