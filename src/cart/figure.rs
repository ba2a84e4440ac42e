//! The numbers behind Figure 2 of the trial report: per dose level, the observed and model
//! median profiles of transgene and B cells, and the B-cell phenotype composition per
//! visit. Drawn by [`Figure2::svg`] (feature `plots`); written as CSV by
//! [`Figure2::table_csv`].

use super::{B_CELLS, Composition, TRANSGENE, observed_composition, simulated_composition};
use crate::data::Subject;
use crate::error::{Error, Result};
use crate::simulate::Simulation;
use crate::summary::{Reported, TimeSummary, summarize_observations, summarize_simulations};
use std::fmt::Write as _;

/// One analyte's profiles for one dose level.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyteProfiles {
    /// Observed medians and band quantiles per visit (values below the LLOQ counted as
    /// such).
    pub observed: Vec<TimeSummary>,
    /// Model medians and band quantiles per output time, with simulated values below the
    /// LLOQ counted as such (as the observed ones are): what a report tabulates.
    pub model: Vec<TimeSummary>,
    /// The same without the LLOQ: what the figure draws (lines below the LLOQ).
    pub model_uncensored: Vec<TimeSummary>,
}

/// A visit and the number of subjects sampled at it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VisitCount {
    /// Time (days).
    pub time: f64,
    /// Subjects with a B-cell sample at that visit.
    pub sampled: usize,
    /// Of which quantified (at or above the LLOQ).
    pub quantified: usize,
}

/// One dose level of Figure 2.
#[derive(Debug, Clone, PartialEq)]
pub struct DoseLevelFigure {
    /// Short label, e.g. `"DL1"`.
    pub label: String,
    /// Description, e.g. `"10 x 10^6 CAR+ T cells, n = 13"`.
    pub description: String,
    /// Transgene (copies/µg genomic DNA).
    pub transgene: AnalyteProfiles,
    /// CD19+ B cells (cells/µL).
    pub b_cells: AnalyteProfiles,
    /// Observed pooled phenotype composition per visit with quantifiable B cells.
    pub composition: Vec<Composition>,
    /// Simulated pooled composition per output time.
    pub model_composition: Vec<Composition>,
    /// Every B-cell visit of the level, with the subjects sampled and quantified.
    pub b_cell_visits: Vec<VisitCount>,
}

/// Figure 2: per dose level, (A) transgene and (B) B-cell median profiles, observed and
/// model, and (C) the B-cell phenotype composition.
///
/// ```
/// use cart_pkpd::cart::Figure2;
/// use cart_pkpd::models::{CarTBCell, CarTBCellParams};
/// use cart_pkpd::{simulate, Dose, SolverOptions, Subject};
/// let s = Subject::builder("1").dose_event(Dose::infusion(0.0, 10.0, 240.0))
///     .observe(7.0, "transgene", 2000.0).observe_censored(7.0, "b_cells", 1.0).build()?;
/// let sim = simulate(&CarTBCell, &CarTBCellParams::default(), s.doses(), &[0.0, 7.0, 28.0],
///                    &SolverOptions::default())?;
/// let mut figure = Figure2::new(5.0, 1.0, [0.05, 0.95])?;
/// figure.add_level("DL1", "10 x 10^6 CAR+ T cells, n = 1", &[&s], &[sim])?;
/// assert_eq!(figure.levels[0].b_cells.observed[0].n_below_lloq, 1);
/// assert!(figure.table_csv().starts_with("dose_level,analyte,day,source,n,n_below_lloq,median,p05,p95"));
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Figure2 {
    /// Dose levels in order.
    pub levels: Vec<DoseLevelFigure>,
    /// Transgene LLOQ (copies/µg).
    pub transgene_lloq: f64,
    /// B-cell LLOQ (cells/µL).
    pub b_cell_lloq: f64,
    /// The band's quantiles, e.g. `[0.05, 0.95]`.
    pub band: [f64; 2],
}

impl Figure2 {
    /// An empty figure with the assays' LLOQs and the band's quantiles.
    ///
    /// # Errors
    /// [`Error::InvalidQuantile`] unless `0 ≤ band[0] < band[1] ≤ 1`;
    /// [`Error::InvalidProfile`] for an LLOQ that is not positive and finite.
    pub fn new(transgene_lloq: f64, b_cell_lloq: f64, band: [f64; 2]) -> Result<Self> {
        if !((0.0..=1.0).contains(&band[0]) && band[0] < band[1] && band[1] <= 1.0) {
            return Err(Error::InvalidQuantile {
                q: band[1],
                n: 0,
                reason: format!("the band {band:?} needs 0 <= lower < upper <= 1"),
            });
        }
        for (name, v) in [
            ("transgene LLOQ", transgene_lloq),
            ("B-cell LLOQ", b_cell_lloq),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::InvalidProfile {
                    reason: format!("the {name} must be positive and finite, got {v}"),
                });
            }
        }
        Ok(Self {
            levels: Vec::new(),
            transgene_lloq,
            b_cell_lloq,
            band,
        })
    }

    /// Adds a dose level: summarises its `subjects`' data and the simulations `sims` of
    /// its virtual subjects (all on the same output times).
    ///
    /// # Errors
    /// [`Error::UnknownAnalyte`] when the simulations lack `transgene`, `b_cells` or the
    /// phenotype counts; [`Error::InvalidTimes`] when their output times differ.
    pub fn add_level(
        &mut self,
        label: &str,
        description: &str,
        subjects: &[&Subject],
        sims: &[Simulation],
    ) -> Result<&DoseLevelFigure> {
        let profiles = |analyte: &str, lloq: f64| -> Result<AnalyteProfiles> {
            Ok(AnalyteProfiles {
                observed: summarize_observations(subjects, analyte, &self.band)?,
                model: summarize_simulations(sims, analyte, &self.band, Some(lloq))?,
                model_uncensored: summarize_simulations(sims, analyte, &self.band, None)?,
            })
        };
        let level = DoseLevelFigure {
            label: label.into(),
            description: description.into(),
            transgene: profiles(TRANSGENE, self.transgene_lloq)?,
            b_cells: profiles(B_CELLS, self.b_cell_lloq)?,
            composition: observed_composition(subjects),
            model_composition: simulated_composition(sims, self.b_cell_lloq)?,
            b_cell_visits: b_cell_visits(subjects),
        };
        self.levels.push(level);
        Ok(self.levels.last().expect("just pushed"))
    }

    /// The medians and bands behind the figure as CSV: one row per dose level, analyte,
    /// time and source (`observed` or `model`), with `n`, `n_below_lloq`, the median and
    /// band quantiles (columns named by percentile, e.g. `p05`, `p95`; empty when below
    /// the LLOQ) and a 0/1 flag per value for "below the LLOQ". Numeric columns hold
    /// numbers only.
    pub fn table_csv(&self) -> String {
        let [lo, hi] = self.band.map(percentile_name);
        let mut csv = format!(
            "dose_level,analyte,day,source,n,n_below_lloq,median,{lo},{hi},median_blq,{lo}_blq,\
             {hi}_blq\n"
        );
        let num = |r: &Reported| r.value().map_or_else(String::new, |v| v.to_string());
        let blq = |r: &Reported| u8::from(r.value().is_none());
        for level in &self.levels {
            for (analyte, p) in [(TRANSGENE, &level.transgene), (B_CELLS, &level.b_cells)] {
                for (source, rows) in [("observed", &p.observed), ("model", &p.model)] {
                    for r in rows {
                        let (lo, hi) = (&r.quantiles[0].1, &r.quantiles[1].1);
                        // writing to a String cannot fail
                        let _ = writeln!(
                            csv,
                            "{},{analyte},{},{source},{},{},{},{},{},{},{},{}",
                            level.label,
                            r.time,
                            r.n,
                            r.n_below_lloq,
                            num(&r.median),
                            num(lo),
                            num(hi),
                            blq(&r.median),
                            blq(lo),
                            blq(hi)
                        );
                    }
                }
            }
        }
        csv
    }
}

/// `p05` for 0.05, `p2.5` for 0.025.
fn percentile_name(q: f64) -> String {
    let p = 100.0 * q;
    if p.fract() == 0.0 {
        format!("p{p:02.0}")
    } else {
        format!("p{p}")
    }
}

/// Every B-cell visit of `subjects` with the number sampled.
fn b_cell_visits(subjects: &[&Subject]) -> Vec<VisitCount> {
    let mut visits: Vec<VisitCount> = Vec::new();
    for s in subjects {
        let mut samples: Vec<(f64, bool)> = s
            .observations_of(B_CELLS)
            .filter(|o| !o.mdv)
            .map(|o| (o.time, !(o.censored || o.lloq.is_some_and(|l| o.value < l))))
            .collect();
        samples.dedup_by(|a, b| a.0 == b.0);
        for (time, quantified) in samples {
            let visit = match visits.iter_mut().find(|v| v.time == time) {
                Some(v) => v,
                None => {
                    visits.push(VisitCount {
                        time,
                        sampled: 0,
                        quantified: 0,
                    });
                    visits.last_mut().expect("just pushed")
                }
            };
            visit.sampled += 1;
            visit.quantified += usize::from(quantified);
        }
    }
    visits.sort_by(|a, b| a.time.total_cmp(&b.time));
    visits
}
