//! Visual predictive checks (VPC) and prediction-corrected VPC (pcVPC) as numbers.
//!
//! The observations of one analyte are grouped into time bins ([`Binning`]), optionally per
//! stratum (a covariate's value). In each bin, the observed 5th, 50th and 95th percentiles
//! (or chosen ones) are set against the distribution of the same percentiles over `N`
//! data sets simulated from the fit with the data's own design
//! ([`FittedModel`]): its median and a 90% (or chosen) interval.
//!
//! **Below-LLOQ data** (Bergstrand et al., AAPS J 2009): censored values stay in place,
//! ranked below every quantified value, in the observed and in every simulated data set; a
//! percentile that falls among them is reported as [`Reported::BelowLloq`] rather than
//! computed from the quantified values alone. Each bin also gives the observed fraction
//! below the LLOQ and the simulated fractions' median and interval (the censored panel).
//!
//! **Prediction correction** (Bergstrand et al., AAPS J 2011): each value (observed or
//! simulated) is multiplied by `PRED_bin / PRED_ij`, where `PRED_ij` is the population
//! prediction (`η = 0`, covariates applied) of observation `j` of subject `i` and
//! `PRED_bin` the median `PRED` of its bin and stratum. This removes the variability that
//! comes from differences in design within a bin (doses, covariates, times), so that a
//! wide bin does not look misspecified. The multiplicative form suits data bounded below
//! by 0, as concentrations and cell counts are.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::nlme::{Design, FittedModel};
use crate::summary::{Reported, quantile_censored};
use rayon::prelude::*;
use std::io::Write;

/// How observation times are grouped into bins.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Binning {
    /// One bin per distinct observation time (nominal times or visits).
    Nominal,
    /// Bins between these edges (sorted): bin `k` holds times in `[edges[k], edges[k+1])`,
    /// the last one closed; times outside are left out.
    Edges(Vec<f64>),
    /// This many bins holding (nearly) equal numbers of observations, cut between distinct
    /// times.
    Quantiles(usize),
}

/// Settings of a VPC.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VpcOptions {
    /// The percentiles compared (fractions), default 0.05, 0.5, 0.95.
    pub percentiles: Vec<f64>,
    /// Coverage of the simulated intervals (default 0.9).
    pub interval: f64,
    /// Time bins (default: nominal times).
    pub binning: Binning,
    /// A covariate whose value (at each subject's first record) defines strata.
    pub stratify: Option<String>,
    /// Prediction-corrected VPC.
    pub prediction_corrected: bool,
    /// Number of simulated data sets (default 200).
    pub replicates: u64,
    /// Seed of the simulations.
    pub seed: u64,
}

impl Default for VpcOptions {
    fn default() -> Self {
        VpcOptions {
            percentiles: vec![0.05, 0.5, 0.95],
            interval: 0.9,
            binning: Binning::Nominal,
            stratify: None,
            prediction_corrected: false,
            replicates: 200,
            seed: 1,
        }
    }
}

/// The median and interval of a simulated statistic over the replicates.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SimulatedInterval {
    /// Lower limit (the `(1 − interval)/2` quantile over replicates).
    pub lower: Reported,
    /// Median over replicates.
    pub median: Reported,
    /// Upper limit.
    pub upper: Reported,
}

/// One percentile of one bin: observed, and simulated over the replicates.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VpcPercentile {
    /// The percentile (fraction).
    pub q: f64,
    /// Observed.
    pub observed: Reported,
    /// Simulated.
    pub simulated: SimulatedInterval,
}

/// One bin of a VPC.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VpcBin {
    /// Stratum (the covariate's value as text), if stratified.
    pub stratum: Option<String>,
    /// Start and end of the bin (time unit of the data).
    pub start: f64,
    /// End of the bin.
    pub end: f64,
    /// Median observation time in the bin (where to plot it).
    pub time: f64,
    /// Observations in the bin.
    pub n: usize,
    /// The percentiles.
    pub percentiles: Vec<VpcPercentile>,
    /// Observed fraction below the LLOQ.
    pub observed_blq_fraction: f64,
    /// Simulated fraction below the LLOQ: median and interval over replicates.
    pub simulated_blq_fraction: [f64; 3],
}

/// A VPC of one analyte.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Vpc {
    /// Analyte.
    pub analyte: String,
    /// The covariate that defines the strata, if stratified.
    pub stratified_by: Option<String>,
    /// Whether values are prediction-corrected.
    pub prediction_corrected: bool,
    /// Replicates simulated.
    pub replicates: u64,
    /// Coverage of the simulated intervals.
    pub interval: f64,
    /// Bins, by stratum then time.
    pub bins: Vec<VpcBin>,
}

/// One observation in the VPC: where it is and which bin it falls in.
struct Row {
    subject: usize,
    observation: usize,
    group: usize,
    /// `PRED_bin / PRED_ij` (1 without prediction correction).
    correction: f64,
}

/// A bin and stratum: the unit percentiles are computed over.
struct Group {
    stratum: Option<String>,
    start: f64,
    end: f64,
    time: f64,
}

/// The percentiles and BLQ fraction of one data set's values in one group.
struct GroupStats {
    percentiles: Vec<Option<f64>>,
    blq_fraction: f64,
}

/// Computes a VPC of `analyte` for the fit behind `fitted`, with `data`'s design.
///
/// # Errors
/// [`Error::InvalidOptions`] for percentiles or an interval outside `(0, 1)`, no
/// replicates, unsorted edges or zero quantile bins; [`Error::AnalyteNotObserved`] when no
/// subject observes `analyte`; [`Error::CovariateMissing`] for a stratifying covariate a
/// subject lacks; the errors of simulation from the fit.
pub fn vpc<M: Model>(
    fitted: &FittedModel<'_, M>,
    data: &Dataset,
    analyte: &str,
    opts: &VpcOptions,
) -> Result<Vpc> {
    check(opts)?;
    let design = fitted.design(data)?;
    let (rows, groups) = layout(fitted, &design, analyte, opts)?;
    let observed = values_of(data, &rows);
    let observed = stats(&observed, &rows, groups.len(), &opts.percentiles)?;
    let simulated: Vec<Vec<GroupStats>> = (0..opts.replicates)
        .into_par_iter()
        .map(|r| {
            let sim = fitted.simulate_design(&design, opts.seed, r)?;
            stats(
                &values_of(&sim, &rows),
                &rows,
                groups.len(),
                &opts.percentiles,
            )
        })
        .collect::<Result<_>>()?;
    let tail = (1.0 - opts.interval) / 2.0;
    let bins = groups
        .into_iter()
        .enumerate()
        .map(|(g, group)| {
            let percentiles = opts
                .percentiles
                .iter()
                .enumerate()
                .map(|(k, &q)| {
                    let over: Vec<Option<f64>> =
                        simulated.iter().map(|s| s[g].percentiles[k]).collect();
                    Ok(VpcPercentile {
                        q,
                        observed: reported(observed[g].percentiles[k]),
                        simulated: SimulatedInterval {
                            lower: quantile_censored(&over, tail)?,
                            median: quantile_censored(&over, 0.5)?,
                            upper: quantile_censored(&over, 1.0 - tail)?,
                        },
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let fractions: Vec<Option<f64>> =
                simulated.iter().map(|s| Some(s[g].blq_fraction)).collect();
            let fraction =
                |q: f64| quantile_censored(&fractions, q).map(|r| r.value().unwrap_or(0.0));
            Ok(VpcBin {
                stratum: group.stratum,
                start: group.start,
                end: group.end,
                time: group.time,
                n: rows.iter().filter(|r| r.group == g).count(),
                percentiles,
                observed_blq_fraction: observed[g].blq_fraction,
                simulated_blq_fraction: [fraction(tail)?, fraction(0.5)?, fraction(1.0 - tail)?],
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Vpc {
        analyte: analyte.to_owned(),
        stratified_by: opts.stratify.clone(),
        prediction_corrected: opts.prediction_corrected,
        replicates: opts.replicates,
        interval: opts.interval,
        bins,
    })
}

fn reported(v: Option<f64>) -> Reported {
    v.map_or(Reported::BelowLloq, Reported::Value)
}

fn check(opts: &VpcOptions) -> Result<()> {
    let bad = |reason: String| Err(Error::InvalidOptions { reason });
    let fraction = |v: f64| v > 0.0 && v < 1.0;
    if opts.percentiles.is_empty() || !opts.percentiles.iter().all(|&q| fraction(q)) {
        return bad(format!(
            "VPC percentiles must be in (0, 1), got {:?}",
            opts.percentiles
        ));
    }
    if !fraction(opts.interval) {
        return bad(format!(
            "the VPC interval must be in (0, 1), got {}",
            opts.interval
        ));
    }
    if opts.replicates == 0 {
        return bad("a VPC needs at least one replicate".into());
    }
    match &opts.binning {
        Binning::Edges(e)
            if e.len() < 2
                || e.windows(2)
                    .any(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less)) =>
        {
            bad(format!(
                "VPC bin edges must be at least two increasing times, got {e:?}"
            ))
        }
        Binning::Quantiles(0) => bad("a VPC needs at least one quantile bin".into()),
        _ => Ok(()),
    }
}

/// Every value of the rows in a data set (`None` when censored), prediction-corrected.
fn values_of(data: &Dataset, rows: &[Row]) -> Vec<Option<f64>> {
    rows.iter()
        .map(|r| {
            let o = &data.subjects()[r.subject].observations()[r.observation];
            (!o.censored).then_some(o.value * r.correction)
        })
        .collect()
}

/// Percentiles and BLQ fraction per group.
fn stats(
    values: &[Option<f64>],
    rows: &[Row],
    n_groups: usize,
    qs: &[f64],
) -> Result<Vec<GroupStats>> {
    let mut by_group: Vec<Vec<Option<f64>>> = vec![Vec::new(); n_groups];
    for (v, r) in values.iter().zip(rows) {
        by_group[r.group].push(*v);
    }
    by_group
        .iter()
        .map(|vals| {
            let percentiles = qs
                .iter()
                .map(|&q| Ok(quantile_censored(vals, q)?.value()))
                .collect::<Result<Vec<_>>>()?;
            let blq = vals.iter().filter(|v| v.is_none()).count();
            Ok(GroupStats {
                percentiles,
                blq_fraction: blq as f64 / vals.len() as f64,
            })
        })
        .collect()
}

/// The observations of `analyte` in the design, their groups (stratum × bin) and their
/// prediction corrections.
fn layout<M: Model>(
    fitted: &FittedModel<'_, M>,
    design: &Design<'_, '_, M>,
    analyte: &str,
    opts: &VpcOptions,
) -> Result<(Vec<Row>, Vec<Group>)> {
    let found = observations_of(fitted, design, analyte, opts)?;
    if found.is_empty() {
        return Err(Error::AnalyteNotObserved {
            analyte: analyte.to_owned(),
        });
    }
    let mut strata: Vec<Option<String>> = found.iter().map(|f| f.stratum.clone()).collect();
    strata.sort();
    strata.dedup();
    let mut groups = Vec::new();
    let mut rows = Vec::new();
    for stratum in strata {
        let members: Vec<&Found> = found.iter().filter(|f| f.stratum == stratum).collect();
        let times: Vec<f64> = members.iter().map(|f| f.time).collect();
        for bin in bins(&times, &opts.binning) {
            let inside: Vec<&&Found> = members.iter().filter(|f| bin.contains(f.time)).collect();
            if inside.is_empty() {
                continue;
            }
            let g = groups.len();
            let bin_times: Vec<Option<f64>> = inside.iter().map(|f| Some(f.time)).collect();
            let preds: Vec<Option<f64>> = inside.iter().map(|f| Some(f.pred)).collect();
            let pred_bin = quantile_censored(&preds, 0.5)?.value().unwrap_or(1.0);
            groups.push(Group {
                stratum: stratum.clone(),
                start: bin.start,
                end: bin.end,
                time: quantile_censored(&bin_times, 0.5)?
                    .value()
                    .unwrap_or(bin.start),
            });
            for f in inside {
                rows.push(Row {
                    subject: f.subject,
                    observation: f.observation,
                    group: g,
                    correction: if opts.prediction_corrected {
                        pred_bin / f.pred
                    } else {
                        1.0
                    },
                });
            }
        }
    }
    Ok((rows, groups))
}

/// An observation of the VPC's analyte: where it is, its stratum and its PRED.
struct Found {
    subject: usize,
    observation: usize,
    time: f64,
    stratum: Option<String>,
    pred: f64,
}

/// Every observation of `analyte` in the design (`MDV = 0`), with its stratum and, for a
/// pcVPC, its population prediction.
fn observations_of<M: Model>(
    fitted: &FittedModel<'_, M>,
    design: &Design<'_, '_, M>,
    analyte: &str,
    opts: &VpcOptions,
) -> Result<Vec<Found>> {
    let mut found = Vec::new();
    for (i, ds) in design.subjects().iter().enumerate() {
        let s = ds.subject();
        let stratum = match &opts.stratify {
            None => None,
            Some(name) => Some(
                s.covariate_value(name)
                    .ok_or_else(|| Error::CovariateMissing {
                        subject: s.id().to_owned(),
                        covariate: name.clone(),
                    })?
                    .to_string(),
            ),
        };
        let zero = vec![0.0; fitted.n_random()];
        let preds = if opts.prediction_corrected {
            fitted.predictions(ds, &zero)?
        } else {
            Vec::new()
        };
        for (k, o) in s.observations().iter().enumerate() {
            if o.analyte != analyte || o.mdv {
                continue;
            }
            let pred = preds
                .iter()
                .find(|p| p.observation == k)
                .map_or(1.0, |p| p.prediction);
            found.push(Found {
                subject: i,
                observation: k,
                time: o.time,
                stratum: stratum.clone(),
                pred,
            });
        }
    }
    Ok(found)
}

/// A time bin: `[start, end)`, or `[start, end]` when closed.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bin {
    start: f64,
    end: f64,
    closed: bool,
}

impl Bin {
    fn contains(&self, t: f64) -> bool {
        t >= self.start && (t < self.end || (self.closed && t <= self.end))
    }
}

/// The bins for observation times `times` (not empty).
fn bins(times: &[f64], binning: &Binning) -> Vec<Bin> {
    let mut distinct = times.to_vec();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let last = distinct[distinct.len() - 1];
    let consecutive = |cuts: &[f64], end: f64| -> Vec<Bin> {
        let mut out: Vec<Bin> = cuts
            .windows(2)
            .map(|w| Bin {
                start: w[0],
                end: w[1],
                closed: false,
            })
            .collect();
        if let Some(&c) = cuts.last() {
            out.push(Bin {
                start: c,
                end,
                closed: true,
            });
        }
        out
    };
    match binning {
        Binning::Nominal => distinct
            .iter()
            .map(|&t| Bin {
                start: t,
                end: t,
                closed: true,
            })
            .collect(),
        Binning::Edges(e) => {
            let mut out = consecutive(&e[..e.len() - 1], e[e.len() - 1]);
            // the last edge closes the last bin
            out.retain(|b| b.start < b.end);
            out
        }
        Binning::Quantiles(k) => {
            let mut sorted = times.to_vec();
            sorted.sort_by(f64::total_cmp);
            let mut cuts = vec![sorted[0]];
            for j in 1..*k {
                let t = sorted[(j * sorted.len()) / k];
                if t > cuts[cuts.len() - 1] {
                    cuts.push(t);
                }
            }
            consecutive(&cuts, last)
        }
    }
}

impl Vpc {
    /// Writes the VPC as CSV, one row per bin and percentile:
    /// `stratum,start,end,time,n,q,observed,observed_blq,sim_lower,sim_median,sim_upper,
    /// sim_lower_blq,sim_median_blq,sim_upper_blq,obs_blq_fraction,sim_blq_lower,
    /// sim_blq_median,sim_blq_upper` — numbers, with an empty field and its `_blq` flag 1
    /// where a percentile is below the LLOQ.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Csv`] when writing fails.
    pub fn write_csv<W: Write>(&self, writer: W) -> Result<()> {
        let mut w = csv::Writer::from_writer(writer);
        w.write_record([
            "stratum",
            "start",
            "end",
            "time",
            "n",
            "q",
            "observed",
            "observed_blq",
            "sim_lower",
            "sim_median",
            "sim_upper",
            "sim_lower_blq",
            "sim_median_blq",
            "sim_upper_blq",
            "obs_blq_fraction",
            "sim_blq_lower",
            "sim_blq_median",
            "sim_blq_upper",
        ])?;
        let num = |r: Reported| r.value().map_or_else(String::new, |v| v.to_string());
        let flag = |r: Reported| u8::from(r.value().is_none()).to_string();
        for b in &self.bins {
            for p in &b.percentiles {
                let s = p.simulated;
                w.write_record([
                    b.stratum.clone().unwrap_or_default(),
                    b.start.to_string(),
                    b.end.to_string(),
                    b.time.to_string(),
                    b.n.to_string(),
                    p.q.to_string(),
                    num(p.observed),
                    flag(p.observed),
                    num(s.lower),
                    num(s.median),
                    num(s.upper),
                    flag(s.lower),
                    flag(s.median),
                    flag(s.upper),
                    b.observed_blq_fraction.to_string(),
                    b.simulated_blq_fraction[0].to_string(),
                    b.simulated_blq_fraction[1].to_string(),
                    b.simulated_blq_fraction[2].to_string(),
                ])?;
            }
        }
        w.flush()?;
        Ok(())
    }
}
