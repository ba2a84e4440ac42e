//! Writes the simulated data files in `data/` (see `data/README.md`):
//!
//! - `data/cohort.csv`: a 19-subject cohort with the BMS-986353 SLE phase 1 design
//!   (`cart::bms986353_sle_design()`), individual parameters drawn from
//!   `CarTBCellParams::default()` with the between-subject variability below; seed 2025.
//! - `data/example_subject.csv`: one subject at dose level 1 with the typical parameters,
//!   transgene, B cells and naive B cells; seed 2025.
//! - `data/theoph_nonmem.csv`: the classic Theophylline data (`data/theoph.csv`, 12
//!   subjects, oral dose in mg/kg, concentration in mg/L, time in h) in the library's
//!   format: a dose into `depot` at time 0, `concentration` observations, covariate `WT`.
//! - `data/pk_events.csv`: 24 simulated subjects of a one-compartment oral drug given at
//!   steady state, then by IV infusion, with a lag time, incomplete bioavailability and a
//!   time-varying covariate (see `data/README.md`); seed 2026.
//!
//! Run: `cargo run --release --example make_data`

use cart_pkpd::cart::{TRIAL_B_CELL_DAYS, bms986353_sle_design, trial_design};
use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::population::PopulationModel;
use cart_pkpd::synthetic::{Sampling, simulate_cohort_dataset, simulate_subject};
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

/// Runs the example; an error is printed as its message.
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> cart_pkpd::Result<()> {
    let opts = SolverOptions::accurate();
    let population =
        PopulationModel::<CarTBCell>::diagonal(CarTBCellParams::default(), &COHORT_BSV)?;
    let cohort = simulate_cohort_dataset(
        &CarTBCell,
        &population,
        &bms986353_sle_design(),
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

    pk_events()?.write_csv("data/pk_events.csv")?;
    println!("wrote data/pk_events.csv");
    Ok(())
}

/// Sampling times (h) of `data/pk_events.csv`: a steady-state trough at the first dose,
/// the first interval, troughs, and around the IV infusion at 72 h.
const PK_TIMES: [f64; 14] = [
    0.0, 0.75, 1.5, 3.0, 6.0, 11.9, 35.9, 59.9, 72.5, 74.0, 76.0, 80.0, 88.0, 96.0,
];

/// The subjects of `data/pk_events.csv` (truth in `data/README.md`).
fn pk_events() -> cart_pkpd::Result<Dataset> {
    use cart_pkpd::data::{CovariateInterpolation, Record};
    use cart_pkpd::models::pk::{OneCmtOral, OneCmtOralParams};
    use cart_pkpd::{Parameters, Subject, simulate_subject_with};
    use rand_distr::{Distribution, Normal};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let z = Normal::new(0.0, 1.0).expect("unit normal");
    let typical =
        OneCmtOralParams::new(1.2, 5.0, 50.0)?.with_all(&[("f1", 0.7), ("alag1", 0.5)])?;
    let mut subjects = Vec::new();
    for i in 0..24 {
        let sex = if i % 2 == 0 { "F" } else { "M" };
        let crcl0 = 100.0 * f64::exp(0.2 * z.sample(&mut rng));
        let crcl1 = crcl0 * if i % 3 == 0 { 0.5 } else { 1.0 };
        let eta: [f64; 3] = [0.4, 0.3, 0.2].map(|sd: f64| sd * z.sample(&mut rng));
        // 100 mg orally every 12 h at steady state (6 doses from 0 h), then 200 mg IV
        // into the central compartment over 2 h at 72 h; renal function changes at 48 h
        let records = |values: &[f64]| {
            let mut b = Subject::builder(format!("{}", i + 1))
                .covariate("CRCL", crcl0)
                .covariate("SEX", sex);
            // the trough at 0 h follows the steady-state record: the dose itself enters at
            // the lag time
            b = b.dose_event(Dose::bolus(0.0, 100.0).repeat(5, 12.0).steady_state());
            for (&t, &y) in PK_TIMES.iter().zip(values) {
                if t > 48.0 && t < 60.0 {
                    b = b.covariate_at(48.0, "CRCL", crcl1);
                }
                if t > 72.0 && t < 73.0 {
                    b = b.dose_event(Dose::infusion(72.0, 200.0, 100.0).into_cmt(2));
                }
                b = b.observe(t, "cp", y);
            }
            b.build()
        };
        let design = records(&[1.0; PK_TIMES.len()])?;
        let crcl = design.covariate_series("CRCL").expect("set above").clone();
        let sim = simulate_subject_with(
            &OneCmtOral,
            &design,
            &SolverOptions::default(),
            CovariateInterpolation::Locf,
            |k, _| {
                let renal = crcl.at(k).as_number().unwrap_or(100.0) / 100.0;
                let v_sex = if sex == "F" { 0.85 } else { 1.0 };
                typical.with_all(&[
                    ("ka", 1.2 * eta[0].exp()),
                    ("cl", 5.0 * renal.powf(0.75) * eta[1].exp()),
                    ("v", 50.0 * v_sex * eta[2].exp()),
                ])
            },
        )?;
        let cp = sim.get("cp")?;
        let values: Vec<f64> = design
            .records()
            .zip(cp)
            .filter(|(r, _)| matches!(r, Record::Observation(_)))
            .map(|(_, c)| c * (1.0 + 0.1 * z.sample(&mut rng)))
            .collect();
        subjects.push(records(&values)?);
    }
    Dataset::new(subjects)
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
