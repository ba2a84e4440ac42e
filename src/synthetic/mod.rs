//! Simulated observed data: model predictions at a sampling design, with residual error
//! drawn from the error model and values below the LLOQ censored, as an assay reports them;
//! for one subject ([`simulate_subject`]) or a whole trial-like cohort
//! ([`simulate_cohort_dataset`]). The CAR-T trial's own design is in
//! [`cart`](crate::cart).

mod cohort;

pub use cohort::{
    CohortDesign, CompositionComponent, CompositionSampling, DoseLevel, simulate_cohort_dataset,
};

use crate::data::{Observation, Subject};
use crate::dose::Dose;
use crate::error::Result;
use crate::error_model::ErrorModel;
use crate::model::Model;
use crate::simulate::{SolverOptions, simulate};
use rand::Rng;

/// How one analyte is sampled and measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sampling {
    /// Analyte (model output) name.
    pub analyte: String,
    /// Sampling times, sorted.
    pub times: Vec<f64>,
    /// Residual error of the assay.
    pub error: ErrorModel,
    /// Lower limit of quantification; a draw below it is recorded as censored at the LLOQ.
    pub lloq: Option<f64>,
}

impl Sampling {
    /// A sampling design for one analyte.
    pub fn new(analyte: &str, times: &[f64], error: ErrorModel, lloq: Option<f64>) -> Self {
        Sampling {
            analyte: analyte.to_owned(),
            times: times.to_vec(),
            error,
            lloq,
        }
    }
}

/// Simulates one subject's observed data: doses, then every analyte of `design` at its
/// times, with error drawn from `rng` and censoring at the LLOQ.
///
/// ```
/// use cart_pkpd::synthetic::{simulate_subject, Sampling};
/// use cart_pkpd::models::{CellularKinetics, CellularKineticsParams};
/// use cart_pkpd::{Dose, ErrorModel, SolverOptions};
/// use rand::SeedableRng;
///
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
/// let design = [Sampling::new("transgene", &[7.0, 28.0, 365.0],
///                             ErrorModel::LogAdditive { sd: 0.56 }, Some(20.0))];
/// let s = simulate_subject(&CellularKinetics, &CellularKineticsParams::stein_2019(), "S1",
///                          &[Dose::bolus(0.0, 10.0)], &design, &SolverOptions::default(),
///                          &mut rng)?;
/// assert_eq!(s.observations().len(), 3);
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
pub fn simulate_subject<M: Model, R: Rng + ?Sized>(
    model: &M,
    params: &M::Params,
    id: &str,
    doses: &[Dose],
    design: &[Sampling],
    opts: &SolverOptions,
    rng: &mut R,
) -> Result<Subject> {
    let mut times: Vec<f64> = design
        .iter()
        .flat_map(|d| d.times.iter().copied())
        .collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let sim = simulate(model, params, doses, &times, opts)?;
    let mut observations = Vec::new();
    for d in design {
        let pred = sim.get(&d.analyte)?;
        for &t in &d.times {
            let i = times.partition_point(|&x| x < t);
            let y = d.error.sample(pred[i], rng);
            let censored = d.lloq.is_some_and(|l| y < l);
            observations.push(Observation {
                time: t,
                analyte: d.analyte.clone(),
                value: if censored { d.lloq.unwrap_or(y) } else { y },
                lloq: d.lloq,
                censored,
                mdv: false,
            });
        }
    }
    observations.sort_by(|a, b| a.time.total_cmp(&b.time));
    let mut doses = doses.to_vec();
    doses.sort_by(|a, b| a.time.total_cmp(&b.time));
    let mut builder = Subject::builder(id);
    let (mut di, mut oi) = (doses.iter().peekable(), observations.into_iter().peekable());
    loop {
        builder = match (di.peek(), oi.peek()) {
            (Some(d), Some(o)) if d.time <= o.time => {
                builder.dose_event(di.next().cloned().expect("peeked"))
            }
            (Some(_), None) => builder.dose_event(di.next().cloned().expect("peeked")),
            (_, Some(_)) => builder.observation(oi.next().expect("peeked")),
            (None, None) => break,
        };
    }
    builder.build()
}
