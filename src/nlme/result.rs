//! The result of a population fit: θ, Ω, σ with standard errors, shrinkage, EBEs and
//! per-observation PRED/IPRED/IWRES/CWRES.

use super::params::Layout;
use super::subject::Contribution;
use super::{Foce, PopulationOptions, PopulationSpec, StandardErrors};
use crate::data::Dataset;
use crate::diagnostics::{epsilon_shrinkage_sd, eta_shrinkage_sd};
use crate::error::Result;
use crate::error_model::ErrorModel;
use crate::likelihood::{Obs, ObservationTerm};
use crate::model::Model;
use crate::optim::covariance::{correlation, covariance_from_hessian, rows};
use crate::optim::differences::{OMEGA_JACOBIAN_STEP, hessian_from_axes, jacobian};
use crate::optim::status::classify;
use crate::optim::termination::StartOutcome;
use crate::optim::{Estimate, FitStatus, Scale};
use crate::params::Parameters;
use nalgebra::{DMatrix, DVector};
use std::fmt;

/// One element of Ω.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OmegaEstimate {
    /// `"ka"` for a variance, `"ka,cl"` for a covariance.
    pub name: String,
    /// Variance or covariance (estimation scale, e.g. of ln ka).
    pub value: f64,
    /// Standard error.
    pub se: Option<f64>,
    /// 95% CI: for a variance, Wald on `ln ω²` (`ω²·exp(±1.96·SE/ω²)`, never below 0 and
    /// skewed like the variance's sampling distribution); for a covariance, `± 1.96·SE`.
    pub ci95: Option<(f64, f64)>,
    /// For a variance of a log-normal parameter: `100·√(exp(ω²) − 1)` (%).
    pub cv_percent: Option<f64>,
    /// For a variance: η-shrinkage as NONMEM's `ETASHRINKSD`, `100·(1 − √(Σ η̂²/n)/ω)` (%),
    /// over the `n` subjects ([`eta_shrinkage_sd`]).
    pub shrinkage_percent: Option<f64>,
}

/// One observation with population and individual predictions and residuals.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PopulationPrediction {
    /// Time.
    pub time: f64,
    /// Analyte.
    pub analyte: String,
    /// Observed value (the LLOQ when censored).
    pub observed: f64,
    /// Population prediction (η = 0, covariates applied).
    pub pred: f64,
    /// Individual prediction at the EBE.
    pub ipred: f64,
    /// Individual weighted residual on the error model's scale.
    pub iwres: f64,
    /// Conditional weighted residual (FOCE linearisation at the EBE); `None` when censored.
    pub cwres: Option<f64>,
    /// Below the LLOQ.
    pub censored: bool,
}

/// A subject's empirical Bayes estimates and predictions.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SubjectEstimates {
    /// Subject identifier.
    pub subject: String,
    /// EBE of η, in [`PopulationFit::random_effects`] order.
    pub eta: Vec<f64>,
    /// Individual parameters at the EBE (at the subject's first record, where covariates
    /// change over time).
    pub params: Vec<(String, f64)>,
    /// Per-observation predictions and residuals.
    pub predictions: Vec<PopulationPrediction>,
}

/// ε-shrinkage of one analyte's residuals.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpsilonShrinkage {
    /// Analyte.
    pub analyte: String,
    /// Shrinkage (%); `None` when no observation of the analyte is quantified.
    pub percent: Option<f64>,
}

/// The analytes of the subjects' predictions, in order of first appearance.
pub(crate) fn analytes_of(subjects: &[SubjectEstimates]) -> Vec<&str> {
    let mut analytes: Vec<&str> = Vec::new();
    for p in subjects.iter().flat_map(|s| &s.predictions) {
        if !analytes.contains(&p.analyte.as_str()) {
            analytes.push(&p.analyte);
        }
    }
    analytes
}

/// ε-shrinkage per analyte, in order of first appearance.
fn epsilon_shrinkage(subjects: &[SubjectEstimates]) -> Vec<EpsilonShrinkage> {
    analytes_of(subjects)
        .into_iter()
        .map(|a| {
            let iwres: Vec<f64> = subjects
                .iter()
                .flat_map(|s| &s.predictions)
                .filter(|p| p.analyte == a && !p.censored)
                .map(|p| p.iwres)
                .collect();
            EpsilonShrinkage {
                analyte: a.to_owned(),
                percent: epsilon_shrinkage_sd(&iwres).map(|s| 100.0 * s),
            }
        })
        .collect()
}

/// The estimation method of a population fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EstimationMethod {
    /// First-order conditional estimation with interaction.
    FoceI,
    /// Stochastic approximation expectation–maximisation.
    Saem,
}

impl fmt::Display for EstimationMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EstimationMethod::FoceI => write!(f, "FOCE-I"),
            EstimationMethod::Saem => write!(f, "SAEM"),
        }
    }
}

/// Something to look at before trusting a population fit's estimates.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum PopulationWarning {
    /// The covariance step ran but the Hessian of the objective is not positive definite:
    /// no standard errors.
    CovarianceStepFailed,
    /// SAEM with Louis' standard errors: a standard error from the first half of the draws
    /// differs from that from all of them by more than 20%: the estimate has not converged
    /// (the chains' draws underestimate the spread of the complete-data score where random
    /// effects carry much of the information, which makes the standard errors too small).
    StandardErrorsUnstable {
        /// The parameter, as the fit names it.
        parameter: String,
        /// Its standard error from all draws (estimation scale).
        se: f64,
        /// From the first half of them.
        first_half: f64,
    },
}

impl fmt::Display for PopulationWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PopulationWarning::CovarianceStepFailed => write!(
                f,
                "covariance step failed: the Hessian of the objective is not positive definite"
            ),
            PopulationWarning::StandardErrorsUnstable {
                parameter,
                se,
                first_half,
            } => write!(
                f,
                "Louis' standard errors have not converged: {parameter} has SE {se:.4e} \
                 (estimation scale) from all draws and {first_half:.4e} from the first half; \
                 run more iterations or use linearisation"
            ),
        }
    }
}

/// The result of [`fit_population`](super::fit_population).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PopulationFit {
    /// Model name.
    pub model: String,
    /// Estimation method.
    pub method: EstimationMethod,
    /// Objective-function value as NONMEM reports it (−2LL without `ln 2π` constants).
    pub ofv: f64,
    /// −2 log-likelihood, with constants: FOCE-I's approximation, or for SAEM the
    /// importance-sampling estimate where it ran.
    pub minus_two_ll: f64,
    /// The Monte Carlo standard error of `minus_two_ll` where it comes from importance
    /// sampling.
    #[serde(default)]
    pub minus_two_ll_se: Option<f64>,
    /// `−2LL + 2p`.
    pub aic: f64,
    /// `−2LL + p·ln n`.
    pub bic: f64,
    /// Subjects.
    pub n_subjects: usize,
    /// Observations in the likelihood.
    pub n_observations: usize,
    /// Of which censored (M3).
    pub n_censored: usize,
    /// Typical values (natural scale) and covariate coefficients.
    pub theta: Vec<Estimate>,
    /// Parameters with between-subject variability, in η order.
    pub random_effects: Vec<String>,
    /// Ω elements: variances, then (for a block) covariances.
    pub omega: Vec<OmegaEstimate>,
    /// Residual error parameters.
    pub sigma: Vec<Estimate>,
    /// How the standard errors were computed (`None`: they were not, or the covariance
    /// could not be formed).
    #[serde(default)]
    pub standard_errors: Option<StandardErrors>,
    /// ε-shrinkage per analyte, as NONMEM's `EPSSHRINKSD`:
    /// `100·(1 − √(Σ IWRES²/m))` (%) over the analyte's `m` quantified observations
    /// ([`epsilon_shrinkage_sd`](crate::diagnostics::epsilon_shrinkage_sd)).
    pub epsilon_shrinkage: Vec<EpsilonShrinkage>,
    /// Correlation of the outer estimates (estimation scale), if the covariance step ran.
    pub correlation: Option<Vec<Vec<f64>>>,
    /// Per subject: EBEs, individual parameters, predictions.
    pub subjects: Vec<SubjectEstimates>,
    /// Outer iterations.
    pub iterations: u64,
    /// FOCE-I: evaluations of the population objective (each runs every subject's inner
    /// problem; an implicit gradient counts as one, though it also linearises each subject
    /// `2k + 2p'` times around its EBE: `k` random effects, `p'` parameters that move the
    /// subject's model parameters); SAEM: model solutions per subject (Metropolis–Hastings
    /// proposals and M-step evaluations).
    pub evaluations: u64,
    /// How the fit ended: an interior optimum, or estimates at a boundary, an unbounded
    /// likelihood, parameters the data do not determine.
    pub status: FitStatus,
    /// Things to look at (e.g. a failed covariance step).
    pub warnings: Vec<PopulationWarning>,
    /// The outer parameter vector at the estimates (estimation scale), from which a
    /// [`FittedModel`](super::FittedModel) simulates.
    #[serde(default)]
    pub(crate) phi: Vec<f64>,
    /// The covariance of `phi` from the covariance step, if it ran and succeeded.
    #[serde(default)]
    pub(crate) phi_covariance: Option<Vec<Vec<f64>>>,
}

/// The covariance step: the Hessian of the objective at `φ` (EBE starts held fixed) and
/// the covariance `2·H⁻¹` where `H` is positive definite; `None` for both when the step is
/// not asked for.
pub(super) struct CovarianceStep {
    hessian: Option<DMatrix<f64>>,
    covariance: Option<DMatrix<f64>>,
    method: StandardErrors,
}

impl CovarianceStep {
    pub(super) fn run<M: Model>(foce: &Foce<'_, M>, phi: &[f64], opts: &PopulationOptions) -> Self {
        let hessian = opts.covariance.then(|| {
            let fixed = foce.with_fixed_starts(phi);
            hessian_from_axes(|x| fixed.minus_two_ll(x), phi, opts.hessian_step)
        });
        let covariance = hessian.as_ref().and_then(covariance_from_hessian);
        CovarianceStep {
            hessian,
            covariance,
            method: StandardErrors::Linearisation,
        }
    }

    /// From the observed information `I` of the log-likelihood (the Hessian of −2LL is
    /// `2I`, the covariance `I⁻¹`), estimated by `method`.
    pub(super) fn from_information(information: &DMatrix<f64>, method: StandardErrors) -> Self {
        let hessian = information * 2.0;
        CovarianceStep {
            covariance: covariance_from_hessian(&hessian),
            hessian: Some(hessian),
            method,
        }
    }

    /// Standard error of `φ[j]`.
    fn se(&self, j: usize) -> Option<f64> {
        self.covariance.as_ref().map(|c| c[(j, j)].sqrt())
    }

    fn failed(&self) -> bool {
        self.hessian.is_some() && self.covariance.is_none()
    }
}

/// The fit at the estimates `outcome.theta`, with the standard errors from `step`.
pub(super) fn assemble<M: Model>(
    model: &M,
    data: &Dataset,
    spec: &PopulationSpec<M>,
    foce: &Foce<'_, M>,
    outcome: StartOutcome,
    step: CovarianceStep,
) -> Result<PopulationFit> {
    let phi = outcome.theta;
    let layout = &foce.layout;
    let contributions = foce.contributions(&phi)?;
    let minus_two_ll: f64 = contributions.iter().map(|c| c.minus_two_ll).sum();
    let mut warnings = Vec::new();
    if step.failed() {
        warnings.push(PopulationWarning::CovarianceStepFailed);
    }
    let status = classify(
        &layout.checked(spec, &outcome.initial, &phi),
        step.hessian.as_ref().map(Some),
    );
    let omega = layout.omega(&phi);
    let shared = foce.shared(&phi)?;
    let subjects = foce
        .subjects
        .iter()
        .zip(&contributions)
        .zip(data.subjects())
        .map(|((sp, c), s)| subject_estimates(sp, c, s.id(), &shared, &omega))
        .collect::<Result<Vec<_>>>()?;
    let n_observations: usize = foce
        .subjects
        .iter()
        .map(|s| s.objective.n_observations())
        .sum();
    let n_censored: usize = foce.subjects.iter().map(|s| s.objective.n_censored()).sum();
    let p = phi.len() as f64;
    Ok(PopulationFit {
        model: model.name().to_owned(),
        method: EstimationMethod::FoceI,
        ofv: foce.ofv(minus_two_ll),
        minus_two_ll,
        minus_two_ll_se: None,
        aic: minus_two_ll + 2.0 * p,
        bic: minus_two_ll + p * (n_observations as f64).ln(),
        n_subjects: subjects.len(),
        n_observations,
        n_censored,
        theta: theta_estimates::<M>(layout, &phi, &step),
        random_effects: (0..layout.random.len())
            .map(|r| random_name::<M>(layout, r).to_owned())
            .collect(),
        omega: omega_estimates::<M>(layout, &phi, &step, &contributions),
        sigma: sigma_estimates(layout, spec, &phi, &step),
        standard_errors: step.covariance.as_ref().map(|_| step.method),
        epsilon_shrinkage: epsilon_shrinkage(&subjects),
        correlation: step.covariance.as_ref().map(|c| rows(&correlation(c))),
        subjects,
        iterations: outcome.iterations,
        evaluations: foce.evaluations.load(std::sync::atomic::Ordering::Relaxed),
        status,
        warnings,
        phi_covariance: step.covariance.as_ref().map(rows),
        phi,
    })
}

/// The name of the parameter with random effect `r`.
fn random_name<M: Model>(layout: &Layout, r: usize) -> &'static str {
    M::Params::specs()[layout.random[r].index].name
}

/// Typical values (natural scale), then covariate coefficients.
fn theta_estimates<M: Model>(layout: &Layout, phi: &[f64], step: &CovarianceStep) -> Vec<Estimate> {
    let specs = M::Params::specs();
    let nt = layout.theta.len();
    let typical = layout.theta.iter().enumerate().map(|(j, p)| {
        let spec = &specs[p.index];
        Estimate::from_estimation_scale(
            spec.name.to_owned(),
            spec.unit.to_owned(),
            phi[j],
            step.se(j),
            p.scale,
        )
    });
    let coefficients = layout.covariates.iter().enumerate().map(|(j, c)| {
        Estimate::from_estimation_scale(
            c.model.describe(),
            "coefficient".into(),
            phi[nt + j],
            step.se(nt + j),
            Scale::Identity,
        )
    });
    typical.chain(coefficients).collect()
}

/// Residual error parameters (estimated on the log scale).
fn sigma_estimates<M: Model>(
    layout: &Layout,
    spec: &PopulationSpec<M>,
    phi: &[f64],
    step: &CovarianceStep,
) -> Vec<Estimate> {
    let ns = phi.len() - layout.sigma.len();
    layout
        .sigma
        .iter()
        .enumerate()
        .map(|(j, s)| {
            let res = &spec.residuals[s.residual];
            let name = format!("{}.{}", res.analyte, res.model.param_names()[s.parameter]);
            Estimate::from_estimation_scale(
                name,
                String::new(),
                phi[ns + j],
                step.se(ns + j),
                Scale::Log,
            )
        })
        .collect()
}

/// Ω's variances, then (for a block) its covariances below the diagonal, with SEs through
/// the Jacobian of Ω(φ) and the EBEs' shrinkage.
fn omega_estimates<M: Model>(
    layout: &Layout,
    phi: &[f64],
    step: &CovarianceStep,
    contributions: &[Contribution],
) -> Vec<OmegaEstimate> {
    let k = layout.random.len();
    let omega = layout.omega(phi);
    let lower: Vec<(usize, usize)> = (0..k)
        .map(|r| (r, r))
        .chain(
            (0..k)
                .flat_map(|r| (0..r).map(move |c| (r, c)))
                .filter(|_| layout.block),
        )
        .collect();
    let omega_se: Vec<Option<f64>> = match &step.covariance {
        None => vec![None; lower.len()],
        Some(c) => {
            let elements = |x: &[f64]| {
                let o = layout.omega(x);
                lower.iter().map(|&(r, col)| o[(r, col)]).collect()
            };
            let jac = jacobian(elements, phi, OMEGA_JACOBIAN_STEP);
            let v = &jac * c * jac.transpose();
            (0..lower.len())
                .map(|e| Some(v[(e, e)].max(0.0).sqrt()))
                .collect()
        }
    };
    let etas = |r: usize| -> Vec<f64> { contributions.iter().map(|c| c.eta[r]).collect() };
    lower
        .iter()
        .zip(&omega_se)
        .map(|(&(r, c), &se)| {
            let var = omega[(r, c)];
            let diag = r == c;
            OmegaEstimate {
                name: if diag {
                    random_name::<M>(layout, r).to_owned()
                } else {
                    format!(
                        "{},{}",
                        random_name::<M>(layout, r),
                        random_name::<M>(layout, c)
                    )
                },
                value: var,
                se,
                ci95: se.map(|se| {
                    if diag {
                        let f = (1.96 * se / var).exp();
                        (var / f, var * f)
                    } else {
                        (var - 1.96 * se, var + 1.96 * se)
                    }
                }),
                cv_percent: (diag
                    && matches!(layout.random[r].scale, Scale::Log | Scale::LogAbove(_)))
                .then(|| 100.0 * var.exp_m1().sqrt()),
                shrinkage_percent: diag
                    .then(|| eta_shrinkage_sd(&etas(r), var).map(|s| 100.0 * s))
                    .flatten(),
            }
        })
        .collect()
}

fn subject_estimates<M: Model>(
    sp: &super::subject::SubjectProblem<'_, M>,
    c: &Contribution,
    id: &str,
    shared: &super::subject::Shared,
    omega: &DMatrix<f64>,
) -> Result<SubjectEstimates> {
    let individual = sp.params(shared, &c.eta)?;
    let typical = sp.params(shared, &vec![0.0; c.eta.len()])?;
    let ipred = sp.objective.contributions(&individual, &shared.errors)?;
    let pred = sp.objective.contributions(&typical, &shared.errors)?;
    let observations = sp.objective.observations();
    let cwres = cwres(observations, c, &ipred, &shared.errors, omega);
    Ok(SubjectEstimates {
        subject: id.to_owned(),
        eta: c.eta.clone(),
        params: M::Params::names()
            .into_iter()
            .map(String::from)
            .zip(individual[0].values())
            .collect(),
        predictions: observations
            .iter()
            .enumerate()
            .map(|(j, o)| PopulationPrediction {
                time: o.time,
                analyte: sp.objective.analyte(o).to_owned(),
                observed: o.value,
                pred: pred[j].prediction,
                ipred: ipred[j].prediction,
                iwres: shared.errors[o.error].weighted_residual(o.value, ipred[j].prediction),
                cwres: cwres[j],
                censored: o.censored,
            })
            .collect(),
    })
}

/// CWRES of one subject's quantified observations (`None` for censored ones): the
/// residuals `y − f(η̂) + Gη̂` (on the error models' scales) decorrelated by the Cholesky
/// factor of `C = GΩGᵀ + V`; all `None` when `C` is not positive definite.
fn cwres(
    observations: &[Obs],
    c: &Contribution,
    ipred: &[ObservationTerm],
    errors: &[ErrorModel],
    omega: &DMatrix<f64>,
) -> Vec<Option<f64>> {
    let quantified: Vec<usize> = (0..observations.len())
        .filter(|&j| !observations[j].censored)
        .collect();
    let g = DMatrix::from_fn(quantified.len(), c.eta.len(), |r, col| {
        c.g[(quantified[r], col)]
    });
    let eta = DVector::from_column_slice(&c.eta);
    let mut cm = &g * omega * g.transpose();
    let mut e = DVector::zeros(quantified.len());
    for (r, &j) in quantified.iter().enumerate() {
        let o = &observations[j];
        let m = &errors[o.error];
        cm[(r, r)] += m.sd(ipred[j].prediction).powi(2);
        e[r] = m.transform(o.value) - c.transformed[j] + (g.row(r) * &eta)[(0, 0)];
    }
    let decorrelated = cm.cholesky().and_then(|l| l.l().solve_lower_triangular(&e));
    let mut out = vec![None; observations.len()];
    if let Some(w) = decorrelated {
        for (r, &j) in quantified.iter().enumerate() {
            out[j] = Some(w[r]);
        }
    }
    out
}
