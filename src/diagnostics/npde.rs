//! Normalised prediction distribution errors (NPDE; Brendel et al., Pharm Res 2006; Comets
//! et al., Comput Methods Programs Biomed 2008), decorrelated, with below-LLOQ data as in
//! npde 3.0 (Nguyen et al., CPT Pharmacometrics Syst Pharmacol 2017).
//!
//! For subject `i` with observations `yᵢ` and `K` data sets simulated from the fit with its
//! design (uncensored), `Eᵢ` and `Vᵢ` are the mean and covariance of the simulations. With
//! `Vᵢ = LLᵀ` (Cholesky), the observations and every simulation are decorrelated,
//! `y* = L⁻¹(y − Eᵢ)`; then `pdeᵢⱼ` is the fraction of simulated `y*ᵢⱼ` below the
//! observed one (kept inside `[1/2K, 1 − 1/2K]`), and `npdeᵢⱼ = Φ⁻¹(pdeᵢⱼ)`. Under the
//! model the NPDE are independent `N(0, 1)`.
//!
//! A censored observation is imputed (seeded) as npde 3.0's `cdf` method does — its `pde`
//! drawn uniformly in `[0, P(y < LLOQ)]` and its value the simulations' quantile there —
//! with the probability taken in the decorrelated scale given the subject's earlier
//! observations, so that the imputed value agrees with them; its `pd` is drawn the same
//! way from the marginal distribution.
//!
//! The summary reports what the R package `npde` reports: mean and variance with a t-test
//! (mean 0) and a Fisher variance test (variance 1), skewness and excess kurtosis, the
//! Shapiro–Wilk test of normality, and the global test (Bonferroni: three times the
//! smallest p-value, at most 1).

use super::normality::shapiro_wilk;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::nlme::{Drawn, FittedModel};
use crate::sampling::stream;
use crate::summary::quantile_censored;
use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rayon::prelude::*;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};
use std::io::Write;

/// Settings of the NPDE.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NpdeOptions {
    /// Simulated data sets (default 1000, as the npde package recommends).
    pub replicates: u64,
    /// Seed of the simulations and of the imputation of censored values.
    pub seed: u64,
}

impl Default for NpdeOptions {
    fn default() -> Self {
        NpdeOptions {
            replicates: 1000,
            seed: 1,
        }
    }
}

/// The prediction discrepancy and NPDE of one observation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NpdeRow {
    /// Subject identifier.
    pub subject: String,
    /// Time.
    pub time: f64,
    /// Analyte.
    pub analyte: String,
    /// Observed value (the imputed value where censored).
    pub value: f64,
    /// Below the LLOQ (value imputed).
    pub censored: bool,
    /// Prediction discrepancy: the fraction of simulations below the observation, before
    /// decorrelation.
    pub pd: f64,
    /// The decorrelated, normalised prediction distribution error.
    pub npde: f64,
}

/// The tests the npde package reports on a set of NPDE.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NpdeSummary {
    /// Number of NPDE.
    pub n: usize,
    /// Mean (0 under the model).
    pub mean: f64,
    /// Variance, `n − 1` divisor (1 under the model).
    pub variance: f64,
    /// Skewness (0 under the model).
    pub skewness: f64,
    /// Excess kurtosis (0 under the model).
    pub kurtosis: f64,
    /// Two-sided t-test of mean 0.
    pub mean_p_value: f64,
    /// Two-sided Fisher test of variance 1: `(n − 1)·s²` against `χ²(n − 1)`.
    pub variance_p_value: f64,
    /// Shapiro–Wilk test of normality (`None` outside 3–5000 values).
    pub normality_p_value: Option<f64>,
    /// Bonferroni-adjusted global p-value: `min(1, 3·min p)`.
    pub global_p_value: f64,
}

/// The NPDE of a data set under a fit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Npde {
    /// One row per observation in the likelihood, subjects and records in data order.
    pub rows: Vec<NpdeRow>,
    /// The tests.
    pub summary: NpdeSummary,
}

/// Computes the NPDE of `data`'s observations under the fit behind `fitted`.
///
/// # Errors
/// [`Error::InvalidOptions`] for fewer than 10 replicates or fewer than 3 observations;
/// [`Error::Solver`]-like errors of simulation from the fit.
pub fn npde<M: Model>(
    fitted: &FittedModel<'_, M>,
    data: &Dataset,
    opts: &NpdeOptions,
) -> Result<Npde> {
    if opts.replicates < 10 {
        return Err(Error::InvalidOptions {
            reason: format!("NPDE need at least 10 replicates, got {}", opts.replicates),
        });
    }
    let design = fitted.design(data)?;
    let sims: Vec<Vec<Vec<Drawn>>> = (0..opts.replicates)
        .into_par_iter()
        .map(|r| fitted.simulate_values(&design, opts.seed, r))
        .collect::<Result<_>>()?;
    // imputation draws on a stream of their own, after the replicates'
    let mut rng = stream(opts.seed, opts.replicates);
    let mut rows = Vec::new();
    for (i, ds) in design.subjects().iter().enumerate() {
        let subject = ds.subject();
        let positions: Vec<usize> = sims[0][i].iter().map(|d| d.observation).collect();
        let k = positions.len();
        let sim = DMatrix::from_fn(sims.len(), k, |r, j| sims[r][i][j].value);
        let observations: Vec<Observed> = positions
            .iter()
            .map(|&pos| {
                let o = &subject.observations()[pos];
                if o.censored {
                    Observed::Censored(o.lloq.unwrap_or(o.value))
                } else {
                    Observed::Value(o.value)
                }
            })
            .collect();
        let Decorrelated { y, pd, npde } = decorrelated(&sim, &observations, &mut rng)?;
        for (j, &pos) in positions.iter().enumerate() {
            let o = &subject.observations()[pos];
            rows.push(NpdeRow {
                subject: subject.id().to_owned(),
                time: o.time,
                analyte: o.analyte.clone(),
                value: y[j],
                censored: o.censored,
                pd: pd[j],
                npde: npde[j],
            });
        }
    }
    let values: Vec<f64> = rows.iter().map(|r| r.npde).collect();
    let summary = summarize(&values)?;
    Ok(Npde { rows, summary })
}

/// An observation as the NPDE see it.
#[derive(Debug, Clone, Copy)]
enum Observed {
    Value(f64),
    /// Below this LLOQ.
    Censored(f64),
}

/// One subject's observations (imputed where censored), prediction discrepancies and NPDE.
struct Decorrelated {
    y: Vec<f64>,
    pd: Vec<f64>,
    npde: Vec<f64>,
}

fn fraction_below(values: impl Iterator<Item = f64>, x: f64) -> f64 {
    let (mut below, mut n) = (0usize, 0usize);
    for v in values {
        below += usize::from(v < x);
        n += 1;
    }
    below as f64 / n as f64
}

/// The `u`-quantile of `values` (type 7, as [`quantile_censored`] computes it).
fn empirical_quantile(values: impl Iterator<Item = f64>, u: f64) -> Result<f64> {
    let values: Vec<Option<f64>> = values.map(Some).collect();
    Ok(quantile_censored(&values, u.clamp(0.0, 1.0))?
        .value()
        .unwrap_or(f64::NAN))
}

/// NPDE of one subject from its simulations `sim` (replicates × observations), decorrelated
/// by the Cholesky factor `L` of their covariance, `y* = L⁻¹(y − E)`, in time order. `L`
/// is lower triangular, so `y*ⱼ` depends on the observations up to `j` only: a censored
/// observation `j` is imputed in the decorrelated scale, given those before it — its
/// `pde` drawn uniformly below the simulations' fraction under the value of `y*ⱼ` at
/// which `yⱼ` reaches the LLOQ, and `y*ⱼ` the simulations' quantile there (imputing from
/// the marginal distribution instead would ignore the subject's other observations and
/// inflate the NPDE's variance).
fn decorrelated<R: Rng + ?Sized>(
    sim: &DMatrix<f64>,
    observed: &[Observed],
    rng: &mut R,
) -> Result<Decorrelated> {
    let (kk, n) = (sim.nrows(), sim.ncols());
    let mean = DVector::from_fn(n, |j, _| sim.column(j).mean());
    let centred = DMatrix::from_fn(kk, n, |r, j| sim[(r, j)] - mean[j]);
    let cov = centred.transpose() * &centred / (kk as f64 - 1.0);
    let l = cov
        .cholesky()
        .map(|c| c.l())
        .ok_or_else(|| Error::InvalidOptions {
            reason: "the simulated observations of a subject have a singular covariance (an \
                 observation the model predicts without variability); NPDE need variability"
                .into(),
        })?;
    // the simulations decorrelated: row k is L⁻¹(sₖ − E)
    let mut z_sim = DMatrix::zeros(kk, n);
    for r in 0..kk {
        let zr = l
            .solve_lower_triangular(&centred.row(r).transpose())
            .unwrap_or_else(|| DVector::zeros(n));
        z_sim.set_row(r, &zr.transpose());
    }
    let std = Normal::new(0.0, 1.0).map_err(|e| Error::InvalidOptions {
        reason: e.to_string(),
    })?;
    let floor = 1.0 / (2.0 * kk as f64);
    let mut z = vec![0.0; n];
    let mut out = Decorrelated {
        y: vec![0.0; n],
        pd: vec![0.0; n],
        npde: vec![0.0; n],
    };
    for j in 0..n {
        let known: f64 = mean[j] + (0..j).map(|c| l[(j, c)] * z[c]).sum::<f64>();
        let column = || (0..kk).map(|r| z_sim[(r, j)]);
        let marginal = || (0..kk).map(|r| sim[(r, j)]);
        let pde = match observed[j] {
            Observed::Value(y) => {
                z[j] = (y - known) / l[(j, j)];
                out.y[j] = y;
                out.pd[j] = fraction_below(marginal(), y);
                fraction_below(column(), z[j])
            }
            Observed::Censored(lloq) => {
                let cut = (lloq - known) / l[(j, j)];
                let u = rng.random::<f64>() * fraction_below(column(), cut);
                z[j] = empirical_quantile(column(), u)?;
                out.y[j] = known + l[(j, j)] * z[j];
                out.pd[j] = rng.random::<f64>() * fraction_below(marginal(), lloq);
                u
            }
        };
        out.npde[j] = std.inverse_cdf(pde.clamp(floor, 1.0 - floor));
    }
    Ok(out)
}

/// The npde package's tests of `x` against `N(0, 1)`.
///
/// # Errors
/// [`Error::InvalidOptions`] for fewer than 3 values.
pub fn summarize(x: &[f64]) -> Result<NpdeSummary> {
    let n = x.len();
    if n < 3 {
        return Err(Error::InvalidOptions {
            reason: format!("NPDE tests need at least 3 values, got {n}"),
        });
    }
    let nf = n as f64;
    let mean = x.iter().sum::<f64>() / nf;
    let m2 = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / nf;
    let m3 = x.iter().map(|v| (v - mean).powi(3)).sum::<f64>() / nf;
    let m4 = x.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / nf;
    let variance = m2 * nf / (nf - 1.0);
    let df = nf - 1.0;
    fn invalid(e: impl std::fmt::Display) -> Error {
        Error::InvalidOptions {
            reason: e.to_string(),
        }
    }
    let t = StudentsT::new(0.0, 1.0, df).map_err(invalid)?;
    let chi = ChiSquared::new(df).map_err(invalid)?;
    let tstat = mean / (variance / nf).sqrt();
    let mean_p_value = 2.0 * (1.0 - t.cdf(tstat.abs()));
    let c: f64 = chi.cdf(df * variance);
    let variance_p_value = (2.0 * c.min(1.0 - c)).min(1.0);
    let normality_p_value = shapiro_wilk(x).map(|s| s.p_value);
    let smallest = [
        Some(mean_p_value),
        Some(variance_p_value),
        normality_p_value,
    ]
    .into_iter()
    .flatten()
    .fold(1.0, f64::min);
    Ok(NpdeSummary {
        n,
        mean,
        variance,
        skewness: m3 / m2.powf(1.5),
        kurtosis: m4 / (m2 * m2) - 3.0,
        mean_p_value,
        variance_p_value,
        normality_p_value,
        global_p_value: (3.0 * smallest).min(1.0),
    })
}

impl Npde {
    /// Writes the rows as CSV: `ID,TIME,ANALYTE,DV,CENS,PD,NPDE`.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Csv`] when writing fails.
    pub fn write_csv<W: Write>(&self, writer: W) -> Result<()> {
        let mut w = csv::Writer::from_writer(writer);
        w.write_record(["ID", "TIME", "ANALYTE", "DV", "CENS", "PD", "NPDE"])?;
        for r in &self.rows {
            w.write_record([
                r.subject.clone(),
                r.time.to_string(),
                r.analyte.clone(),
                r.value.to_string(),
                u8::from(r.censored).to_string(),
                r.pd.to_string(),
                r.npde.to_string(),
            ])?;
        }
        w.flush()?;
        Ok(())
    }
}
