//! Population (nonlinear mixed-effects) estimation by FOCE-I ([`fit_population`]) and by
//! SAEM ([`fit_population_saem`], which has its own docs), with the same specification and
//! result; the exact marginal likelihood at given estimates by adaptive Gauss–Hermite
//! quadrature ([`marginal_likelihood`]) or importance sampling ([`importance_sampling`]).
//!
//! Individual parameters are `x_i = g(u_pop + β·z_i + η_i)` on each parameter's estimation
//! scale `g` (log for positive parameters: `x_i = x_pop·exp(η_i)`; logit for fractions),
//! with covariate terms `z_i` (categorical or power, [`CovariateModel`]) and `η_i ~ N(0, Ω)`,
//! `Ω` diagonal or a full block. Residual error models are those of individual fits, per
//! analyte, with below-LLOQ data by M3.
//!
//! The objective is the first-order conditional estimation with interaction (FOCE-I)
//! approximation of −2 log-likelihood: for each subject the empirical Bayes estimate `η̂_i`
//! (inner problem, Levenberg–Marquardt steps driven by argmin, subjects in parallel with
//! rayon) and the Laplace
//! approximation with the first-order (Gauss–Newton) Hessian at `η̂_i`, residual variances
//! evaluated at `η̂_i`; censored observations enter that Hessian through the exact curvature
//! of their M3 term (the Laplacian form). The outer problem over `θ, β, Ω, σ` is minimised
//! by BFGS (argmin [`Solver`](argmin::core::Solver), as NONMEM's variable-metric search)
//! started from the inverse of the Hessian's diagonal (from the second differences of a
//! first central gradient), on gradients from every subject's linearisations around its
//! EBE by the implicit function theorem: `dO/dφ = ∂Õ/∂φ + (∂Õ/∂η)ᵀ·dη̂/dφ` with
//! `dη̂/dφ = −H⁻¹·∂(∇_η l)/∂φ`, no EBE search at a moved point (where that does not apply,
//! finite differences of the objective, one-sided while the steps are long), with
//! restarted Nelder–Mead as the fallback or, by
//! [`OuterMethod::NelderMead`], the only method; standard errors come from the Hessian of
//! the objective (covariance step). The reported OFV follows NONMEM (−2LL without `ln 2π`
//! constants). [`marginal_likelihood`] gives the exact −2LL that FOCE-I approximates, by
//! adaptive Gauss–Hermite quadrature (for few random effects).

mod conditional;
mod covariate;
mod ebe;
mod fixed_starts;
mod implicit_gradient;
#[cfg(test)]
mod implicit_gradient_tests;
mod importance;
mod params;
mod quadrature;
mod report;
mod result;
mod saem;
mod simulation;
#[cfg(test)]
mod smoothness;
mod subject;

pub use conditional::ConditionalDistribution;
pub use covariate::{CovariateFunction, CovariateModel};
pub use importance::{
    ImportanceOptions, ProposalKind, SampledLikelihood, SubjectSampled, importance_sampling,
    importance_sampling_conditional,
};
pub use quadrature::{
    EvaluateAt, MAX_POINTS, MarginalLikelihood, QuadratureOptions, SubjectMarginal,
    marginal_likelihood,
};
pub(crate) use result::analytes_of;
pub use result::{
    EpsilonShrinkage, EstimationMethod, OmegaEstimate, PopulationFit, PopulationPrediction,
    PopulationWarning, SubjectEstimates,
};
pub use saem::{
    Chains, Exploration, Kernels, STABILITY_WINDOW, SaemFit, SaemIteration, SaemOptions,
    StandardErrors, fit_population_saem,
};
pub use simulation::{Design, DesignSubject, Drawn, FittedModel, Predicted};

use crate::data::{CovariateInterpolation, Dataset};
use crate::error::{Error, Result};
use crate::likelihood::{Censoring, FitSpec, Objective, ResidualSpec};
use crate::model::Model;
use crate::optim::differences;
use crate::optim::limits::{MAX_SIMPLEX_STEP, MAX_STEP, MAX_TOLERANCE, check_positive};
use crate::optim::multistart::evaluation;
use crate::optim::solver::bfgs::{DifferenceGradient, bfgs_then_nelder_mead};
use crate::optim::solver::nelder_mead::{NelderMeadSettings, nelder_mead};
use crate::params::{ParamName, names_of};
use crate::simulate::SolverOptions;
use fixed_starts::{EbeSlopes, FixedStarts};
use nalgebra::DMatrix;
use params::Layout;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use subject::{Contribution, Shared, SubjectProblem, WarmStart};

/// What a population fit estimates.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationSpec<M: Model> {
    /// Initial typical values of the estimated parameters and values of the fixed ones.
    pub initial: M::Params,
    /// Parameters whose typical value is estimated.
    pub estimate: Vec<String>,
    /// Parameters with between-subject variability, in `η` order.
    pub random: Vec<String>,
    /// Initial Ω (variances on the estimation scale).
    pub omega: DMatrix<f64>,
    /// Whether Ω is a full block (else diagonal).
    pub omega_block: bool,
    /// Covariate effects on typical values.
    pub covariates: Vec<CovariateModel>,
    /// How covariates that change within a subject apply between records.
    pub interpolation: CovariateInterpolation,
    /// Residual error models, per analyte.
    pub residuals: Vec<ResidualSpec>,
    /// Analytes in the data left out of the fit on purpose.
    pub ignored: Vec<String>,
}

impl<M: Model> PopulationSpec<M> {
    /// Starts from typical values, estimating nothing yet.
    pub fn new(initial: M::Params) -> Self {
        PopulationSpec {
            initial,
            estimate: Vec::new(),
            random: Vec::new(),
            omega: DMatrix::zeros(0, 0),
            omega_block: false,
            covariates: Vec::new(),
            interpolation: CovariateInterpolation::Locf,
            residuals: Vec::new(),
            ignored: Vec::new(),
        }
    }

    /// Estimates these typical values (parameters by name or by typed key).
    pub fn estimate<K: ParamName<M::Params>>(mut self, names: &[K]) -> Self {
        self.estimate.extend(names_of(names));
        self
    }

    /// Diagonal Ω with these initial variances (estimation scale) per parameter.
    pub fn random_diagonal<K: ParamName<M::Params>>(mut self, variances: &[(K, f64)]) -> Self {
        self.random = variances
            .iter()
            .map(|v| v.0.param_name().to_owned())
            .collect();
        self.omega = DMatrix::from_diagonal(&nalgebra::DVector::from_iterator(
            variances.len(),
            variances.iter().map(|v| v.1),
        ));
        self.omega_block = false;
        self
    }

    /// A full (block) Ω over these parameters with this initial matrix.
    pub fn random_block<K: ParamName<M::Params>>(
        mut self,
        names: &[K],
        omega: DMatrix<f64>,
    ) -> Self {
        self.random = names_of(names).collect();
        self.omega = omega;
        self.omega_block = true;
        self
    }

    /// Adds a covariate effect (its coefficient starts at
    /// [`initial_coefficient`](CovariateModel::initial_coefficient), 0 for the built-in
    /// forms).
    pub fn covariate(mut self, effect: CovariateModel) -> Self {
        self.covariates.push(effect);
        self
    }

    /// How covariates that change within a subject apply between its records (default:
    /// last value carried forward; [`CovariateInterpolation::Nocb`] reproduces NONMEM).
    pub fn covariate_interpolation(mut self, interpolation: CovariateInterpolation) -> Self {
        self.interpolation = interpolation;
        self
    }

    /// Adds an estimated residual error model for `analyte`.
    pub fn residual(mut self, analyte: &str, model: crate::ErrorModel) -> Self {
        self.residuals.push(ResidualSpec::estimated(analyte, model));
        self
    }

    /// Leaves these analytes out of the fit.
    pub fn ignore(mut self, analytes: &[&str]) -> Self {
        self.ignored.extend(analytes.iter().map(|s| s.to_string()));
        self
    }
}

/// The optimiser of the outer problem (over `θ, β, Ω, σ`).
///
/// ```
/// use cart_pkpd::nlme::{OuterMethod, PopulationOptions};
/// let derivative_free = PopulationOptions {
///     method: OuterMethod::NelderMead,
///     ..PopulationOptions::default()
/// };
/// assert_eq!(PopulationOptions::default().method, OuterMethod::QuasiNewton);
/// # let _ = derivative_free;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OuterMethod {
    /// BFGS (as NONMEM's variable-metric search) on gradients from every subject's
    /// linearisations around its EBE by the implicit function theorem, with no EBE search
    /// at a moved point; where those do not apply (a subject whose sensitivities fail),
    /// on finite differences of the objective (one-sided while its steps are long, central
    /// near the optimum) with every subject's EBE search started from its EBE at the
    /// current point. Restarted Nelder–Mead from the best point if BFGS stalls.
    QuasiNewton,
    /// Restarted Nelder–Mead only (no gradients; slower, but indifferent to a noisy
    /// objective).
    NelderMead,
}

/// Settings of a population fit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PopulationOptions {
    /// Outer optimiser.
    pub method: OuterMethod,
    /// Convergence tolerance on the objective (predicted decrease for BFGS, spread of the
    /// simplex values for Nelder–Mead).
    pub tolerance: f64,
    /// Largest number of outer iterations.
    pub max_iters: u64,
    /// Finite-difference step of the outer gradient where it is a difference of the
    /// objective (estimation scale): the curvature at BFGS's start, and gradients where
    /// the implicit ones do not apply (see [`OuterMethod::QuasiNewton`]); the implicit
    /// gradient's own step follows the solver's tolerance.
    pub gradient_step: f64,
    /// Initial simplex edge on the outer (estimation) scale.
    pub simplex_step: f64,
    /// Largest number of Nelder–Mead restarts.
    pub max_restarts: usize,
    /// Treatment of below-LLOQ observations.
    pub censoring: Censoring,
    /// ODE solver settings (unused for models with a closed form).
    pub solver: SolverOptions,
    /// Run the covariance step (standard errors).
    pub covariance: bool,
    /// Finite-difference step of the covariance step.
    pub hessian_step: f64,
}

impl Default for PopulationOptions {
    /// BFGS, tolerance 1e-4, 3000 iterations, gradient step 1e-3, simplex 0.2, 8 restarts,
    /// M3, covariance step with step 3e-3 (second differences need a larger step than
    /// first differences to stay clear of the objective's noise), ODE rtol 1e-8 (atol
    /// 1e-11).
    fn default() -> Self {
        PopulationOptions {
            method: OuterMethod::QuasiNewton,
            tolerance: 1e-4,
            max_iters: 3000,
            gradient_step: 1e-3,
            simplex_step: 0.2,
            max_restarts: 8,
            censoring: Censoring::M3,
            solver: SolverOptions::default().with_tolerances(1e-8, 1e-11),
            covariance: true,
            hessian_step: 3e-3,
        }
    }
}

impl PopulationOptions {
    fn check(&self) -> Result<()> {
        check_positive("tolerance", self.tolerance, MAX_TOLERANCE)?;
        check_positive("gradient_step", self.gradient_step, MAX_STEP)?;
        check_positive("simplex_step", self.simplex_step, MAX_SIMPLEX_STEP)?;
        check_positive("hessian_step", self.hessian_step, MAX_STEP)?;
        self.solver.check()?;
        if self.max_iters == 0 || self.max_restarts == 0 {
            return Err(Error::InvalidFitOptions {
                reason: "max_iters and max_restarts must be >= 1".into(),
            });
        }
        Ok(())
    }
}

/// The FOCE-I objective of a data set: an argmin problem over `φ`.
struct Foce<'a, M: Model> {
    layout: Layout,
    subjects: Vec<SubjectProblem<'a, M>>,
    evaluations: AtomicU64,
    gradient_step: f64,
    /// The step of the implicit gradient's differences.
    implicit_step: f64,
    /// Every subject's `dη̂/dφ` from the last gradient.
    ebe_slopes: EbeSlopes,
}

impl<'a, M: Model> Foce<'a, M> {
    fn new(
        model: &'a M,
        data: &'a Dataset,
        spec: &PopulationSpec<M>,
        opts: &PopulationOptions,
    ) -> Result<Self> {
        let layout = Layout::new(spec)?;
        let fit_spec = FitSpec {
            initial: spec.initial.clone(),
            estimate: Vec::new(),
            residuals: spec.residuals.clone(),
            ignored: spec.ignored.clone(),
        };
        let subjects = data
            .subjects()
            .iter()
            .map(|s| {
                let pieces = layout.covariate_pieces(s)?;
                let mut objective =
                    Objective::new(model, s, &fit_spec, opts.censoring, opts.solver)?;
                objective.set_pieces(&pieces.piece_of_record, spec.interpolation);
                Ok(SubjectProblem {
                    objective,
                    covariates: pieces.terms,
                    start: WarmStart::at_zero(layout.random.len()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Foce {
            layout,
            subjects,
            evaluations: AtomicU64::new(0),
            gradient_step: opts.gradient_step,
            implicit_step: differences::implicit_step(opts.solver.rtol),
            ebe_slopes: EbeSlopes::default(),
        })
    }

    /// Every subject's last EBE (the start of its next inner search).
    fn etas(&self) -> Vec<Vec<f64>> {
        self.subjects.iter().map(|s| s.start.get()).collect()
    }

    fn set_etas(&self, etas: &[Vec<f64>]) {
        for (s, e) in self.subjects.iter().zip(etas) {
            s.start.set(e);
        }
    }

    /// The objective with every subject's EBE search started from its current EBE (moved
    /// along its slope in `φ`), as finite differences around `centre` need.
    fn with_fixed_starts(&self, centre: &[f64]) -> FixedStarts<'_, 'a, M> {
        FixedStarts::new(self, centre)
    }

    fn shared<'l>(&'l self, phi: &'l [f64]) -> Result<Shared<'l>> {
        let omega = self.layout.omega(phi);
        let chol = omega
            .clone()
            .cholesky()
            .ok_or_else(|| Error::InvalidOmega {
                reason: "Ω became singular during estimation".into(),
            })?;
        Ok(Shared {
            layout: &self.layout,
            phi,
            omega_inv: chol.inverse(),
            omega_factor: chol.l(),
            errors: self.layout.residuals(phi)?,
        })
    }

    fn contributions(&self, phi: &[f64]) -> Result<Vec<Contribution>> {
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        let shared = self.shared(phi)?;
        self.subjects
            .par_iter()
            .map(|s| s.contribution(&shared))
            .collect()
    }

    /// Every subject's model curvature at its EBE under `φ`, which the EBE searches of the
    /// evaluations that follow (a gradient's differences, a line search) use as a
    /// quasi-Newton Hessian: two or three steps to `η̂` at a nearby `φ`, where Fisher scoring
    /// converges linearly.
    fn refresh_curvatures(&self, phi: &[f64]) {
        if let Ok(shared) = self.shared(phi) {
            self.subjects
                .par_iter()
                .for_each(|s| s.refresh_curvature(&shared));
        }
    }

    /// The OFV as NONMEM reports it: `minus_two_ll` without the `ln 2π` of each quantified
    /// observation (a censored observation's term has none).
    fn ofv(&self, minus_two_ll: f64) -> f64 {
        let quantified: usize = self
            .subjects
            .iter()
            .map(|s| s.objective.n_observations() - s.objective.n_censored())
            .sum();
        minus_two_ll - quantified as f64 * crate::normal::LN_2PI
    }

    fn minus_two_ll(&self, phi: &[f64]) -> f64 {
        match self.contributions(phi) {
            Ok(c) => {
                let v: f64 = c.iter().map(|c| c.minus_two_ll).sum();
                if v.is_nan() { f64::INFINITY } else { v }
            }
            Err(_) => f64::INFINITY,
        }
    }
}

impl<M: Model> argmin::core::CostFunction for &Foce<'_, M> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, phi: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.minus_two_ll(phi))
    }
}

/// The implicit gradient ([`Foce::implicit_gradient`]) where it applies; else central
/// differences of −2LL with fixed EBE starts ([`FixedStarts`]), step
/// [`PopulationOptions::gradient_step`], where a side at which the model cannot be
/// evaluated gives way to a one-sided difference.
impl<M: Model> argmin::core::Gradient for &Foce<'_, M> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, phi: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        if let Some(g) = self.implicit_gradient(phi) {
            return Ok(g);
        }
        self.refresh_curvatures(phi);
        let fixed = self.with_fixed_starts(phi);
        differences::gradient(|x| fixed.minus_two_ll(x), phi, self.gradient_step)
            .map_err(no_difference)
    }
}

/// The error of a difference that neither side of a coordinate gives.
fn no_difference(e: differences::NoDifference) -> argmin::core::Error {
    argmin::core::Error::msg(format!(
        "the objective cannot be evaluated on either side of φ[{}]",
        e.coordinate
    ))
}

/// Differences of −2LL from the cost at `φ` with fixed EBE starts, as the central ones:
/// central with the second differences (the outer BFGS's start), or forward (far from the
/// optimum, where the implicit gradient does not apply; where it does, it serves).
impl<M: Model> DifferenceGradient for &Foce<'_, M> {
    fn difference_step(&self) -> f64 {
        self.gradient_step
    }

    fn gradient_and_curvature(
        &self,
        phi: &[f64],
        cost: f64,
    ) -> std::result::Result<differences::Curved, argmin::core::Error> {
        self.refresh_curvatures(phi);
        let fixed = self.with_fixed_starts(phi);
        let h = self.gradient_step;
        differences::gradient_and_curvature(|x| fixed.minus_two_ll(x), phi, cost, h)
            .map_err(no_difference)
    }

    fn one_sided_gradient(
        &self,
        phi: &[f64],
        cost: f64,
    ) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        if let Some(g) = self.implicit_gradient(phi) {
            return Ok(g);
        }
        self.refresh_curvatures(phi);
        let fixed = self.with_fixed_starts(phi);
        let h = self.gradient_step;
        differences::one_sided_gradient(|x| fixed.minus_two_ll(x), phi, cost, h)
            .map_err(no_difference)
    }
}

impl From<&PopulationOptions> for NelderMeadSettings {
    fn from(o: &PopulationOptions) -> Self {
        NelderMeadSettings::new(o.simplex_step, o.max_restarts, o.tolerance, o.max_iters)
    }
}

/// Fits a population model to every subject of `data` by FOCE-I.
///
/// # Errors
/// Bad specification (unknown or duplicate names, non-estimable parameters, an
/// initial Ω that is not symmetric positive definite), invalid options (a step or
/// tolerance that is not finite and positive, no iterations), a subject without
/// observations of an analyte the fit needs, a covariate missing for a subject, or
/// [`Error::PopulationNotConverged`].
pub fn fit_population<M: Model>(
    model: &M,
    data: &Dataset,
    spec: &PopulationSpec<M>,
    opts: &PopulationOptions,
) -> Result<PopulationFit> {
    fit_from(model, data, spec, opts, None)
}

/// Fits a population model by FOCE-I from the estimates of an earlier fit of the same
/// specification and data (e.g. SAEM's, [`fit_population_saem`]; Ω, σ and covariate
/// coefficients included, each subject's EBE search starting at its earlier EBE, and the
/// outer search's curvature from its covariance step where that ran), as Monolix and
/// NONMEM users chain SAEM and FOCE-I.
///
/// # Errors
/// As [`fit_population`]; [`Error::InvalidFitOptions`] where `start` is not a fit of this
/// specification (different parameters) or of this data (different subjects).
pub fn fit_population_from<M: Model>(
    model: &M,
    data: &Dataset,
    spec: &PopulationSpec<M>,
    start: &PopulationFit,
    opts: &PopulationOptions,
) -> Result<PopulationFit> {
    if !same_subjects(start.subjects.iter().map(|s| s.subject.as_str()), data) {
        return Err(Error::InvalidFitOptions {
            reason: "the starting fit is of other subjects than the data".into(),
        });
    }
    fit_from(model, data, spec, opts, Some(start))
}

/// Whether `ids` are the data's subjects, one each, in the data's order.
fn same_subjects<'i>(ids: impl ExactSizeIterator<Item = &'i str>, data: &Dataset) -> bool {
    ids.len() == data.subjects().len() && ids.zip(data.subjects()).all(|(a, b)| a == b.id())
}

fn fit_from<M: Model>(
    model: &M,
    data: &Dataset,
    spec: &PopulationSpec<M>,
    opts: &PopulationOptions,
    start: Option<&PopulationFit>,
) -> Result<PopulationFit> {
    opts.check()?;
    if !spec.random.is_empty() && data.subjects().len() < 2 {
        return Err(Error::InvalidOmega {
            reason: format!(
                "between-subject variability cannot be estimated from {} subject(s); fit \
                 one subject with fit_subject, or add subjects",
                data.subjects().len()
            ),
        });
    }
    let foce = Foce::new(model, data, spec, opts)?;
    // from an earlier fit: its estimates, EBEs and (the inverse Hessian of −2LL is half the
    // covariance) curvature where its covariance step ran
    let mut inverse_hessian = None;
    let phi0 = match start {
        None => foce.layout.initial(&spec.omega)?,
        Some(fit) if fit.phi.len() == foce.layout.len() => {
            let etas: Vec<Vec<f64>> = fit.subjects.iter().map(|s| s.eta.clone()).collect();
            foce.set_etas(&etas);
            inverse_hessian = fit.phi_covariance.as_ref().map(|rows| {
                let n = rows.len();
                DMatrix::from_fn(n, n, |r, c| rows[r][c] / 2.0)
            });
            fit.phi.clone()
        }
        Some(_) => {
            return Err(Error::InvalidFitOptions {
                reason: "the starting fit's parameters do not match the specification".into(),
            });
        }
    };
    // a start where the model cannot be evaluated is reported with its cause (a subject's
    // parameters out of their domain, a solver failure), not as an optimiser failure
    foce.contributions(&phi0)?;
    let outcome = match opts.method {
        _ if phi0.is_empty() => evaluation(&foce),
        OuterMethod::QuasiNewton => {
            bfgs_then_nelder_mead(&foce, &phi0, inverse_hessian, opts.into())?
        }
        OuterMethod::NelderMead => nelder_mead(&foce, &phi0, opts.into())?,
    };
    if !outcome.converged() {
        return Err(Error::PopulationNotConverged {
            iterations: outcome.iterations,
            best_minus_two_ll: outcome.minus_two_ll,
            reason: outcome.termination,
        });
    }
    let step = result::CovarianceStep::run(&foce, &outcome.theta, opts);
    result::assemble(model, data, spec, &foce, outcome, step)
}
