//! Reads a NONMEM-format data set and fits it by FOCE-I with a built-in PK model.
//!
//! `data/pk_events.csv` (simulated, see `data/README.md`) has what real data sets bring:
//! oral doses at steady state with additional doses (`SS`, `ADDL`, `II`), an IV infusion
//! into the central compartment (`CMT` 2, `RATE`), an absorption lag, a covariate that
//! changes within subjects (`CRCL`, on an `EVID = 2` record) and a text covariate (`SEX`).
//! The model is the built-in one-compartment oral model (NONMEM ADVAN2), solved exactly;
//! bioavailability `f1` and lag `alag1` are estimated like any other parameter (the IV
//! infusion makes `f1` identifiable).
//!
//! Run: `cargo run --release --example nonmem_fit [data.csv]`

use cart_pkpd::data::{CovariateValue, CsvOptions};
use cart_pkpd::models::pk::{OneCmtOral, OneCmtOralParams};
use cart_pkpd::nlme::{CovariateModel, PopulationOptions, PopulationSpec, fit_population};
use cart_pkpd::{Dataset, ErrorModel, Parameters};

/// The values `data/pk_events.csv` was simulated with.
const TRUTH: [(&str, f64); 7] = [
    ("ka", 1.2),
    ("cl", 5.0),
    ("v", 50.0),
    ("f1", 0.7),
    ("alag1", 0.5),
    ("cl~(CRCL/100)^b", 0.75),
    ("v~SEX==F", -0.1625), // ln 0.85
];

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> cart_pkpd::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "data/pk_events.csv".into());
    let data = Dataset::read_csv(&path, &CsvOptions::for_model(&OneCmtOral))?;
    let (doses, records): (usize, usize) = data
        .subjects()
        .iter()
        .map(|s| (s.doses().len(), s.n_records()))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    println!(
        "{path}: {} subjects, {records} records ({doses} dose records)",
        data.subjects().len()
    );
    let initial =
        OneCmtOralParams::new(1.0, 4.0, 40.0)?.with_all(&[("f1", 0.5), ("alag1", 0.3)])?;
    let spec = PopulationSpec::new(initial)
        .estimate(&["ka", "cl", "v", "f1", "alag1"])
        .random_diagonal(&[("ka", 0.1), ("cl", 0.1), ("v", 0.1)])
        .covariate(CovariateModel::Power {
            parameter: "cl".into(),
            covariate: "CRCL".into(),
            reference: 100.0,
        })
        .covariate(CovariateModel::Categorical {
            parameter: "v".into(),
            covariate: "SEX".into(),
            level: CovariateValue::from("F"),
        })
        .residual("cp", ErrorModel::Proportional { cv: 0.2 });
    let start = std::time::Instant::now();
    let fit = fit_population(&OneCmtOral, &data, &spec, &PopulationOptions::default())?;
    println!("{fit}");
    println!("(fitted in {:.2} s)\n", start.elapsed().as_secs_f64());
    println!(
        "{:<18} {:>10} {:>10} {:>10}",
        "parameter", "truth", "estimate", "z"
    );
    for (name, truth) in TRUTH {
        let Some(e) = fit.theta.iter().find(|e| e.name == name) else {
            continue;
        };
        let z = e.se.map_or(f64::NAN, |se| (e.value - truth) / se);
        println!("{name:<18} {truth:>10.4} {:>10.4} {z:>10.2}", e.value);
    }
    Ok(())
}
