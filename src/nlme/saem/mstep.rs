//! The M-step of SAEM: stochastic approximation of the complete-data likelihood's
//! sufficient statistics where it has them, of the parameters where it does not.
//!
//! A random effect whose parameter has only additive covariate effects on its estimation
//! scale (power, exponential, categorical) with time-constant covariates is *regressed*:
//! its individual value `ζᵢ = μᵢ + ηᵢ`, `μᵢ = cᵢ + Xᵢ·b` (`b` its typical value and
//! coefficients, `cᵢ` a fixed typical value), is the latent variable, and with
//! `s1ᵢ ≈ E[ζᵢ]`, `S2 ≈ Σᵢ E[ζᵢζᵢᵀ]` (components of other random effects are their `η`,
//! with `μ = 0`) the complete-data likelihood is maximised in closed form:
//!
//! - `b = (Σᵢ XᵢᵀΩ⁻¹Xᵢ)⁻¹·Σᵢ XᵢᵀΩ⁻¹(s1ᵢ − cᵢ)` (generalised least squares at the current Ω);
//! - `Ω = (1/N)·[S2 − Σᵢ(s1ᵢμᵢᵀ + μᵢs1ᵢᵀ − μᵢμᵢᵀ)]` (its diagonal, for a diagonal Ω).
//!
//! The statistics follow `s ← s + γₖ·(sₖ − s)` with `sₖ` from the current chains (averaged
//! over each subject's chains). The other typical values (of parameters without a random
//! effect or with a multiplicative covariate effect) and their coefficients take a Newton
//! step on the chains' data likelihood `Σᵢ mean_chains −2 ln p(yᵢ | ηᵢ)` (see the `newton`
//! module). The residual error parameters maximise that likelihood with the predictions
//! held (Nelder–Mead from the current values, no model solutions) and follow
//! `ψ ← ψ + γₖ·(ψ̂ₖ − ψ)`, as saemix does for them. During exploration, simulated
//! annealing keeps each variance of Ω and each residual variance from falling by more than
//! a factor `τ` per iteration.

use super::super::Foce;
use super::super::covariate::Shift;
use super::super::params::Layout;
use super::super::subject::SubjectProblem;
use super::chain::{Chain, SubjectChains};
use super::newton::Newton;
use crate::error::Result;
use crate::model::Model;
use crate::optim::solver::nelder_mead::{NelderMeadSettings, nelder_mead};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// The residual parameters' search: simplex edge 0.1, one run, tolerance 1e-7, 2000
/// iterations (no model solutions: the predictions are held).
const RESIDUAL_SEARCH: NelderMeadSettings = NelderMeadSettings::new(0.1, 1, 1e-7, 2000);

/// One subject's regression design: `μᵢ = offset + X·b`.
#[derive(Debug, Clone)]
struct Design {
    x: DMatrix<f64>,
    offset: DVector<f64>,
}

/// The stochastic approximations of the sufficient statistics.
#[derive(Debug, Clone)]
struct Statistics {
    s1: Vec<DVector<f64>>,
    s2: DMatrix<f64>,
}

/// What one M-step needs besides the chains.
pub(super) struct Step {
    /// The stochastic-approximation step `γₖ` (1 in exploration).
    pub gamma: f64,
    /// The annealing factor `τ` (exploration only).
    pub annealing: Option<f64>,
}

/// How the M-step updates `φ`.
pub(super) struct MStep {
    /// `φ` indices of `b`.
    closed: Vec<usize>,
    /// The other typical values and coefficients.
    newton: Newton,
    /// `φ` indices of the residual error parameters (maximised numerically).
    residual: Vec<usize>,
    designs: Vec<Design>,
    stats: Statistics,
    /// Model solutions of the chains' refreshes.
    solutions: u64,
}

impl MStep {
    /// The plan for a layout and its subjects.
    pub fn new<M: Model>(layout: &Layout, subjects: &[SubjectProblem<'_, M>]) -> Self {
        let k = layout.random.len();
        let single_piece = subjects.iter().all(|s| s.covariates.len() == 1);
        let rows = regressed(layout, single_piece);
        let closed: Vec<usize> = rows
            .iter()
            .flat_map(|r| r.columns.iter().map(|c| c.phi))
            .collect();
        let designs = subjects
            .iter()
            .map(|s| {
                let mut d = Design {
                    x: DMatrix::zeros(k, closed.len()),
                    offset: DVector::zeros(k),
                };
                for row in &rows {
                    d.offset[row.row] = row.offset;
                    for c in &row.columns {
                        let col = closed.iter().position(|&i| i == c.phi).unwrap_or(0);
                        d.x[(row.row, col)] = c.term.map_or(1.0, |j| s.covariates[0][j]);
                    }
                }
                d
            })
            .collect();
        let omega_start = layout.theta.len() + layout.covariates.len();
        let omega_end = omega_start + layout.n_omega();
        MStep {
            newton: Newton::new((0..omega_start).filter(|i| !closed.contains(i)).collect()),
            residual: (omega_end..layout.len()).collect(),
            closed,
            designs,
            stats: Statistics {
                s1: vec![DVector::zeros(k); subjects.len()],
                s2: DMatrix::zeros(k, k),
            },
            solutions: 0,
        }
    }

    /// `μᵢ` of every subject at `φ` (0 in the components that are not regressed).
    pub fn means(&self, phi: &[f64]) -> Vec<DVector<f64>> {
        let b = self.coefficients(phi);
        self.designs.iter().map(|d| &d.offset + &d.x * &b).collect()
    }

    /// `μᵢ` of subject `i` at `φ`.
    pub fn mean(&self, i: usize, phi: &[f64]) -> DVector<f64> {
        let d = &self.designs[i];
        &d.offset + &d.x * self.coefficients(phi)
    }

    /// `b`: the regressed typical values and coefficients in `φ`.
    fn coefficients(&self, phi: &[f64]) -> DVector<f64> {
        DVector::from_iterator(self.closed.len(), self.closed.iter().map(|&i| phi[i]))
    }

    /// `φ` indices of the typical values and coefficients that are not regressed: those
    /// that move the predictions at a fixed latent vector.
    pub fn prediction_indices(&self) -> &[usize] {
        &self.newton.indices
    }

    /// Moves the statistics towards the current chains by `γ`.
    fn update_statistics(&mut self, chains: &[SubjectChains], mu: &[DVector<f64>], gamma: f64) {
        let k = self.stats.s2.nrows();
        let mut s2 = DMatrix::zeros(k, k);
        for ((subject, mu), s1) in chains.iter().zip(mu).zip(&mut self.stats.s1) {
            let n = subject.chains.len() as f64;
            let mut mean = DVector::zeros(k);
            for c in &subject.chains {
                let zeta = DVector::from_column_slice(&c.eta) + mu;
                s2 += &zeta * zeta.transpose() / n;
                mean += zeta / n;
            }
            *s1 += (mean - &*s1) * gamma;
        }
        self.stats.s2 += (s2 - &self.stats.s2) * gamma;
    }

    /// One M-step: statistics, closed-form `b` and Ω, then the numerical part; the chains'
    /// `η` follow `μ` (their `ζ` stays) and their data terms are recomputed at the new `φ`.
    ///
    /// # Errors
    /// Those of the numerical maximisation ([`crate::Error::OptimizerFailed`]) or of Ω
    /// ([`crate::Error::InvalidOmega`]).
    pub fn run<M: Model>(
        &mut self,
        foce: &Foce<'_, M>,
        chains: &mut [SubjectChains],
        phi: &mut [f64],
        step: &Step,
    ) -> Result<()> {
        let mu_old = self.means(phi);
        self.update_statistics(chains, &mu_old, step.gamma);
        self.closed_form(&foce.layout, phi, step.annealing)?;
        let mu = self.means(phi);
        for ((subject, old), new) in chains.iter_mut().zip(&mu_old).zip(&mu) {
            for c in &mut subject.chains {
                for (r, e) in c.eta.iter_mut().enumerate() {
                    *e += old[r] - new[r];
                }
            }
        }
        if !self.newton.indices.is_empty() {
            self.newton.step(foce, chains, phi, step)?;
            self.refresh(foce, chains, phi, true)?;
        }
        if !self.residual.is_empty() {
            self.residual_part(foce, chains, phi, step)?;
        }
        self.refresh(foce, chains, phi, false)
    }

    /// Model solutions of the M-steps so far.
    pub fn solutions(&self) -> u64 {
        self.solutions + self.newton.solutions
    }

    /// `b` by generalised least squares and Ω from the statistics.
    fn closed_form(&self, layout: &Layout, phi: &mut [f64], annealing: Option<f64>) -> Result<()> {
        let old = layout.omega(phi);
        let Some(omega_inv) = old.clone().try_inverse() else {
            return Ok(());
        };
        let s = &self.stats;
        if !self.closed.is_empty() {
            let nb = self.closed.len();
            let mut a = DMatrix::zeros(nb, nb);
            let mut r = DVector::zeros(nb);
            for (d, s1) in self.designs.iter().zip(&s.s1) {
                let xt = d.x.transpose() * &omega_inv;
                a += &xt * &d.x;
                r += xt * (s1 - &d.offset);
            }
            if let Some(b) = a.cholesky().map(|c| c.solve(&r)) {
                for (&i, v) in self.closed.iter().zip(b.iter()) {
                    phi[i] = *v;
                }
            }
        }
        let n = s.s1.len() as f64;
        let mut omega = s.s2.clone();
        for (mu, s1) in self.means(phi).iter().zip(&s.s1) {
            omega -= s1 * mu.transpose() + mu * s1.transpose() - mu * mu.transpose();
        }
        omega /= n;
        if let Some(tau) = annealing {
            let scale = DVector::from_fn(omega.nrows(), |r, _| {
                let floor = tau * old[(r, r)];
                if omega[(r, r)] < floor {
                    (floor / omega[(r, r)].max(f64::MIN_POSITIVE)).sqrt()
                } else {
                    1.0
                }
            });
            omega = DMatrix::from_diagonal(&scale) * omega * DMatrix::from_diagonal(&scale);
        }
        // an Ω that is not positive definite (too few subjects for a block) keeps the last
        if layout.write_omega(phi, &omega).is_err() {
            layout.write_omega(phi, &old)?;
        }
        Ok(())
    }

    /// The residual error parameters: Nelder–Mead on the chains' data term with their
    /// predictions held, then the stochastic-approximation step, with annealing that keeps
    /// each parameter from falling by more than a factor `√τ`.
    fn residual_part<M: Model>(
        &self,
        foce: &Foce<'_, M>,
        chains: &[SubjectChains],
        phi: &mut [f64],
        step: &Step,
    ) -> Result<()> {
        let start: Vec<f64> = self.residual.iter().map(|&i| phi[i]).collect();
        let problem = DataLikelihood::new(foce, chains, phi, &self.residual, false);
        let outcome = nelder_mead(&problem, &start, RESIDUAL_SEARCH)?;
        for ((&i, old), new) in self.residual.iter().zip(&start).zip(&outcome.theta) {
            let mut v = old + step.gamma * (new - old);
            if let Some(tau) = step.annealing {
                v = v.max(old + 0.5 * tau.ln());
            }
            phi[i] = v;
        }
        Ok(())
    }

    /// Every chain's data term at `φ`, with new solutions where the predictions `moved`.
    fn refresh<M: Model>(
        &mut self,
        foce: &Foce<'_, M>,
        chains: &mut [SubjectChains],
        phi: &[f64],
        moves: bool,
    ) -> Result<()> {
        let shared = foce.shared(phi)?;
        chains
            .par_iter_mut()
            .zip(&foce.subjects)
            .for_each(|(subject, problem)| {
                for c in &mut subject.chains {
                    if moves {
                        c.resolve(problem, &shared);
                    } else {
                        c.data_term = data_term(problem, &shared.errors, &c.predictions);
                    }
                }
            });
        if moves {
            self.solutions += chains.iter().map(|c| c.chains.len() as u64).sum::<u64>();
        }
        Ok(())
    }
}

/// A random effect whose typical value and covariate coefficients are regressed.
struct Regressed {
    /// Its index in `η`.
    row: usize,
    /// Its fixed typical value on the estimation scale (0 where the value is estimated).
    offset: f64,
    columns: Vec<Column>,
}

/// One regressor of a [`Regressed`] random effect.
struct Column {
    /// Its coefficient's index in `φ`.
    phi: usize,
    /// The covariate term it multiplies (`None`: the typical value's 1).
    term: Option<usize>,
}

/// The random effects whose parameters have only additive covariate effects on their
/// estimation scale, with time-constant covariates where they have any (`single_piece`).
fn regressed(layout: &Layout, single_piece: bool) -> Vec<Regressed> {
    let nt = layout.theta.len();
    let mut rows = Vec::new();
    for (r, p) in layout.random.iter().enumerate() {
        let effects: Vec<usize> = (0..layout.covariates.len())
            .filter(|&j| layout.covariates[j].parameter.index == p.index)
            .collect();
        let additive = effects.iter().all(|&j| {
            matches!(
                layout.covariates[j].model.shift(1.0, 1.0),
                Shift::Additive(_)
            )
        });
        if !additive || (!effects.is_empty() && !single_piece) {
            continue;
        }
        let theta = layout.theta.iter().position(|t| t.index == p.index);
        let offset = match theta {
            Some(_) => 0.0,
            None => p
                .scale
                .to_estimation("typical value", layout.base[p.index])
                .unwrap_or(f64::NAN),
        };
        let mut columns: Vec<Column> = theta
            .map(|t| Column { phi: t, term: None })
            .into_iter()
            .collect();
        columns.extend(effects.iter().map(|&j| Column {
            phi: nt + j,
            term: Some(j),
        }));
        rows.push(Regressed {
            row: r,
            offset,
            columns,
        });
    }
    rows
}

/// `−2 ln p(y | predictions)` of one subject under residual error models `errors`.
fn data_term<M: Model>(
    subject: &SubjectProblem<'_, M>,
    errors: &[crate::error_model::ErrorModel],
    predictions: &[f64],
) -> f64 {
    let v: f64 = subject
        .objective
        .observations()
        .iter()
        .zip(predictions)
        .map(|(o, &p)| o.term(errors, p))
        .sum();
    if v.is_nan() { f64::INFINITY } else { v }
}

/// `Σᵢ mean_chains −2 ln p(yᵢ | ηᵢ)` as a function of a part of `φ` (`indices`), with new
/// solutions where that part `moves_predictions`, else from the chains' predictions.
pub(super) struct DataLikelihood<'p, 'a, M: Model> {
    foce: &'p Foce<'a, M>,
    chains: &'p [SubjectChains],
    phi: &'p [f64],
    indices: &'p [usize],
    moves_predictions: bool,
    evaluations: AtomicU64,
}

impl<'p, 'a, M: Model> DataLikelihood<'p, 'a, M> {
    pub fn new(
        foce: &'p Foce<'a, M>,
        chains: &'p [SubjectChains],
        phi: &'p [f64],
        indices: &'p [usize],
        moves_predictions: bool,
    ) -> Self {
        DataLikelihood {
            foce,
            chains,
            phi,
            indices,
            moves_predictions,
            evaluations: AtomicU64::new(0),
        }
    }

    /// Every subject's every chain's `−2 ln p(yᵢ | ηᵢ)` at `ψ` (`+∞` where the model
    /// cannot be evaluated).
    pub fn per_chain(&self, psi: &[f64]) -> Result<Vec<Vec<f64>>> {
        let mut phi = self.phi.to_vec();
        for (&i, v) in self.indices.iter().zip(psi) {
            phi[i] = *v;
        }
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        let shared = self.foce.shared(&phi)?;
        Ok(self
            .chains
            .par_iter()
            .zip(&self.foce.subjects)
            .map(|(subject, problem)| {
                subject
                    .chains
                    .iter()
                    .map(|c| {
                        if self.moves_predictions {
                            Chain::at(problem, &shared, c.eta.clone())
                                .map_or(f64::INFINITY, |c| c.data_term)
                        } else {
                            data_term(problem, &shared.errors, &c.predictions)
                        }
                    })
                    .collect()
            })
            .collect())
    }

    /// `Σᵢ mean_chains −2 ln p(yᵢ | ηᵢ)` at `ψ`, summed in order (the same on any number
    /// of threads).
    pub fn value(&self, psi: &[f64]) -> Result<f64> {
        Ok(self
            .per_chain(psi)?
            .iter()
            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            .sum())
    }

    /// Model solutions so far (none where the predictions are held).
    pub fn solutions(&self) -> u64 {
        if self.moves_predictions {
            let chains: usize = self.chains.iter().map(|c| c.chains.len()).sum();
            self.evaluations.load(Ordering::Relaxed) * chains as u64
        } else {
            0
        }
    }
}

impl<M: Model> argmin::core::CostFunction for &DataLikelihood<'_, '_, M> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, psi: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.value(psi).unwrap_or(f64::INFINITY))
    }
}
