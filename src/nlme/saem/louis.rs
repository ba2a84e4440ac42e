//! Standard errors of SAEM's estimates by the stochastic approximation of the observed
//! Fisher information with Louis' principle (Louis 1982, J R Stat Soc B; Kuhn & Lavielle
//! 2005, Comput Stat Data Anal), as Monolix computes them.
//!
//! With `ℓᵢ(φ; η) = ln p(yᵢ | η; φ) + ln p(η; φ)` the complete-data log-likelihood of
//! subject `i` (estimation scale `φ`), Louis' identity gives the observed information of
//! the marginal likelihood as
//!
//! `I(φ̂) = −Σᵢ ( E[∇²ℓᵢ] + E[∇ℓᵢ ∇ℓᵢᵀ] − E[∇ℓᵢ] E[∇ℓᵢ]ᵀ )`,
//!
//! expectations over `p(η | yᵢ; φ̂)`. They are estimated from the subjects' Markov chains
//! run at `φ̂` (no M-step) for a number of iterations, every chain's state a draw. The
//! latent vector is the one SAEM's M-step keeps (`ζ = μᵢ(φ) + η` for a regressed random
//! effect, `η` otherwise), so that regressed typical values and coefficients enter only the
//! prior term. `∇ℓᵢ` and `∇²ℓᵢ` are central differences with step [`LOUIS_STEP`]: points
//! that move a typical value or coefficient that is not regressed solve the model (one
//! solution per distinct such point: `2a²` for `a` of them), the others hold
//! the chain's predictions. The covariance of `φ̂` is then `I⁻¹`.

use super::super::Foce;
use super::super::subject::SubjectProblem;
use super::chain::{Chain, Kernels, Steps, SubjectChains};
use super::mstep::MStep;
use crate::error::Result;
use crate::model::Model;
use crate::nlme::PopulationWarning;
use crate::optim::differences::{gradient, hessian};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;
use std::cell::RefCell;

/// Finite-difference step of the complete-data derivatives (estimation scale), as the
/// FOCE-I covariance step's default.
pub const LOUIS_STEP: f64 = 3e-3;

/// One subject's running sums of `∇ℓ` and `∇²ℓ + ∇ℓ∇ℓᵀ` over its draws.
#[derive(Debug, Clone)]
struct Sums {
    gradient: DVector<f64>,
    second: DMatrix<f64>,
    draws: usize,
}

/// The observed information `I(φ̂)` (module docs), the same from the first half of the
/// iterations only (a check of its convergence), and the model solutions they took.
pub(super) struct Information {
    pub matrix: DMatrix<f64>,
    pub first_half: DMatrix<f64>,
    pub solutions: u64,
}

impl Sums {
    fn new(p: usize) -> Self {
        Sums {
            gradient: DVector::zeros(p),
            second: DMatrix::zeros(p, p),
            draws: 0,
        }
    }
}

/// `−Σᵢ (mean(∇²ℓᵢ + ∇ℓᵢ∇ℓᵢᵀ) − mean(∇ℓᵢ)·mean(∇ℓᵢ)ᵀ)` over subjects' sums.
fn information(sums: &[Sums], p: usize) -> DMatrix<f64> {
    let mut matrix = DMatrix::zeros(p, p);
    for s in sums.iter().filter(|s| s.draws > 0) {
        let n = s.draws as f64;
        let mean = &s.gradient / n;
        matrix -= &s.second / n - &mean * mean.transpose();
    }
    matrix
}

/// Runs every subject's chains at `phi` for `iterations` iterations and estimates the
/// observed information from their states.
///
/// # Errors
/// [`crate::Error::InvalidOmega`] where `phi`'s Ω is not positive definite.
pub(super) fn louis_information<M: Model>(
    foce: &Foce<'_, M>,
    chains: &mut [SubjectChains],
    mstep: &MStep,
    phi: &[f64],
    steps: &Steps,
    kernels: Kernels,
    iterations: usize,
) -> Result<Information> {
    let p = phi.len();
    let shared = foce.shared(phi)?;
    let mu = mstep.means(phi);
    let mut solutions = 0u64;
    let mut sums = vec![Sums::new(p); chains.len()];
    let mut first_half = sums.clone();
    for iteration in 0..iterations {
        if iteration == iterations / 2 {
            first_half = sums.clone();
        }
        let work: Vec<u64> = chains
            .par_iter_mut()
            .zip(&foce.subjects)
            .zip(&mut sums)
            .zip(&mu)
            .enumerate()
            .map(|(index, (((c, s), sum), mu))| {
                let acc = c.iterate(s, &shared, steps, kernels);
                let mut solved = acc.solutions;
                for chain in &c.chains {
                    let zeta = DVector::from_column_slice(&chain.eta) + mu;
                    let draw = Draw {
                        foce,
                        mstep,
                        subject: s,
                        index,
                        chain,
                        zeta,
                        phi,
                        solved: RefCell::new(Vec::new()),
                    };
                    if let Some((g, h)) = draw.derivatives() {
                        sum.second += h + &g * g.transpose();
                        sum.gradient += g;
                        sum.draws += 1;
                    }
                    solved += draw.solved.borrow().len() as u64;
                }
                solved
            })
            .collect();
        solutions += work.iter().sum::<u64>();
    }
    Ok(Information {
        matrix: information(&sums, p),
        first_half: information(&first_half, p),
        solutions,
    })
}

/// One chain's state as a draw of subject `subject`'s latent vector `zeta`.
struct Draw<'d, 'a, M: Model> {
    foce: &'d Foce<'a, M>,
    mstep: &'d MStep,
    subject: &'d SubjectProblem<'a, M>,
    /// The subject's index in the data.
    index: usize,
    chain: &'d Chain,
    zeta: DVector<f64>,
    phi: &'d [f64],
    /// Predictions solved at moved typical values: (those values, predictions).
    solved: RefCell<Vec<(Vec<f64>, Vec<f64>)>>,
}

impl<M: Model> Draw<'_, '_, M> {
    /// `∇ℓ` and `∇²ℓ` at `φ̂` by central differences, or `None` where `ℓ` is not finite at
    /// some point.
    fn derivatives(&self) -> Option<(DVector<f64>, DMatrix<f64>)> {
        let f = |x: &[f64]| self.complete(x);
        // the Hessian's diagonal uses the gradient's points: where one side is not finite,
        // so is the Hessian
        let hess = hessian(f, self.phi, LOUIS_STEP);
        let g = DVector::from_vec(gradient(f, self.phi, LOUIS_STEP).ok()?);
        let finite = g.iter().chain(hess.iter()).all(|v| v.is_finite());
        finite.then_some((g, hess))
    }

    /// `ℓ(φ)` up to a constant: `−½[−2 ln p(y | ζ; φ) + ηᵀΩ⁻¹η + ln|Ω|]`, `η = ζ − μᵢ(φ)`
    /// (`NaN` where it cannot be evaluated).
    fn complete(&self, phi: &[f64]) -> f64 {
        let layout = &self.foce.layout;
        let Some(chol) = layout.omega(phi).cholesky() else {
            return f64::NAN;
        };
        let eta = &self.zeta - self.mstep.mean(self.index, phi);
        let prior = chol.solve(&eta).dot(&eta) + 2.0 * chol.l().diagonal().map(f64::ln).sum();
        let Ok(errors) = layout.residuals(phi) else {
            return f64::NAN;
        };
        let Some(data) = self.predictions(phi, eta.as_slice()).map(|preds| {
            let obs = self.subject.objective.observations();
            obs.iter()
                .zip(&preds)
                .map(|(o, &p)| o.term(&errors, p))
                .sum::<f64>()
        }) else {
            return f64::NAN;
        };
        -0.5 * (data + prior)
    }

    /// The predictions at `φ`: the chain's own where no typical value that moves them
    /// differs from `φ̂`, else solved (once per distinct set of those values).
    fn predictions(&self, phi: &[f64], eta: &[f64]) -> Option<Vec<f64>> {
        let moving = self.mstep.prediction_indices();
        if moving.iter().all(|&i| phi[i] == self.phi[i]) {
            return Some(self.chain.predictions.clone());
        }
        let key: Vec<f64> = moving.iter().map(|&i| phi[i]).collect();
        if let Some((_, p)) = self.solved.borrow().iter().find(|(k, _)| *k == key) {
            return Some(p.clone());
        }
        let shared = self.foce.shared(phi).ok()?;
        let at = Chain::at(self.subject, &shared, eta.to_vec()).ok()?;
        self.solved.borrow_mut().push((key, at.predictions.clone()));
        Some(at.predictions)
    }
}

/// [`PopulationWarning::StandardErrorsUnstable`] for each element of `φ` whose standard
/// error from the first half of the draws differs from that from all draws by more than
/// [`UNSTABLE`] (or cannot be computed from the first half), named by `names`.
pub(super) fn unstable(information: &Information, names: &[String]) -> Vec<PopulationWarning> {
    let (Some(all), half) = (
        information.matrix.clone().cholesky().map(|c| c.inverse()),
        information
            .first_half
            .clone()
            .cholesky()
            .map(|c| c.inverse()),
    ) else {
        return Vec::new();
    };
    names
        .iter()
        .enumerate()
        .filter_map(|(j, name)| {
            let se = all[(j, j)].sqrt();
            let first = half.as_ref().map_or(f64::NAN, |h| h[(j, j)].sqrt());
            let stable = (first / se - 1.0).abs() <= UNSTABLE;
            (!stable).then(|| PopulationWarning::StandardErrorsUnstable {
                parameter: name.clone(),
                se,
                first_half: first,
            })
        })
        .collect()
}

/// The largest relative difference of a standard error from half of the draws to that
/// from all of them that [`unstable`] accepts.
pub const UNSTABLE: f64 = 0.2;
