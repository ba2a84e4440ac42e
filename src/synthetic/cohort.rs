//! A simulated cohort with a trial's design: dose-level groups, individual parameters
//! from a population, the sampling schedule cut at each subject's follow-up, assay error and
//! LLOQ censoring, and B-cell phenotype counts drawn as a composition.

use super::{Sampling, simulate_subject};
use crate::data::{Dataset, Observation, Subject};
use crate::dose::Dose;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::population::PopulationModel;
use crate::simulate::SolverOptions;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// One dose-level group of a trial cohort.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DoseLevel {
    /// Label used in subject IDs, e.g. `"DL1"`.
    pub label: String,
    /// Dose-level number, written as the `DL` covariate.
    pub level: u32,
    /// Dose at day 0 (10^6 CAR+ T cells).
    pub dose: f64,
    /// Number of subjects.
    pub n: usize,
}

/// The design of a simulated trial cohort.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CohortDesign {
    /// Dose-level groups.
    pub dose_levels: Vec<DoseLevel>,
    /// Follow-up of each subject (days), assigned to subjects in a seeded random order;
    /// visits after a subject's follow-up are not sampled. One value per subject.
    pub follow_up_days: Vec<f64>,
    /// Sampling of the PK and total-B-cell analytes.
    pub sampling: Vec<Sampling>,
    /// When B cells are sampled and quantified, also record `naive_b`, `memory_b`, `dn_b`
    /// (cells/µL) from the model's `naive_pct`, `memory_pct`, `dn_pct`, with this SD of
    /// the additive-logistic noise on the composition (the log-ratios of memory and DN to
    /// naive each get N(0, sd²)); `None` records no phenotype.
    pub phenotype_sd: Option<f64>,
}

impl CohortDesign {
    /// The BMS-986353 SLE phase 1 design as reported (ACR Convergence 2025, abstract 1529):
    /// DL1 10 × 10^6 CAR+ T cells n = 13, DL2 25 × 10^6 n = 6; follow-up median 181 days
    /// (range 7–488), here 19 values with exactly that median and range; the sampling of
    /// [`trial_design`](super::trial_design); phenotype composition noise SD 0.3.
    ///
    /// ```
    /// let d = cart_pkpd::synthetic::CohortDesign::bms986353_sle();
    /// assert_eq!(d.dose_levels.iter().map(|g| g.n).sum::<usize>(), 19);
    /// let mut f = d.follow_up_days.clone();
    /// f.sort_by(f64::total_cmp);
    /// assert_eq!((f[0], f[9], f[18]), (7.0, 181.0, 488.0));
    /// ```
    pub fn bms986353_sle() -> Self {
        CohortDesign {
            dose_levels: vec![
                DoseLevel {
                    label: "DL1".into(),
                    level: 1,
                    dose: 10.0,
                    n: 13,
                },
                DoseLevel {
                    label: "DL2".into(),
                    level: 2,
                    dose: 25.0,
                    n: 6,
                },
            ],
            follow_up_days: vec![
                7.0, 28.0, 60.0, 90.0, 120.0, 150.0, 160.0, 170.0, 175.0, 181.0, 190.0, 200.0,
                240.0, 270.0, 300.0, 365.0, 400.0, 450.0, 488.0,
            ],
            sampling: super::trial_design(),
            phenotype_sd: Some(0.3),
        }
    }
}

/// Draws phenotype counts around the model's composition, scaled to the observed total.
fn phenotype_counts<R: Rng + ?Sized>(pct: [f64; 3], total: f64, sd: f64, rng: &mut R) -> [f64; 3] {
    let naive = pct[0].max(1e-12);
    let mut w = [1.0, 0.0, 0.0];
    for k in 1..3 {
        let z: f64 = rng.sample(StandardNormal);
        w[k] = ((pct[k].max(1e-12) / naive).ln() + sd * z).exp();
    }
    let sum: f64 = w.iter().sum();
    w.map(|x| total * x / sum)
}

/// Simulates a cohort with `design`: each subject gets parameters drawn from `population`
/// (log-/logit-normal BSV), the dose of its group, observations with assay error and LLOQ
/// censoring up to its follow-up, and (optionally) phenotype counts. Subject IDs are
/// `"{label}-{nn}"`; the `DL` covariate holds the dose level. Seeded (ChaCha8).
pub fn simulate_cohort_dataset<M: Model>(
    model: &M,
    population: &PopulationModel<M>,
    design: &CohortDesign,
    opts: &SolverOptions,
    seed: u64,
) -> Result<Dataset> {
    let n: usize = design.dose_levels.iter().map(|g| g.n).sum();
    if design.follow_up_days.len() != n {
        return Err(Error::InvalidDesign {
            reason: format!(
                "{} follow-up times for {n} subjects",
                design.follow_up_days.len()
            ),
        });
    }
    let phenotype_outputs = ["naive_pct", "memory_pct", "dn_pct"];
    if design.phenotype_sd.is_some() {
        for o in phenotype_outputs {
            model.output_index(o)?;
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut follow_up = design.follow_up_days.clone();
    follow_up.shuffle(&mut rng);
    let mut subjects = Vec::with_capacity(n);
    let mut k = 0;
    for group in &design.dose_levels {
        for j in 0..group.n {
            let params = population.individual(&population.sample_eta(&mut rng), &[])?;
            let sampling: Vec<Sampling> = design
                .sampling
                .iter()
                .map(|s| Sampling {
                    times: s
                        .times
                        .iter()
                        .copied()
                        .filter(|&t| t <= follow_up[k])
                        .collect(),
                    ..s.clone()
                })
                .collect();
            let id = format!("{}-{:02}", group.label, j + 1);
            let doses = [Dose::bolus(0.0, group.dose)];
            let base = simulate_subject(model, &params, &id, &doses, &sampling, opts, &mut rng)?;
            let mut observations = base.observations().to_vec();
            if let Some(sd) = design.phenotype_sd {
                let b_times: Vec<(f64, f64, Option<f64>)> = base
                    .observations_of("b_cells")
                    .filter(|o| !o.censored)
                    .map(|o| (o.time, o.value, o.lloq))
                    .collect();
                let times: Vec<f64> = b_times.iter().map(|b| b.0).collect();
                let sim = crate::simulate::simulate(model, &params, &doses, &times, opts)?;
                let pct = phenotype_outputs.map(|o| sim.get(o).map(<[f64]>::to_vec));
                let [naive, memory, dn] = pct;
                let (naive, memory, dn) = (naive?, memory?, dn?);
                for (i, &(t, total, lloq)) in b_times.iter().enumerate() {
                    let counts =
                        phenotype_counts([naive[i], memory[i], dn[i]], total, sd, &mut rng);
                    for (analyte, c) in ["naive_b", "memory_b", "dn_b"].iter().zip(counts) {
                        let censored = lloq.is_some_and(|l| c < l);
                        observations.push(Observation {
                            time: t,
                            analyte: (*analyte).to_owned(),
                            value: if censored { lloq.unwrap_or(c) } else { c },
                            lloq,
                            censored,
                            mdv: false,
                        });
                    }
                }
            }
            observations.sort_by(|a, b| a.time.total_cmp(&b.time));
            let mut builder = Subject::builder(&id).dose_event(doses[0].clone());
            builder = builder.covariate("DL", f64::from(group.level));
            for o in observations {
                builder = builder.observation(o);
            }
            subjects.push(builder.build()?);
            k += 1;
        }
    }
    Dataset::new(subjects)
}
