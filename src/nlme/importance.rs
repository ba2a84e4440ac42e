//! The marginal likelihood of a population model by importance sampling: the −2LL that
//! SAEM reports (and NONMEM's `METHOD=IMP`, Monolix's "importance sampling"), for any
//! number of random effects, with its Monte Carlo standard error.
//!
//! For subject `i`, with `l(η) = −2 ln p(yᵢ | η) + ηᵀΩ⁻¹η` (`ln 2π` constants of the data
//! included), its EBE `η̂` and the Hessian `H = ∇²l(η̂)`, the proposal `q` is a multivariate
//! t with `ν` degrees of freedom centred on `η̂` with scale matrix `Σ = 2H⁻¹` (the Laplace
//! approximation of the conditional distribution of `η`, with heavier tails). With `M`
//! draws `η_m ~ q`,
//!
//! `Lᵢ ≈ L̂ᵢ = (1/M)·Σ_m w_m`, `w_m = (2π)^(−k/2)·|Ω|^(−1/2)·exp(−l(η_m)/2) / q(η_m)`,
//!
//! unbiased for `Lᵢ`; `−2 ln L̂ᵢ` has the Monte Carlo standard error `2·sd(w)/(√M·L̂ᵢ)`
//! (delta method), and the subjects' errors add in quadrature. The t density is
//! `q(η) = Γ((ν+k)/2) / (Γ(ν/2)·(νπ)^(k/2)·|C|) · (1 + δ/ν)^(−(ν+k)/2)`, `δ = |C⁻¹(η − η̂)|²`,
//! `CCᵀ = Σ`; draws are `η̂ + C·z·√(ν/χ²_ν)`.
//!
//! `H` is the EBE search's Newton Hessian, as in adaptive Gauss–Hermite quadrature
//! ([`marginal_likelihood`](super::marginal_likelihood)), which is the better check where
//! there are one or two random effects.
//!
//! [`importance_sampling_conditional`] centres the proposal on given conditional means with
//! scale `Σ` their conditional covariances instead (Monolix's proposal; SAEM's chains give
//! them: [`SaemFit::conditional`](super::SaemFit::conditional)). Any proposal gives an
//! unbiased `L̂ᵢ`; the closer it is to `p(η | yᵢ)`, the smaller the Monte Carlo error.

use super::conditional::ConditionalDistribution;
use super::ebe::MapProblem;
use super::quadrature::{EvaluateAt, evaluation_point};
use super::subject::{Shared, SubjectProblem, ln_det_triangular};
use super::{PopulationOptions, PopulationSpec};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::likelihood::Censoring;
use crate::model::Model;
use crate::normal::LN_2PI;
use crate::sampling::stream;
use crate::simulate::SolverOptions;
use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rand_distr::{ChiSquared, StandardNormal};
use rayon::prelude::*;
use statrs::function::gamma::ln_gamma;

/// Settings of [`importance_sampling`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImportanceOptions {
    /// Draws per subject (`M`).
    pub samples: usize,
    /// Degrees of freedom of the t proposal (`ν`, > 0; large values approach a normal).
    pub degrees_of_freedom: f64,
    /// Seed: subject `i` draws from ChaCha8 with this seed on stream `i`, so the result is
    /// the same on any number of threads.
    pub seed: u64,
    /// Treatment of below-LLOQ observations.
    pub censoring: Censoring,
    /// ODE solver settings (unused for models solved exactly).
    pub solver: SolverOptions,
}

impl Default for ImportanceOptions {
    /// 5,000 draws per subject, t with 5 degrees of freedom (as Monolix), seed 1, M3, the
    /// population fit's default solver (rtol 1e-8).
    fn default() -> Self {
        let fit = PopulationOptions::default();
        ImportanceOptions {
            samples: 5000,
            degrees_of_freedom: 5.0,
            seed: 1,
            censoring: fit.censoring,
            solver: fit.solver,
        }
    }
}

/// One subject's part of [`SampledLikelihood`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SubjectSampled {
    /// Subject ID.
    pub id: String,
    /// `−2 ln L̂ᵢ` (`ln 2π` constants included).
    pub minus_two_ll: f64,
    /// Its Monte Carlo standard error.
    pub standard_error: f64,
    /// Effective sample size of the weights, `(Σw)²/Σw²` (near `M` for a proposal close to
    /// the conditional distribution; a small value flags a poor one).
    pub effective_samples: f64,
    /// The proposal used.
    #[serde(default)]
    pub proposal: ProposalKind,
}

/// Where a subject's t proposal came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ProposalKind {
    /// Centred on the EBE with scale `2H⁻¹` (the Laplace approximation).
    #[default]
    Laplace,
    /// Centred on the given conditional mean with its conditional covariance as scale.
    Conditional,
    /// Conditional moments were given but their covariance is not positive definite (too
    /// few distinct draws): the Laplace proposal instead.
    LaplaceFallback,
}

/// The marginal likelihood by importance sampling.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SampledLikelihood {
    /// −2 log-likelihood (`ln 2π` constants included), comparable to
    /// [`PopulationFit::minus_two_ll`](super::PopulationFit::minus_two_ll).
    pub minus_two_ll: f64,
    /// Monte Carlo standard error of `minus_two_ll`.
    pub standard_error: f64,
    /// The objective as NONMEM reports it (−2LL without the `ln 2π` of each quantified
    /// observation), comparable to [`PopulationFit::ofv`](super::PopulationFit::ofv).
    pub ofv: f64,
    /// Draws per subject.
    pub samples: usize,
    /// Per subject, in the data's order.
    pub subjects: Vec<SubjectSampled>,
}

/// The −2 log-likelihood of `data` under the population model of `spec`, at its initial
/// values or at a fit's estimates, by importance sampling (module docs).
///
/// ```
/// use cart_pkpd::models::{CellularKinetics, CellularKineticsParams};
/// use cart_pkpd::nlme::{EvaluateAt, ImportanceOptions, PopulationSpec, importance_sampling};
/// use cart_pkpd::{Dataset, ErrorModel, Subject};
///
/// let truth = CellularKineticsParams::stein_2019();
/// let subjects = (0..4).map(|i| {
///     let level = [0.7, 1.3, 1.0, 0.9][i];
///     let mut b = Subject::builder(format!("S{i}")).dose(0.0, 10.0);
///     for (day, noise) in [(7.0, 1.1), (14.0, 0.9), (28.0, 1.05)] {
///         b = b.observe(day, "transgene", level * noise * truth.transgene(day));
///     }
///     b.build()
/// }).collect::<Result<Vec<_>, _>>()?;
/// let spec = PopulationSpec::new(truth)
///     .random_diagonal(&[("cmax", 0.1)])
///     .residual("transgene", ErrorModel::LogAdditive { sd: 0.1 });
/// let data = Dataset::new(subjects)?;
/// let opts = ImportanceOptions { samples: 500, ..ImportanceOptions::default() };
/// let is = importance_sampling(&CellularKinetics, &data, &spec, EvaluateAt::Initial, &opts)?;
/// assert!(is.standard_error < 0.1);
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
///
/// # Errors
/// As [`fit_population`](super::fit_population) for the specification and data; no
/// random effects, fewer than 2 samples or degrees of freedom that are not finite and
/// positive, or a fit whose parameters do not match the specification
/// ([`Error::InvalidFitOptions`]); a subject whose EBE cannot be computed (the model's
/// errors, [`Error::LikelihoodNotFinite`]) or whose estimate is not finite
/// ([`Error::SampledLikelihoodNotFinite`]).
pub fn importance_sampling<M: Model>(
    model: &M,
    data: &Dataset,
    spec: &PopulationSpec<M>,
    at: EvaluateAt<'_>,
    opts: &ImportanceOptions,
) -> Result<SampledLikelihood> {
    sample(model, data, spec, at, None, opts)
}

/// As [`importance_sampling`], with each subject's proposal centred on its conditional
/// mean with its conditional covariance as scale (module docs), e.g. from
/// [`SaemFit::conditional`](super::SaemFit::conditional); a subject whose covariance is not
/// positive definite falls back to the Laplace proposal
/// ([`ProposalKind::LaplaceFallback`]).
///
/// # Errors
/// As [`importance_sampling`]; conditional distributions that are not one per subject in
/// the data's order, or not of the specification's dimension, or not finite
/// ([`Error::InvalidFitOptions`]).
pub fn importance_sampling_conditional<M: Model>(
    model: &M,
    data: &Dataset,
    spec: &PopulationSpec<M>,
    at: EvaluateAt<'_>,
    conditional: &[ConditionalDistribution],
    opts: &ImportanceOptions,
) -> Result<SampledLikelihood> {
    if !super::same_subjects(conditional.iter().map(|c| c.id.as_str()), data) {
        return Err(Error::InvalidFitOptions {
            reason: "conditional distributions must be one per subject, in the data's order".into(),
        });
    }
    sample(model, data, spec, at, Some(conditional), opts)
}

/// Both entry points: the checks, then every subject in parallel.
fn sample<M: Model>(
    model: &M,
    data: &Dataset,
    spec: &PopulationSpec<M>,
    at: EvaluateAt<'_>,
    conditional: Option<&[ConditionalDistribution]>,
    opts: &ImportanceOptions,
) -> Result<SampledLikelihood> {
    let invalid = |reason: &str| Error::InvalidFitOptions {
        reason: reason.into(),
    };
    if spec.random.is_empty() {
        return Err(invalid(
            "the specification has no random effects to integrate",
        ));
    }
    if opts.samples < 2 {
        return Err(invalid("importance sampling needs at least 2 samples"));
    }
    let nu = opts.degrees_of_freedom;
    if !(nu.is_finite() && nu > 0.0) {
        return Err(invalid("degrees_of_freedom must be finite and > 0"));
    }
    let moments = conditional
        .map(|c| {
            c.iter()
                .map(|d| d.moments(spec.random.len()))
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    let (foce, phi) = evaluation_point(model, data, spec, at, opts.censoring, opts.solver)?;
    let shared = foce.shared(&phi)?;
    let subjects = foce
        .subjects
        .par_iter()
        .enumerate()
        .map(|(i, s)| {
            let given = moments.as_ref().map(|m| &m[i]);
            subject_sampled(s, &shared, given, opts, i as u64)
        })
        .collect::<Result<Vec<_>>>()?;
    let minus_two_ll = subjects.iter().map(|s| s.minus_two_ll).sum::<f64>();
    let variance: f64 = subjects.iter().map(|s| s.standard_error.powi(2)).sum();
    Ok(SampledLikelihood {
        minus_two_ll,
        standard_error: variance.sqrt(),
        ofv: foce.ofv(minus_two_ll),
        samples: opts.samples,
        subjects,
    })
}

/// The t proposal of one subject: centre, scale factor `C` and the log of its density's
/// constant.
struct Proposal {
    centre: DVector<f64>,
    factor: DMatrix<f64>,
    factor_inv: DMatrix<f64>,
    nu: f64,
    ln_constant: f64,
}

impl Proposal {
    /// Centred on `eta` with scale `Σ = 2H⁻¹`; `None` where `H` is not positive definite.
    fn laplace(eta: &[f64], h: &DMatrix<f64>, nu: f64) -> Option<Self> {
        let factor_inv = (h / 2.0).cholesky()?.l().transpose();
        // Σ = (H/2)⁻¹ = (RᵀR)⁻¹ with R = chol(H/2)ᵀ: C = R⁻¹ gives CCᵀ = Σ
        let factor = factor_inv.clone().try_inverse()?;
        Some(Self::from_factors(eta, factor, factor_inv, nu))
    }

    /// Centred on `mean` with scale `Σ = covariance`; `None` where it is not positive
    /// definite.
    fn conditional(mean: &DVector<f64>, covariance: &DMatrix<f64>, nu: f64) -> Option<Self> {
        let factor = covariance.clone().cholesky()?.l();
        let factor_inv = factor.clone().try_inverse()?;
        Some(Self::from_factors(mean.as_slice(), factor, factor_inv, nu))
    }

    fn from_factors(eta: &[f64], factor: DMatrix<f64>, factor_inv: DMatrix<f64>, nu: f64) -> Self {
        let k = eta.len() as f64;
        let ln_constant = ln_gamma((nu + k) / 2.0)
            - ln_gamma(nu / 2.0)
            - k / 2.0 * (nu * std::f64::consts::PI).ln()
            - ln_det_triangular(&factor);
        Proposal {
            centre: DVector::from_column_slice(eta),
            factor,
            factor_inv,
            nu,
            ln_constant,
        }
    }

    fn draw<R: Rng>(&self, rng: &mut R) -> DVector<f64> {
        let z = DVector::from_fn(self.centre.len(), |_, _| rng.sample(StandardNormal));
        let chi2: f64 = rng.sample(ChiSquared::new(self.nu).expect("ν > 0 was checked"));
        &self.centre + &self.factor * z * (self.nu / chi2).sqrt()
    }

    fn ln_density(&self, eta: &DVector<f64>) -> f64 {
        let delta = (&self.factor_inv * (eta - &self.centre)).norm_squared();
        let k = self.centre.len() as f64;
        self.ln_constant - (self.nu + k) / 2.0 * (1.0 + delta / self.nu).ln()
    }
}

/// One subject's `−2 ln L̂ᵢ` and its Monte Carlo standard error.
fn subject_sampled<M: Model>(
    subject: &SubjectProblem<'_, M>,
    shared: &Shared<'_>,
    given: Option<&(DVector<f64>, DMatrix<f64>)>,
    opts: &ImportanceOptions,
    index: u64,
) -> Result<SubjectSampled> {
    let k = shared.layout.random.len();
    let nu = opts.degrees_of_freedom;
    let map = MapProblem::new(subject, shared);
    let id = subject.objective.subject().to_owned();
    let not_finite = || Error::SampledLikelihoodNotFinite {
        subject: id.clone(),
    };
    let conditional = given.and_then(|(mean, cov)| Proposal::conditional(mean, cov, nu));
    let kind = match (given, &conditional) {
        (_, Some(_)) => ProposalKind::Conditional,
        (Some(_), None) => ProposalKind::LaplaceFallback,
        (None, None) => ProposalKind::Laplace,
    };
    let proposal = match conditional {
        Some(p) => p,
        None => {
            let lin = map.solve(&subject.start.get(), None)?;
            let h = map.hessian(&lin)?;
            Proposal::laplace(&lin.eta, &h, nu).ok_or_else(not_finite)?
        }
    };
    // ln of (2π)^(−k/2)·|Ω|^(−1/2)
    let ln_prior_constant = -0.5 * k as f64 * LN_2PI - ln_det_triangular(&shared.omega_factor);
    let mut rng = stream(opts.seed, index);
    let ln_w: Vec<f64> = (0..opts.samples)
        .map(|_| {
            let eta = proposal.draw(&mut rng);
            ln_prior_constant - map.l(eta.as_slice()) / 2.0 - proposal.ln_density(&eta)
        })
        .collect();
    let top = ln_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !top.is_finite() {
        return Err(not_finite());
    }
    // scaled weights w/e^top: mean, variance and effective sample size
    let w: Vec<f64> = ln_w.iter().map(|v| (v - top).exp()).collect();
    let m = w.len() as f64;
    let mean = w.iter().sum::<f64>() / m;
    let var = w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1.0);
    let sum_sq: f64 = w.iter().map(|v| v * v).sum();
    Ok(SubjectSampled {
        minus_two_ll: -2.0 * (top + mean.ln()),
        standard_error: 2.0 * var.sqrt() / (m.sqrt() * mean),
        effective_samples: (m * mean).powi(2) / sum_sq,
        proposal: kind,
        id,
    })
}
