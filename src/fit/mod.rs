//! Individual fits: maximum likelihood estimates of a subset of a model's parameters from
//! one subject's data, with censored (M3) observations and uncertainty.
//!
//! The pieces, kept apart as in argmin: a [`FitSpec`] says what to estimate (model
//! parameters by name, residual error models per analyte); an [`Objective`] is the −2
//! log-likelihood of one subject's data under that specification (an argmin problem);
//! [`FitOptions`] choose the optimiser ([`Method`]), starts, seed and tolerances; and
//! [`fit_subject`] runs the seeded multi-start optimisation, the covariance step and the
//! diagnostics, returning a [`FitResult`]. Where a prediction is costly (an ODE model) the
//! starts run in parallel (rayon), and so do the solutions of the covariance step; each
//! depends only on its own inputs, so a fit is the same on any number of threads.
//!
//! Positive parameters are estimated on the log scale, fractions on the logit scale
//! ([`Scale`]); results are reported on the natural scale. Standard errors come from the
//! observed Fisher information (Hessian of −2LL at the optimum, central differences),
//! carried to the natural scale by the delta method. The reported OFV follows NONMEM:
//! −2LL without the `ln 2π` constants; AIC and BIC use the full −2LL.
//!
//! ```
//! use cart_pkpd::fit::{fit_subject, FitOptions, FitSpec};
//! use cart_pkpd::models::{CellularKinetics, CellularKineticsParams};
//! use cart_pkpd::{ErrorModel, Parameters, Subject};
//!
//! let truth = CellularKineticsParams::stein_2019();
//! let mut b = Subject::builder("P01").dose(0.0, 10.0);
//! for (t, wobble) in [(4.0, 1.1), (7.0, 0.9), (9.0, 1.05), (14.0, 0.95), (21.0, 1.1), (28.0, 0.9),
//!                     (60.0, 1.05), (90.0, 0.92), (180.0, 1.08), (365.0, 0.97)] {
//!     b = b.observe(t, "transgene", truth.transgene(t) * wobble);
//! }
//! let subject = b.build()?;
//! let spec = FitSpec::new(truth.with("cmax", 10_000.0)?)
//!     .estimate(&["cmax", "alpha", "beta"])
//!     .residual("transgene", ErrorModel::LogAdditive { sd: 0.3 });
//! let fit = fit_subject(&CellularKinetics, &subject, &spec, &FitOptions::default())?;
//! let cmax = fit.estimate("cmax").unwrap();
//! assert!((cmax.value / 24_000.0 - 1.0).abs() < 0.1);
//! println!("{fit}");
//! # Ok::<(), cart_pkpd::Error>(())
//! ```

pub(crate) mod result;
mod simulation;

pub use crate::likelihood::{Censoring, FitSpec, Objective, ResidualSpec, Slot, Target};
pub use crate::optim::limits::{MAX_SIMPLEX_STEP, MAX_STEP, MAX_TOLERANCE};
pub use crate::optim::{Estimate, FitStatus, Scale, Termination};
pub use result::{FitResult, FitWarning, Prediction, StartSummary};
pub use simulation::{FitSimulation, simulate_from_fit};

use crate::data::Subject;
use crate::error::{Error, Result};
use crate::error_model::ErrorModel;
use crate::likelihood::{ObservationTerm, Scored};
use crate::model::Model;
use crate::optim::covariance::{correlation, covariance_from_hessian, rows};
use crate::optim::differences::{hessian, non_smooth};
use crate::optim::limits::check_positive;
use crate::optim::map_in_order;
use crate::optim::multistart::{self, Counted, StartDesign};
use crate::optim::solver::lbfgs::lbfgs;
use crate::optim::solver::marquardt::levenberg_marquardt;
use crate::optim::solver::nelder_mead::{NelderMeadSettings, nelder_mead};
use crate::optim::status::{self, Checked, Kind};
use crate::optim::termination::StartOutcome;
use crate::params::Parameters;
use crate::simulate::SolverOptions;

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Method {
    /// Nelder–Mead simplex with restarts (derivative-free; robust to the small jumps of an
    /// adaptive ODE solution and to kinks of −2LL).
    NelderMead,
    /// L-BFGS with Moré–Thuente line search; gradients from the forward sensitivities of
    /// the predictions where the model is solved as an ODE, else central differences.
    Lbfgs,
    /// Levenberg–Marquardt steps on the Gauss–Newton (Fisher-scoring) approximation of the
    /// Hessian of −2LL, `Σ_j w_j·∇q_j·∇q_jᵀ` (`q_j` the prediction on the error model's
    /// scale, `w_j = 2/sd_j²`, or the M3 curvature of a censored value; the residual-error
    /// block at fixed predictions), with the exact gradient; both from one forward
    /// sensitivity solution a step where the model is solved as an ODE (central differences
    /// of solutions otherwise); no coordinate moves more than 1 (estimation scale) a step.
    /// Converged when the Newton decrement `gᵀH⁻¹g` is below the tolerance's hundredth. A
    /// start from which it does not converge (a −2LL with a kink, such as a change point
    /// at a sampling time, or a plateau) is searched again by Nelder–Mead. The fastest
    /// method: on a model-2 fit to transgene and B cells (4 starts, covariance step
    /// included), 170 evaluations against Nelder–Mead's 2,972, and 26 ms against 100 ms on
    /// 2 cores. The default.
    LevenbergMarquardt,
}

/// Largest spread of random starts on the estimation scale: a factor `e^20 ≈ 5·10⁸` either
/// way.
pub const MAX_SPREAD: f64 = 20.0;

/// Settings of a fit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FitOptions {
    /// Optimiser.
    pub method: Method,
    /// Number of starts (1 = the initial values only).
    pub starts: usize,
    /// Seed of the random starts.
    pub seed: u64,
    /// Half-width of the uniform perturbation of each start, on the estimation scale
    /// (0.7 ≈ a factor of 2 either way for log-scale parameters; at most [`MAX_SPREAD`]).
    pub spread: f64,
    /// Largest number of optimiser iterations per start.
    pub max_iters: u64,
    /// Convergence tolerance on −2LL.
    pub tolerance: f64,
    /// Nelder–Mead: initial simplex edge on the estimation scale.
    pub simplex_step: f64,
    /// Nelder–Mead: largest number of restarts from the best vertex.
    pub max_restarts: usize,
    /// Treatment of below-LLOQ observations.
    pub censoring: Censoring,
    /// ODE solver settings while optimising.
    pub solver: SolverOptions,
    /// ODE solver settings for the covariance step (tighter: the differences of the
    /// gradient over a step of `hessian_step` must be well above the solver's error).
    pub covariance_solver: SolverOptions,
    /// Finite-difference step of the Hessian on the estimation scale.
    pub hessian_step: f64,
    /// Warn when a relative standard error exceeds this (%).
    pub rse_warning_percent: f64,
    /// Warn when an absolute correlation exceeds this.
    pub correlation_warning: f64,
}

impl Default for FitOptions {
    /// Levenberg–Marquardt (Nelder–Mead where it does not converge), 4 starts, seed 1,
    /// spread 0.7, 5000 iterations, tolerance 1e-4 on −2LL,
    /// M3 censoring, ODE rtol 1e-6 while optimising and 1e-8 (atol 1e-12) for the
    /// covariance step (on the model-2 joint fit its SEs agree with those at rtol 1e-10 to
    /// 5e-8 relative, and −2LL to 4e-8, in 72% of the time), Hessian step 1e-3, warnings
    /// above 50% RSE and |r| > 0.95.
    fn default() -> Self {
        FitOptions {
            method: Method::LevenbergMarquardt,
            starts: 4,
            seed: 1,
            spread: 0.7,
            max_iters: 5000,
            tolerance: 1e-4,
            simplex_step: 0.3,
            max_restarts: 6,
            censoring: Censoring::M3,
            solver: SolverOptions::default(),
            covariance_solver: SolverOptions::default().with_tolerances(1e-8, 1e-12),
            hessian_step: 1e-3,
            rse_warning_percent: 50.0,
            correlation_warning: 0.95,
        }
    }
}

impl FitOptions {
    fn check(&self) -> Result<()> {
        let bad = |reason: &str| {
            Err(Error::InvalidFitOptions {
                reason: reason.to_owned(),
            })
        };
        if self.starts == 0 {
            return bad("starts must be >= 1");
        }
        if !(self.spread.is_finite() && (0.0..=MAX_SPREAD).contains(&self.spread)) {
            return bad(&format!(
                "spread must be in [0, {MAX_SPREAD}] on the estimation scale (a factor e^{MAX_SPREAD} either way), got {}",
                self.spread
            ));
        }
        check_positive("tolerance", self.tolerance, MAX_TOLERANCE)?;
        check_positive("hessian_step", self.hessian_step, MAX_STEP)?;
        check_positive("simplex_step", self.simplex_step, MAX_SIMPLEX_STEP)?;
        self.solver.check()?;
        self.covariance_solver.check()?;
        if self.max_restarts == 0 {
            return bad("max_restarts must be >= 1");
        }
        if self.max_iters == 0 {
            return bad("max_iters must be >= 1");
        }
        Ok(())
    }
}

/// Fits `spec` to one subject's data and returns the estimates with uncertainty.
///
/// # Errors
/// Bad specification or data ([`Objective::new`]), invalid options, or
/// [`Error::NotConverged`] when no start converged (no estimate is reported then).
pub fn fit_subject<M: Model>(
    model: &M,
    subject: &Subject,
    spec: &FitSpec<M>,
    opts: &FitOptions,
) -> Result<FitResult> {
    opts.check()?;
    // Objective::new predicts once (to check the doses): how long that took decides
    // whether the starts and the covariance step's solutions run in parallel
    let started = std::time::Instant::now();
    let objective = Objective::new(model, subject, spec, opts.censoring, opts.solver)?;
    let parallel = started.elapsed() >= PARALLEL_PREDICTION;
    let theta0 = objective.initial_theta()?;
    let outcomes = run_starts(&objective, &theta0, opts, parallel);
    let best_start = best_converged(&outcomes, subject.id())?;
    let theta = outcomes[best_start].theta.clone();

    // Covariance step with tight ODE tolerances.
    let precise = Objective::new(model, subject, spec, opts.censoring, opts.covariance_solver)?;
    let minus_two_ll = precise.minus_two_ll(&theta)?;
    let step = CovarianceStep::run(&precise, &theta, opts.hessian_step, parallel);
    let cov = &step.covariance;

    let (params, errors) = precise.unpack(&theta)?;
    let estimates = estimates(precise.slots(), &theta, cov.as_ref());
    let correlation = cov.as_ref().map(correlation);
    let checked = checked(precise.slots(), &outcomes[best_start].initial, &theta);
    let status = status::classify(&checked, Some(Some(&step.hessian)));
    let mut warnings = warnings(&estimates, correlation.as_ref(), opts);
    warnings.extend(step.kinks.iter().map(|&i| FitWarning::NonSmoothLikelihood {
        name: estimates[i].name.clone(),
    }));

    let contributions = precise.contributions(std::slice::from_ref(&params), &errors)?;
    let predictions = predictions(&precise, &contributions, &errors);
    let k = precise.slots().len() as f64;
    let n = precise.n_observations();
    let natural = |t: &[f64]| -> Vec<f64> {
        precise
            .slots()
            .iter()
            .zip(t)
            .map(|(s, &u)| s.scale.to_natural(u))
            .collect()
    };
    Ok(FitResult {
        model: model.name().to_owned(),
        subject: subject.id().to_owned(),
        method: opts.method,
        estimates,
        params: M::Params::names()
            .into_iter()
            .map(String::from)
            .zip(params.values())
            .collect(),
        residual_errors: precise
            .residual_models()
            .iter()
            .map(|(a, _)| a.clone())
            .zip(errors)
            .collect(),
        covariance: cov.as_ref().map(rows),
        correlation: correlation.as_ref().map(rows),
        minus_two_ll,
        ofv: precise.ofv_from_minus_two_ll(minus_two_ll),
        aic: minus_two_ll + 2.0 * k,
        bic: minus_two_ll + k * (n as f64).ln(),
        n_observations: n,
        n_censored: precise.n_censored(),
        starts: outcomes.iter().map(|o| summary(o, natural)).collect(),
        best_start,
        status,
        evaluations: objective.evaluations() + precise.evaluations(),
        warnings,
        predictions,
    })
}

/// A first prediction that takes at least this long makes a fit run its starts and its
/// covariance step's solutions in parallel; below it, waking the thread pool costs more
/// than it saves (measured: model 1 in closed form, whose prediction takes ~2 µs, fitted in
/// 300 µs one start after another and in 358 µs in parallel; model 2, ~50 µs a prediction,
/// in 65 ms and 26 ms on 2 threads). Either way the fit is the same.
const PARALLEL_PREDICTION: std::time::Duration = std::time::Duration::from_micros(20);

/// The start with the lowest −2LL among those that converged.
///
/// # Errors
/// [`Error::NotConverged`] when none did, with how the best start ended.
fn best_converged(outcomes: &[StartOutcome], subject: &str) -> Result<usize> {
    let by_ll = |a: &&StartOutcome, b: &&StartOutcome| a.minus_two_ll.total_cmp(&b.minus_two_ll);
    let converged = outcomes.iter().filter(|o| o.converged()).min_by(by_ll);
    match converged {
        Some(best) => Ok(outcomes
            .iter()
            .position(|o| std::ptr::eq(o, best))
            .expect("an element of outcomes")),
        None => {
            let best = outcomes.iter().min_by(by_ll).expect("at least one start");
            Err(Error::NotConverged {
                subject: subject.to_owned(),
                starts: outcomes.len(),
                best_minus_two_ll: best.minus_two_ll,
                reason: best.termination.clone(),
            })
        }
    }
}

/// The covariance step of an individual fit: the Hessian of −2LL at the optimum, the
/// covariance `2·H⁻¹` where `H` is positive definite, and the parameters along which −2LL is
/// not smooth there. The Hessian is the central difference of the exact gradient
/// (symmetrised) where the gradient comes from forward sensitivities (an ODE model), else
/// the second difference of −2LL.
struct CovarianceStep {
    hessian: nalgebra::DMatrix<f64>,
    covariance: Option<nalgebra::DMatrix<f64>>,
    kinks: Vec<usize>,
}

impl CovarianceStep {
    fn run<M: Model>(
        objective: &Objective<'_, M>,
        theta: &[f64],
        step: f64,
        parallel: bool,
    ) -> Self {
        let f = |u: &[f64]| objective.cost_or_infinity(u);
        let hessian = gradient_difference(objective, theta, step, parallel)
            .unwrap_or_else(|| hessian(f, theta, step));
        CovarianceStep {
            covariance: covariance_from_hessian(&hessian),
            kinks: non_smooth(f, theta, step, &hessian, parallel),
            hessian,
        }
    }
}

/// `H_ij = (g_j(θ + h·e_i) − g_j(θ − h·e_i)) / 2h`, symmetrised, from the sensitivity
/// gradient `g` of −2LL; `None` where it is not available at every point. Along a
/// residual-error parameter the predictions and their derivatives do not move: the
/// gradient there reuses those at `θ` (no model solution).
fn gradient_difference<M: Model>(
    objective: &Objective<'_, M>,
    theta: &[f64],
    h: f64,
    parallel: bool,
) -> Option<nalgebra::DMatrix<f64>> {
    let p = theta.len();
    let modelled = objective.modelled();
    let shifted = |i: usize, by: f64| {
        let mut u = theta.to_vec();
        u[i] += by;
        u
    };
    // the solution at θ and those at θ ± h·e_i along the model parameters, all in parallel
    // where `parallel`
    let at_theta = || objective.sensitivity_jacobian(theta);
    let solved = || {
        let shifts = (0..2 * modelled.len()).collect();
        map_in_order(shifts, parallel, |k| {
            let by = if k % 2 == 0 { h } else { -h };
            objective.sensitivity_gradient(&shifted(modelled[k / 2], by))
        })
        .into_iter()
        .collect::<Option<Vec<_>>>()
    };
    let (at_theta, solved) = if parallel {
        rayon::join(at_theta, solved)
    } else {
        (at_theta(), solved())
    };
    let (at_theta, solved) = (at_theta?, solved?);
    let row = |up: &[f64], down: &[f64]| -> Vec<f64> {
        up.iter()
            .zip(down)
            .map(|(a, b)| (a - b) / (2.0 * h))
            .collect()
    };
    let rows: Vec<Vec<f64>> = (0..p)
        .map(|i| match modelled.iter().position(|&m| m == i) {
            Some(k) => Some(row(&solved[2 * k], &solved[2 * k + 1])),
            // along a residual-error parameter the predictions do not move
            None => Some(row(
                &objective.gradient_from(&shifted(i, h), &at_theta)?,
                &objective.gradient_from(&shifted(i, -h), &at_theta)?,
            )),
        })
        .collect::<Option<_>>()?;
    let hess = nalgebra::DMatrix::from_fn(p, p, |i, j| rows[i][j]);
    Some((&hess + hess.transpose()) * 0.5)
}

/// Fits every subject with the same specification, subjects in parallel (rayon); one
/// result per subject, in input order. Each fit is the same as [`fit_subject`] would give
/// (its random starts depend only on the options' seed), whatever the number of threads.
pub fn fit_subjects<M: Model>(
    model: &M,
    subjects: &[&Subject],
    spec: &FitSpec<M>,
    opts: &FitOptions,
) -> Vec<Result<FitResult>> {
    use rayon::prelude::*;
    subjects
        .par_iter()
        .map(|s| fit_subject(model, s, spec, opts))
        .collect()
}

/// The estimates on the natural scale, with SE (delta method) and 95% CI (limits on the
/// estimation scale, transformed back) where the covariance step succeeded.
fn estimates(slots: &[Slot], theta: &[f64], cov: Option<&nalgebra::DMatrix<f64>>) -> Vec<Estimate> {
    slots
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let se_u = cov.map(|c| c[(i, i)].sqrt());
            Estimate::from_estimation_scale(s.name.clone(), s.unit.clone(), theta[i], se_u, s.scale)
        })
        .collect()
}

/// Every start of the multi-start search; with nothing to estimate, one evaluation.
fn run_starts<M: Model>(
    objective: &Objective<'_, M>,
    theta0: &[f64],
    opts: &FitOptions,
    parallel: bool,
) -> Vec<StartOutcome> {
    if theta0.is_empty() {
        return vec![multistart::evaluation(objective)];
    }
    let design = StartDesign {
        starts: opts.starts,
        spread: opts.spread,
        seed: opts.seed,
    };
    let search = |initial: &[f64]| {
        let own = objective.recounted();
        let value = search_from(&own, initial, opts);
        objective.add_evaluations(own.evaluations());
        Counted {
            value,
            evaluations: own.evaluations(),
        }
    };
    multistart::run_starts(theta0, design, parallel, search)
}

/// One start's search by the options' method.
fn search_from<M: Model>(
    objective: &Objective<'_, M>,
    initial: &[f64],
    opts: &FitOptions,
) -> Result<StartOutcome> {
    match opts.method {
        Method::NelderMead => nelder_mead(objective, initial, opts.into()),
        Method::Lbfgs => lbfgs(objective, initial, opts.tolerance, opts.max_iters),
        Method::LevenbergMarquardt => {
            let tolerance = opts.tolerance * 1e-2;
            match levenberg_marquardt(Scored::new(objective), initial, tolerance, opts.max_iters) {
                Ok(o) if o.termination.is_converged() || !o.minus_two_ll.is_finite() => Ok(o),
                // a start it cannot finish (a flat or kinked −2LL) is Nelder–Mead's
                _ => nelder_mead(objective, initial, opts.into()),
            }
        }
    }
}

impl From<&FitOptions> for NelderMeadSettings {
    fn from(o: &FitOptions) -> Self {
        NelderMeadSettings::new(o.simplex_step, o.max_restarts, o.tolerance, o.max_iters)
    }
}

/// Per-observation IPRED and residuals at the estimates.
fn predictions<M: Model>(
    objective: &Objective<'_, M>,
    contributions: &[ObservationTerm],
    errors: &[ErrorModel],
) -> Vec<Prediction> {
    objective
        .observations()
        .iter()
        .zip(contributions)
        .map(|(o, c)| Prediction {
            time: o.time,
            analyte: objective.analyte(o).to_owned(),
            observed: o.value,
            ipred: c.prediction,
            residual: o.value - c.prediction,
            iwres: errors[o.error].weighted_residual(o.value, c.prediction),
            censored: o.censored,
            lloq: o.lloq,
        })
        .collect()
}

/// Each estimated parameter with its start and end on the estimation scale, for the
/// end-of-fit checks.
fn checked(slots: &[Slot], initial: &[f64], theta: &[f64]) -> Vec<Checked> {
    slots
        .iter()
        .enumerate()
        .map(|(i, s)| Checked {
            name: s.name.clone(),
            kind: match s.target {
                Target::Model(_) => Kind::Typical,
                Target::Residual { .. } => Kind::Residual,
            },
            initial: initial[i],
            last: theta[i],
        })
        .collect()
}

/// What one start reached, its initial values on the natural scale.
fn summary(o: &StartOutcome, natural: impl Fn(&[f64]) -> Vec<f64>) -> StartSummary {
    StartSummary {
        initial: natural(&o.initial),
        minus_two_ll: o.minus_two_ll,
        iterations: o.iterations,
        evaluations: o.evaluations,
        termination: o.termination.clone(),
    }
}

fn warnings(
    estimates: &[Estimate],
    correlation: Option<&nalgebra::DMatrix<f64>>,
    opts: &FitOptions,
) -> Vec<FitWarning> {
    let Some(r) = correlation else {
        return vec![FitWarning::HessianNotPositiveDefinite];
    };
    let mut out = Vec::new();
    for e in estimates {
        if let Some(rse) = e.rse_percent.filter(|&v| v > opts.rse_warning_percent) {
            out.push(FitWarning::HighRelativeStandardError {
                name: e.name.clone(),
                rse_percent: rse,
            });
        }
    }
    for i in 0..estimates.len() {
        for j in 0..i {
            if r[(i, j)].abs() > opts.correlation_warning {
                out.push(FitWarning::HighCorrelation {
                    first: estimates[j].name.clone(),
                    second: estimates[i].name.clone(),
                    correlation: r[(i, j)],
                });
            }
        }
    }
    out
}
