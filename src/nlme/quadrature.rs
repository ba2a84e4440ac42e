//! The marginal likelihood of a population model by adaptive Gauss–Hermite quadrature
//! (AGHQ): the exact −2 log-likelihood that FOCE-I approximates, to check that
//! approximation on a data set and to compare estimation methods on one scale.
//!
//! For subject `i`, with `l(η) = −2 ln p(yᵢ | η) + ηᵀΩ⁻¹η` (the EBE search's objective,
//! `ln 2π` constants included), its EBE `η̂` and the Hessian `H = ∇²l(η̂)`,
//!
//! `Lᵢ = (2π)^(−k/2)·|Ω|^(−1/2)·∫ exp(−l(η)/2) dη`,
//!
//! and the substitution `η = η̂ + B·u` with `BBᵀ = 4H⁻¹` turns the integrand into
//! `exp(−|u|²)` times a function that is constant where `l` is quadratic, so that the
//! product Gauss–Hermite rule with nodes `u` and weights `W_u` (`n` per random effect) gives
//!
//! `−2 ln Lᵢ ≈ k·ln 2π + ln|Ω| − 2 ln|B| − 2 ln Σ_u W_u·exp(|u|² − l(η̂ + Bu)/2)`
//!
//! (Pinheiro & Bates 1995, J Comput Graph Stat). One node is the Laplace approximation
//! with the exact Hessian, `l(η̂) + ln|Ω| + ln|H/2|`; FOCE-I's differs only in using the
//! Fisher-scoring part of `H`. The rule is exact for a model linear in `η` with Gaussian
//! residuals, and converges fast with `n` otherwise. Its cost is `nᵏ` model solutions per
//! subject, so it serves few random effects (limit: [`MAX_POINTS`] per subject).
//!
//! `H` is the EBE search's Newton Hessian: Fisher scoring plus the model's curvature
//! from second differences of the predictions (Fisher scoring alone where that is not
//! positive definite: the rule stays exact in the limit, only its convergence slows).

use super::ebe::MapProblem;
use super::subject::{Shared, SubjectProblem, ln_det_triangular};
use super::{Foce, PopulationFit, PopulationOptions, PopulationSpec};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::likelihood::Censoring;
use crate::model::Model;
use crate::normal::LN_2PI;
use crate::simulate::SolverOptions;
use gauss_quad::GaussHermite;
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;
use std::num::NonZeroUsize;

/// Largest number of quadrature points per subject (`nᵏ`).
pub const MAX_POINTS: usize = 100_000;

/// Settings of [`marginal_likelihood`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuadratureOptions {
    /// Gauss–Hermite nodes per random effect (1: the Laplace approximation).
    pub nodes: usize,
    /// Treatment of below-LLOQ observations.
    pub censoring: Censoring,
    /// ODE solver settings (unused for models solved exactly).
    pub solver: SolverOptions,
}

impl Default for QuadratureOptions {
    /// 9 nodes per random effect, M3, the population fit's default solver (rtol 1e-8).
    fn default() -> Self {
        let fit = PopulationOptions::default();
        QuadratureOptions {
            nodes: 9,
            censoring: fit.censoring,
            solver: fit.solver,
        }
    }
}

/// Where the likelihood is evaluated.
#[derive(Debug, Clone, Copy)]
pub enum EvaluateAt<'f> {
    /// The specification's initial values (typical values, Ω, residual SDs, covariate
    /// coefficients at their starts).
    Initial,
    /// A fit's estimates (a fit of the same specification and data).
    Estimates(&'f PopulationFit),
}

/// One subject's part of [`MarginalLikelihood`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SubjectMarginal {
    /// Subject ID.
    pub id: String,
    /// `−2 ln Lᵢ` (`ln 2π` constants included).
    pub minus_two_ll: f64,
    /// The EBE the rule is centred on (estimation scale).
    pub eta: Vec<f64>,
}

/// The marginal likelihood by adaptive Gauss–Hermite quadrature.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MarginalLikelihood {
    /// −2 log-likelihood (`ln 2π` constants included), comparable to
    /// [`PopulationFit::minus_two_ll`].
    pub minus_two_ll: f64,
    /// The objective as NONMEM reports it: −2LL without the `n·ln 2π` of the `n`
    /// quantified observations, comparable to [`PopulationFit::ofv`].
    pub ofv: f64,
    /// Nodes per random effect.
    pub nodes: usize,
    /// Per subject, in the data's order.
    pub subjects: Vec<SubjectMarginal>,
}

/// The −2 log-likelihood of `data` under the population model of `spec`, at its initial
/// values or at a fit's estimates, by adaptive Gauss–Hermite quadrature (module docs).
///
/// ```
/// use cart_pkpd::models::{CellularKinetics, CellularKineticsParams};
/// use cart_pkpd::nlme::{EvaluateAt, PopulationSpec, QuadratureOptions, marginal_likelihood};
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
/// let exact = marginal_likelihood(&CellularKinetics, &data, &spec, EvaluateAt::Initial,
///                                 &QuadratureOptions::default())?;
/// assert_eq!(exact.subjects.len(), 4);
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
///
/// # Errors
/// As [`fit_population`](super::fit_population) for the specification and data; no
/// random effects, `nodes` of 0 or `nodes^k` above [`MAX_POINTS`], or a fit whose
/// parameters do not match the specification ([`Error::InvalidFitOptions`]); a subject
/// whose EBE cannot be computed (the model's errors, [`Error::LikelihoodNotFinite`]) or
/// whose integral is not finite ([`Error::QuadratureNotFinite`]).
pub fn marginal_likelihood<M: Model>(
    model: &M,
    data: &Dataset,
    spec: &PopulationSpec<M>,
    at: EvaluateAt<'_>,
    opts: &QuadratureOptions,
) -> Result<MarginalLikelihood> {
    let invalid = |reason: String| Error::InvalidFitOptions { reason };
    let k = spec.random.len();
    let nodes =
        NonZeroUsize::new(opts.nodes).ok_or_else(|| invalid("nodes must be >= 1".into()))?;
    if k == 0 {
        return Err(invalid(
            "the specification has no random effects to integrate".into(),
        ));
    }
    let points = u32::try_from(k)
        .ok()
        .and_then(|k| opts.nodes.checked_pow(k));
    if points.is_none_or(|p| p > MAX_POINTS) {
        return Err(invalid(format!(
            "{} nodes for {k} random effects exceed {MAX_POINTS} points per subject",
            opts.nodes
        )));
    }
    let (foce, phi) = evaluation_point(model, data, spec, at, opts.censoring, opts.solver)?;
    let shared = foce.shared(&phi)?;
    let rule = Rule::new(GaussHermite::new(nodes).as_node_weight_pairs(), k);
    let ln_det_omega = 2.0 * ln_det_triangular(&shared.omega_factor);
    let constant = k as f64 * LN_2PI + ln_det_omega;
    let subjects = foce
        .subjects
        .par_iter()
        .map(|s| subject_marginal(s, &shared, &rule, constant))
        .collect::<Result<Vec<_>>>()?;
    let minus_two_ll = subjects.iter().map(|s| s.minus_two_ll).sum::<f64>();
    Ok(MarginalLikelihood {
        minus_two_ll,
        ofv: foce.ofv(minus_two_ll),
        nodes: opts.nodes,
        subjects,
    })
}

/// The subjects' problems and `φ` at which a likelihood is evaluated, each subject's EBE
/// search starting from its EBE in the fit (from `η = 0` at the initial values).
///
/// # Errors
/// As [`fit_population`](super::fit_population) for the specification and data;
/// [`Error::InvalidFitOptions`] for a fit whose parameters do not match the specification.
pub(super) fn evaluation_point<'a, M: Model>(
    model: &'a M,
    data: &'a Dataset,
    spec: &PopulationSpec<M>,
    at: EvaluateAt<'_>,
    censoring: Censoring,
    solver: SolverOptions,
) -> Result<(Foce<'a, M>, Vec<f64>)> {
    let fit_opts = PopulationOptions {
        censoring,
        solver,
        ..PopulationOptions::default()
    };
    let foce = Foce::new(model, data, spec, &fit_opts)?;
    let phi = match at {
        EvaluateAt::Initial => foce.layout.initial(&spec.omega)?,
        EvaluateAt::Estimates(fit) if fit.phi.len() == foce.layout.len() => {
            // each subject's EBE search starts from the fit's EBE (where it has the subject)
            for (problem, s) in foce.subjects.iter().zip(data.subjects()) {
                if let Some(e) = fit.subjects.iter().find(|e| e.subject == s.id()) {
                    problem.start.set(&e.eta);
                }
            }
            fit.phi.clone()
        }
        EvaluateAt::Estimates(_) => {
            return Err(Error::InvalidFitOptions {
                reason: "the fit's parameters do not match the specification".into(),
            });
        }
    };
    Ok((foce, phi))
}

/// One subject's `−2 ln Lᵢ`: its EBE (from its warm start), the Hessian there and the rule;
/// `constant` is `k·ln 2π + ln|Ω|`.
fn subject_marginal<M: Model>(
    subject: &SubjectProblem<'_, M>,
    shared: &Shared<'_>,
    rule: &Rule,
    constant: f64,
) -> Result<SubjectMarginal> {
    let map = MapProblem::new(subject, shared);
    let lin = map.solve(&subject.start.get(), None)?;
    let h = map.hessian(&lin)?;
    let minus_two_ll = constant + rule.minus_two_ln_integral(&map, &lin.eta, &h);
    let id = subject.objective.subject().to_owned();
    if !minus_two_ll.is_finite() {
        return Err(Error::QuadratureNotFinite { subject: id });
    }
    Ok(SubjectMarginal {
        id,
        minus_two_ll,
        eta: lin.eta,
    })
}

/// The product Gauss–Hermite rule in `k` dimensions: every node `u` with `ln W_u + |u|²`.
struct Rule {
    nodes: Vec<(Vec<f64>, f64)>,
}

impl Rule {
    fn new(pairs: &[(f64, f64)], k: usize) -> Self {
        let mut nodes = vec![(Vec::with_capacity(k), 0.0)];
        for _ in 0..k {
            nodes = nodes
                .into_iter()
                .flat_map(|(u, lw)| {
                    pairs.iter().map(move |&(x, w)| {
                        let mut u = u.clone();
                        u.push(x);
                        (u, lw + w.ln() + x * x)
                    })
                })
                .collect();
        }
        Rule { nodes }
    }

    /// `−2 ln|B| − 2 ln Σ_u W_u·exp(|u|² − l(η̂ + Bu)/2)` with `BBᵀ = 4H⁻¹` (a log-sum-exp);
    /// `+∞` where `H` is not positive definite.
    fn minus_two_ln_integral<M: Model>(
        &self,
        map: &MapProblem<'_, '_, M>,
        eta: &[f64],
        h: &DMatrix<f64>,
    ) -> f64 {
        let Some(b) = (h.clone() / 4.0)
            .cholesky()
            .and_then(|c| c.l().try_inverse())
            .map(|inv| inv.transpose())
        else {
            return f64::INFINITY;
        };
        // B = (chol(H/4))⁻ᵀ: B·Bᵀ = (H/4)⁻¹
        let ln_det_b = ln_det_triangular(&b);
        let centre = DVector::from_column_slice(eta);
        let terms: Vec<f64> = self
            .nodes
            .iter()
            .map(|(u, lw)| {
                let at = &centre + &b * DVector::from_column_slice(u);
                lw - map.l(at.as_slice()) / 2.0
            })
            .collect();
        let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !top.is_finite() {
            return f64::INFINITY;
        }
        let sum: f64 = terms.iter().map(|t| (t - top).exp()).sum();
        -2.0 * ln_det_b - 2.0 * (top + sum.ln())
    }
}
