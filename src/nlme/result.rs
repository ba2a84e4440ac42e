//! The result of a population fit: θ, Ω, σ with standard errors, shrinkage, EBEs and
//! per-observation PRED/IPRED/IWRES/CWRES.

use super::subject::Contribution;
use super::{Foce, PopulationOptions, PopulationSpec};
use crate::data::Dataset;
use crate::error::Result;
use crate::fit::covariance::{covariance_from_hessian, hessian};
use crate::fit::optimize::StartOutcome;
use crate::fit::status::classify;
use crate::fit::{Estimate, FitStatus, Scale};
use crate::model::Model;
use crate::normal::Z_975;
use crate::params::Parameters;
use nalgebra::{DMatrix, DVector};
use std::fmt;

use crate::normal::LN_2PI;

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
    /// For a variance: η-shrinkage `100·(1 − SD(η̂)/ω)` (%), SD over subjects (n − 1).
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

/// The result of [`fit_population`](super::fit_population).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PopulationFit {
    /// Model name.
    pub model: String,
    /// `"FOCE-I"`.
    pub method: String,
    /// Objective-function value as NONMEM reports it (−2LL without `ln 2π` constants).
    pub ofv: f64,
    /// −2 log-likelihood (FOCE-I approximation), with constants.
    pub minus_two_ll: f64,
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
    /// Correlation of the outer estimates (estimation scale), if the covariance step ran.
    pub correlation: Option<Vec<Vec<f64>>>,
    /// Per subject: EBEs, individual parameters, predictions.
    pub subjects: Vec<SubjectEstimates>,
    /// Outer iterations.
    pub iterations: u64,
    /// Evaluations of the population objective (each runs every subject's inner problem).
    pub evaluations: u64,
    /// How the fit ended: an interior optimum, or estimates at a boundary, an unbounded
    /// likelihood, parameters the data do not determine.
    pub status: FitStatus,
    /// Things to look at (e.g. a failed covariance step).
    pub warnings: Vec<String>,
}

fn estimate(name: String, unit: String, u: f64, se_u: Option<f64>, scale: Scale) -> Estimate {
    let value = scale.to_natural(u);
    let se = se_u.map(|s| s * scale.derivative(u).abs());
    Estimate {
        name,
        unit,
        value,
        se,
        rse_percent: se.map(|s| 100.0 * s / value.abs()),
        ci95: se_u.map(|s| {
            (
                scale.to_natural(u - Z_975 * s),
                scale.to_natural(u + Z_975 * s),
            )
        }),
        scale,
    }
}

pub(super) fn assemble<M: Model>(
    model: &M,
    data: &Dataset,
    spec: &PopulationSpec<M>,
    foce: &Foce<'_, M>,
    outcome: StartOutcome,
    opts: &PopulationOptions,
) -> Result<PopulationFit> {
    let phi = outcome.theta;
    let layout = &foce.layout;
    let contributions = foce.contributions(&phi)?;
    let minus_two_ll: f64 = contributions.iter().map(|c| c.minus_two_ll).sum();
    let mut warnings = Vec::new();
    let hess = opts.covariance.then(|| {
        let (at, restore) = foce.around_current_etas();
        let h = hessian(at, &phi, opts.hessian_step);
        restore();
        h
    });
    let cov = hess.as_ref().and_then(covariance_from_hessian);
    if hess.is_some() && cov.is_none() {
        warnings.push(
            "covariance step failed: the Hessian of the objective is not positive definite"
                .to_owned(),
        );
    }
    let status = classify(
        &layout.checked(spec, &outcome.initial, &phi),
        hess.as_ref().map(Some),
    );
    let se = |j: usize| cov.as_ref().map(|c| c[(j, j)].sqrt());

    let specs = M::Params::specs();
    let nt = layout.theta.len();
    let mut theta: Vec<Estimate> = layout
        .theta
        .iter()
        .enumerate()
        .map(|(j, &(i, s))| {
            estimate(
                specs[i].name.to_owned(),
                specs[i].unit.to_owned(),
                phi[j],
                se(j),
                s,
            )
        })
        .collect();
    theta.extend(
        layout
            .covariates
            .iter()
            .map(|c| &c.2)
            .enumerate()
            .map(|(j, c)| {
                estimate(
                    c.describe(),
                    "coefficient".into(),
                    phi[nt + j],
                    se(nt + j),
                    Scale::Identity,
                )
            }),
    );

    // Ω elements and their SEs through the numerical Jacobian of Ω(φ).
    let k = layout.random.len();
    let omega = layout.omega(&phi);
    let lower: Vec<(usize, usize)> = (0..k)
        .map(|r| (r, r))
        .chain(
            (0..k)
                .flat_map(|r| (0..r).map(move |c| (r, c)))
                .filter(|_| layout.block),
        )
        .collect();
    let omega_se: Vec<Option<f64>> = match &cov {
        None => vec![None; lower.len()],
        Some(c) => {
            let h = 1e-6;
            let jac = DMatrix::from_fn(lower.len(), phi.len(), |e, p| {
                let (mut up, mut down) = (phi.clone(), phi.clone());
                up[p] += h;
                down[p] -= h;
                let (r, col) = lower[e];
                (layout.omega(&up)[(r, col)] - layout.omega(&down)[(r, col)]) / (2.0 * h)
            });
            let v = &jac * c * jac.transpose();
            (0..lower.len())
                .map(|e| Some(v[(e, e)].max(0.0).sqrt()))
                .collect()
        }
    };
    let eta_sd = |r: usize| {
        let n = contributions.len() as f64;
        let mean = contributions.iter().map(|c| c.eta[r]).sum::<f64>() / n;
        (contributions
            .iter()
            .map(|c| (c.eta[r] - mean).powi(2))
            .sum::<f64>()
            / (n - 1.0))
            .sqrt()
    };
    let name_of = |r: usize| specs[layout.random[r].0].name;
    let omega_estimates = lower
        .iter()
        .zip(&omega_se)
        .map(|(&(r, c), &se)| {
            let var = omega[(r, c)];
            let diag = r == c;
            OmegaEstimate {
                name: if diag {
                    name_of(r).to_owned()
                } else {
                    format!("{},{}", name_of(r), name_of(c))
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
                cv_percent: (diag && matches!(layout.random[r].1, Scale::Log | Scale::LogAbove(_)))
                    .then(|| 100.0 * var.exp_m1().sqrt()),
                shrinkage_percent: diag.then(|| 100.0 * (1.0 - eta_sd(r) / var.sqrt())),
            }
        })
        .collect();

    let ns = phi.len() - layout.sigma.len();
    let sigma = layout
        .sigma
        .iter()
        .enumerate()
        .map(|(j, &(r, p))| {
            let res = &spec.residuals[r];
            let name = format!("{}.{}", res.analyte, res.model.param_names()[p]);
            estimate(name, String::new(), phi[ns + j], se(ns + j), Scale::Log)
        })
        .collect();

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
        method: "FOCE-I".into(),
        ofv: minus_two_ll - (n_observations - n_censored) as f64 * LN_2PI,
        minus_two_ll,
        aic: minus_two_ll + 2.0 * p,
        bic: minus_two_ll + p * (n_observations as f64).ln(),
        n_subjects: subjects.len(),
        n_observations,
        n_censored,
        theta,
        random_effects: (0..k).map(|r| name_of(r).to_owned()).collect(),
        omega: omega_estimates,
        sigma,
        correlation: cov.as_ref().map(|c| {
            let d: Vec<f64> = (0..c.nrows()).map(|i| c[(i, i)].sqrt()).collect();
            (0..c.nrows())
                .map(|i| (0..c.ncols()).map(|j| c[(i, j)] / (d[i] * d[j])).collect())
                .collect()
        }),
        subjects,
        iterations: outcome.iterations,
        evaluations: foce.evaluations.load(std::sync::atomic::Ordering::Relaxed),
        status,
        warnings,
    })
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
    let rows: Vec<_> = sp.objective.observation_rows().collect();
    // CWRES: C = GΩGᵀ + V over the quantified observations, residual y − f(η̂) + Gη̂.
    let quantified: Vec<usize> = (0..rows.len()).filter(|&j| !rows[j].4).collect();
    let cwres: Vec<Option<f64>> = {
        let g = DMatrix::from_fn(quantified.len(), c.eta.len(), |r, col| {
            c.g[(quantified[r], col)]
        });
        let eta = DVector::from_column_slice(&c.eta);
        let mut cm = &g * omega * g.transpose();
        let mut e = DVector::zeros(quantified.len());
        for (r, &j) in quantified.iter().enumerate() {
            let m = &shared.errors[rows[j].5];
            cm[(r, r)] += m.sd(ipred[j].0).powi(2);
            e[r] = m.transform(rows[j].2) - c.transformed[j] + (g.row(r) * &eta)[(0, 0)];
        }
        let decorrelated = cm.cholesky().and_then(|l| l.l().solve_lower_triangular(&e));
        let mut out = vec![None; rows.len()];
        if let Some(w) = decorrelated {
            for (r, &j) in quantified.iter().enumerate() {
                out[j] = Some(w[r]);
            }
        }
        out
    };
    Ok(SubjectEstimates {
        subject: id.to_owned(),
        eta: c.eta.clone(),
        params: M::Params::names()
            .into_iter()
            .map(String::from)
            .zip(individual[0].values())
            .collect(),
        predictions: rows
            .iter()
            .enumerate()
            .map(|(j, r)| PopulationPrediction {
                time: r.0,
                analyte: r.1.to_owned(),
                observed: r.2,
                pred: pred[j].0,
                ipred: ipred[j].0,
                iwres: shared.errors[r.5].weighted_residual(r.2, ipred[j].0),
                cwres: cwres[j],
                censored: r.4,
            })
            .collect(),
    })
}

/// NONMEM-style table of θ, Ω and σ.
impl fmt::Display for PopulationFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} population fit of `{}`: {} subjects, {} observations ({} censored, M3)",
            self.method, self.model, self.n_subjects, self.n_observations, self.n_censored
        )?;
        writeln!(
            f,
            "OFV {:.4}   -2LL {:.4}   AIC {:.4}   BIC {:.4}   ({}, {} iterations, {} evaluations)",
            self.ofv,
            self.minus_two_ll,
            self.aic,
            self.bic,
            self.status,
            self.iterations,
            self.evaluations
        )?;
        let opt =
            |v: Option<f64>, p: usize| v.map_or_else(|| "-".to_owned(), |x| format!("{x:.p$}"));
        let interval = |ci: Option<(f64, f64)>| {
            ci.map_or_else(|| "-".to_owned(), |(a, b)| format!("[{a:.5}, {b:.5}]"))
        };
        writeln!(
            f,
            "{:<22} {:>12} {:>10} {:>7} {:>25}",
            "THETA", "estimate", "SE", "RSE%", "95% CI"
        )?;
        for e in &self.theta {
            writeln!(
                f,
                "{:<22} {:>12.6} {:>10} {:>7} {:>25}  {}",
                e.name,
                e.value,
                opt(e.se, 5),
                opt(e.rse_percent, 1),
                interval(e.ci95),
                e.unit
            )?;
        }
        writeln!(
            f,
            "{:<22} {:>12} {:>10} {:>7} {:>12} {:>25}",
            "OMEGA", "variance", "SE", "CV%", "shrinkage%", "95% CI"
        )?;
        for o in &self.omega {
            writeln!(
                f,
                "{:<22} {:>12.6} {:>10} {:>7} {:>12} {:>25}",
                o.name,
                o.value,
                opt(o.se, 5),
                opt(o.cv_percent, 1),
                opt(o.shrinkage_percent, 1),
                interval(o.ci95)
            )?;
        }
        writeln!(
            f,
            "{:<22} {:>12} {:>10} {:>7}",
            "SIGMA", "estimate", "SE", "RSE%"
        )?;
        for e in &self.sigma {
            writeln!(
                f,
                "{:<22} {:>12.6} {:>10} {:>7}",
                e.name,
                e.value,
                opt(e.se, 5),
                opt(e.rse_percent, 1)
            )?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}
