//! Writes the simulated data files in `data/` (see `data/README.md`):
//!
//! - `data/cohort.csv`: a 19-subject cohort with the BMS-986353 SLE phase 1 design
//!   (`CohortDesign::bms986353_sle()`), individual parameters drawn from
//!   `CarTBCellParams::default()` with the between-subject variability below; seed 2025.
//! - `data/example_subject.csv`: one subject at dose level 1 with the typical parameters,
//!   transgene, B cells and naive B cells; seed 2025.
//! - `data/theoph_nonmem.csv`: the classic Theophylline data (`data/theoph.csv`, 12
//!   subjects, oral dose in mg/kg, concentration in mg/L, time in h) in the library's
//!   format: a dose into `depot` at time 0, `concentration` observations, covariate `WT`.
//!
//! Run: `cargo run --release --example make_data`

use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::population::PopulationModel;
use cart_pkpd::synthetic::{
    CohortDesign, Sampling, TRIAL_B_CELL_DAYS, simulate_cohort_dataset, simulate_subject,
    trial_design,
};
use cart_pkpd::{Dataset, Dose, ErrorModel, SolverOptions};
use rand::SeedableRng;

/// Between-subject variability of the simulated cohort: variances of ln(parameter).
pub const COHORT_BSV: [(&str, f64); 7] = [
    ("rho", 0.01),
    ("gamma", 0.25),
    ("alpha", 0.09),
    ("beta", 0.09),
    ("kmax", 0.09),
    ("kp", 0.09),
    ("b0", 0.3),
];

fn main() -> cart_pkpd::Result<()> {
    let opts = SolverOptions::accurate();
    let population =
        PopulationModel::<CarTBCell>::diagonal(CarTBCellParams::default(), &COHORT_BSV)?;
    let cohort = simulate_cohort_dataset(
        &CarTBCell,
        &population,
        &CohortDesign::bms986353_sle(),
        &opts,
        2025,
    )?;
    cohort.write_csv("data/cohort.csv")?;
    println!(
        "wrote data/cohort.csv ({} subjects)",
        cohort.subjects().len()
    );

    let mut design = trial_design();
    design.push(Sampling::new(
        "naive_b",
        &TRIAL_B_CELL_DAYS,
        ErrorModel::LogAdditive { sd: 0.3 },
        Some(1.0),
    ));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2025);
    let subject = simulate_subject(
        &CarTBCell,
        &CarTBCellParams::default(),
        "SIM-DL1-01",
        &[Dose::bolus(0.0, 10.0)],
        &design,
        &opts,
        &mut rng,
    )?;
    Dataset::new(vec![subject])?.write_csv("data/example_subject.csv")?;
    println!("wrote data/example_subject.csv");

    theophylline()?.write_csv("data/theoph_nonmem.csv")?;
    println!("wrote data/theoph_nonmem.csv");
    Ok(())
}

/// Reads `data/theoph.csv` (columns Subject, Wt, Dose, Time, conc) into a data set.
fn theophylline() -> cart_pkpd::Result<Dataset> {
    let mut reader = csv::Reader::from_path("data/theoph.csv")?;
    let mut subjects: Vec<(String, cart_pkpd::data::SubjectBuilder)> = Vec::new();
    for row in reader.records() {
        let row = row?;
        let num = |i: usize| row[i].parse::<f64>().expect("theoph.csv holds numbers");
        let id = row[0].to_owned();
        if subjects.last().is_none_or(|(last, _)| *last != id) {
            let builder = cart_pkpd::Subject::builder(&id)
                .covariate("WT", num(1))
                .dose_event(Dose::bolus(0.0, num(2)).into_state("depot"));
            subjects.push((id, builder));
        }
        let (_, builder) = subjects.pop().expect("pushed above");
        subjects.push((
            row[0].to_owned(),
            builder.observe(num(3), "concentration", num(4)),
        ));
    }
    Dataset::new(
        subjects
            .into_iter()
            .map(|(_, b)| b.build())
            .collect::<cart_pkpd::Result<Vec<_>>>()?,
    )
}
