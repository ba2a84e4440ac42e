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
    /// Dose at day 0 (dose units of the model; 10^6 CAR+ T cells for the CAR-T models).
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
    /// Counts of the components of an analyte (say B-cell phenotypes) recorded wherever
    /// that analyte is quantified; `None` records none.
    pub composition: Option<CompositionSampling>,
}

/// One component of a [`CompositionSampling`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CompositionComponent {
    /// The model output giving the component's share of the total (%).
    pub share_output: String,
    /// The analyte its count is recorded as (unit of the total).
    pub analyte: String,
}

/// Counts of the components of a total, drawn around the model's composition: wherever the
/// `total` analyte is quantified, the component shares are the model's with
/// additive-logistic noise (the log-ratio of each component to the first gets
/// `N(0, sd²)`), scaled to the observed total; a count below the total's LLOQ is censored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CompositionSampling {
    /// The analyte whose observed value is split.
    pub total: String,
    /// The components, at least two.
    pub components: Vec<CompositionComponent>,
    /// SD of the log-ratio noise.
    pub sd: f64,
}

/// Draws component counts around the model's shares (%), scaled to the observed total.
fn component_counts<R: Rng + ?Sized>(pct: &[f64], total: f64, sd: f64, rng: &mut R) -> Vec<f64> {
    let first = pct[0].max(1e-12);
    let mut w = vec![1.0; pct.len()];
    for k in 1..pct.len() {
        let z: f64 = rng.sample(StandardNormal);
        w[k] = ((pct[k].max(1e-12) / first).ln() + sd * z).exp();
    }
    let sum: f64 = w.iter().sum();
    w.iter().map(|x| total * x / sum).collect()
}

/// The component counts of one subject: at each quantified observation of the total, one
/// censored-or-quantified observation per component.
fn composition_observations<M: Model, R: Rng + ?Sized>(
    model: &M,
    params: &M::Params,
    doses: &[Dose],
    base: &Subject,
    sampling: &CompositionSampling,
    opts: &SolverOptions,
    rng: &mut R,
) -> Result<Vec<Observation>> {
    let totals: Vec<&Observation> = base
        .observations_of(&sampling.total)
        .filter(|o| !o.censored)
        .collect();
    let times: Vec<f64> = totals.iter().map(|o| o.time).collect();
    let sim = crate::simulate::simulate(model, params, doses, &times, opts)?;
    let shares = sampling
        .components
        .iter()
        .map(|c| sim.get(&c.share_output))
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for (i, total) in totals.iter().enumerate() {
        let pct: Vec<f64> = shares.iter().map(|s| s[i]).collect();
        let counts = component_counts(&pct, total.value, sampling.sd, rng);
        for (c, count) in sampling.components.iter().zip(counts) {
            let censored = total.lloq.is_some_and(|l| count < l);
            out.push(Observation {
                time: total.time,
                analyte: c.analyte.clone(),
                value: if censored {
                    total.lloq.unwrap_or(count)
                } else {
                    count
                },
                lloq: total.lloq,
                censored,
                mdv: false,
            });
        }
    }
    Ok(out)
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
    if let Some(c) = &design.composition {
        if c.components.len() < 2 || !(c.sd.is_finite() && c.sd >= 0.0) {
            return Err(Error::InvalidDesign {
                reason: format!(
                    "a composition needs at least two components and a finite SD >= 0 \
                     ({} components, SD {})",
                    c.components.len(),
                    c.sd
                ),
            });
        }
        for o in &c.components {
            model.output_index(&o.share_output)?;
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
            if let Some(c) = &design.composition {
                observations.extend(composition_observations(
                    model, &params, &doses, &base, c, opts, &mut rng,
                )?);
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
