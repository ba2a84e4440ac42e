//! Writes `data/example_subject.csv`: one subject simulated by the library, for the
//! `fit_subject` example. Model 2 (`CarTBCellParams::default()`), dose level 1
//! (10 × 10^6 CAR+ T cells), the trial's sampling days, log-additive residual error and
//! assay LLOQs as documented in `data/README.md`; seed 2025.
//!
//! Run: `cargo run --release --example make_example_subject`

use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::synthetic::{Sampling, TRIAL_B_CELL_DAYS, simulate_subject, trial_design};
use cart_pkpd::{Dataset, Dose, ErrorModel, SolverOptions};
use rand::SeedableRng;

fn main() -> cart_pkpd::Result<()> {
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
        &SolverOptions::accurate(),
        &mut rng,
    )?;
    let path = "data/example_subject.csv";
    Dataset::new(vec![subject])?.write_csv(path)?;
    println!("wrote {path}");
    Ok(())
}
