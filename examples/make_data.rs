//! Writes the simulated data files in `data/` (see `data/README.md`):
//!
//! - `data/cohort.csv`: a 19-subject cohort with the BMS-986353 SLE phase 1 design
//!   (`CohortDesign::bms986353_sle()`), individual parameters drawn from
//!   `CarTBCellParams::default()` with the between-subject variability below; seed 2025.
//! - `data/example_subject.csv`: one subject at dose level 1 with the typical parameters,
//!   transgene, B cells and naive B cells; seed 2025.
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
    Ok(())
}
