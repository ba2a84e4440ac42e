//! The M-step for typical values and covariate coefficients that are not regressed
//! (parameters without a random effect, multiplicative covariate effects): a
//! stochastic-approximation Newton step, `ψ ← ψ − γₖ·H⁻¹·∇f`, with `f = Σᵢ mean_chains
//! −2 ln p(yᵢ | ηᵢ; ψ)` at the current chains. It is a
//! Robbins–Monro search for the root of `E[∇f | y] = 0`, which by Fisher's identity is the
//! score of the likelihood.
//!
//! `∇f` is a forward difference from each chain's current data term (one solution per
//! element and chain), less its leading error `(step/2)·∂²f/∂ψⱼ²` taken from the
//! complete-data Hessian below: the error left is `O(step²)` plus `step/2` times the
//! difference between the chains' curvature and that Hessian's, which averages out over
//! the iterations.
//!
//! `H` is the complete-data Hessian `E[∇²f]` (second differences every [`HESSIAN_EVERY`]
//! iterations): each step of exploration (`γ = 1`) then maximises the current chains' data
//! likelihood, as an EM step would.

use super::super::Foce;
use super::chain::SubjectChains;
use super::mstep::{DataLikelihood, Step};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::optim::differences::hessian;
use nalgebra::{DMatrix, DVector};

/// Iterations between recomputations of the complete-data Hessian.
const HESSIAN_EVERY: usize = 20;

/// Finite-difference step of the derivatives (estimation scale).
const NEWTON_STEP: f64 = 1e-3;

/// Largest move of a step per element (estimation scale).
const MAX_MOVE: f64 = 0.5;

/// The state of the Newton part of the M-step.
pub(super) struct Newton {
    /// `φ` indices of `ψ`.
    pub indices: Vec<usize>,
    /// The complete-data Hessian `E[∇²f]`.
    complete: Option<DMatrix<f64>>,
    steps: usize,
    /// Model solutions.
    pub solutions: u64,
}

impl Newton {
    pub fn new(indices: Vec<usize>) -> Self {
        Newton {
            indices,
            complete: None,
            steps: 0,
            solutions: 0,
        }
    }

    /// One step (module docs).
    ///
    /// # Errors
    /// [`Error::OptimizerFailed`] where the data likelihood cannot be evaluated on either
    /// side of an element of `ψ` for some chain.
    pub fn step<M: Model>(
        &mut self,
        foce: &Foce<'_, M>,
        chains: &[SubjectChains],
        phi: &mut [f64],
        step: &Step,
    ) -> Result<()> {
        let psi: Vec<f64> = self.indices.iter().map(|&i| phi[i]).collect();
        let problem = DataLikelihood::new(foce, chains, phi, &self.indices, true);
        let ids: Vec<&str> = foce
            .subjects
            .iter()
            .map(|s| s.objective.subject())
            .collect();
        if self.complete.is_none() || self.steps.is_multiple_of(HESSIAN_EVERY) {
            let f = |x: &[f64]| problem.value(x).unwrap_or(f64::INFINITY);
            let h = hessian(f, &psi, NEWTON_STEP);
            if h.clone().cholesky().is_some() {
                self.complete = Some(h);
            }
        }
        let per_chain = self.gradients(&problem, chains, &psi, &ids)?;
        self.solutions += problem.solutions();
        let mut g: DVector<f64> = per_chain
            .iter()
            .map(|subject| subject.iter().sum::<DVector<f64>>() / subject.len() as f64)
            .sum();
        if let Some(h) = &self.complete {
            // forward differences: their leading error (step/2)·∂²f/∂ψⱼ² in expectation
            for (j, gj) in g.iter_mut().enumerate() {
                *gj -= 0.5 * NEWTON_STEP * h[(j, j)];
            }
        }
        let h = self.complete.clone();
        let delta = match h.and_then(|h| h.cholesky()) {
            Some(c) => -c.solve(&g),
            // no positive definite curvature yet: a gradient step of length MAX_MOVE
            None => -&g * (MAX_MOVE / g.amax().max(f64::MIN_POSITIVE)),
        };
        let shrink = (MAX_MOVE / delta.amax().max(f64::MIN_POSITIVE)).min(1.0);
        for (&i, d) in self.indices.iter().zip(delta.iter()) {
            phi[i] += step.gamma * shrink * d;
        }
        self.steps += 1;
        Ok(())
    }

    /// `∇fᵢ` of every subject's every chain by forward differences from the chain's
    /// current data term (backward where the forward side cannot be evaluated).
    fn gradients<M: Model>(
        &self,
        problem: &DataLikelihood<'_, '_, M>,
        chains: &[SubjectChains],
        psi: &[f64],
        ids: &[&str],
    ) -> Result<Vec<Vec<DVector<f64>>>> {
        let d = psi.len();
        let mut out: Vec<Vec<DVector<f64>>> = chains
            .iter()
            .map(|s| vec![DVector::zeros(d); s.chains.len()])
            .collect();
        let mut x = psi.to_vec();
        for j in 0..d {
            x[j] = psi[j] + NEWTON_STEP;
            let up = problem.per_chain(&x)?;
            let forward_fails = up.iter().flatten().any(|u| !u.is_finite());
            // backward differences for chains whose forward side cannot be evaluated (their
            // leading error has the other sign; rare, and left uncorrected)
            x[j] = psi[j] - NEWTON_STEP;
            let down = if forward_fails {
                Some(problem.per_chain(&x)?)
            } else {
                None
            };
            x[j] = psi[j];
            for (i, subject) in chains.iter().enumerate() {
                for (c, chain) in subject.chains.iter().enumerate() {
                    let centre = chain.data_term;
                    let u = up[i][c];
                    let l = down.as_ref().map_or(f64::NAN, |down| down[i][c]);
                    out[i][c][j] = match (u.is_finite(), l.is_finite(), centre.is_finite()) {
                        (true, _, true) => (u - centre) / NEWTON_STEP,
                        (false, true, true) => (centre - l) / NEWTON_STEP,
                        _ => {
                            return Err(Error::OptimizerFailed {
                                reason: format!(
                                    "SAEM M-step: subject `{}`: the data likelihood cannot be \
                                     evaluated on either side of φ[{}]",
                                    ids[i], self.indices[j]
                                ),
                            });
                        }
                    };
                }
            }
        }
        Ok(out)
    }
}
