//! Fits model 2 (CAR-T × B cells) to one subject's transgene and flow-cytometry data and
//! prints the estimates with SE, 95% CI and OFV, then the per-observation diagnostics.
//!
//! Run: `cargo run --release --example fit_subject [data.csv [subject-id]]`
//! (default: `data/example_subject.csv`, its first subject). The CSV is the library's
//! NONMEM-style format (`cart_pkpd::data::csv_format`); every analyte observed gets a
//! log-additive residual error model whose SD is estimated.

use cart_pkpd::data::CsvOptions;
use cart_pkpd::fit::{FitOptions, FitSpec, fit_subject};
use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::{Dataset, Error, ErrorModel};

/// Runs the example; an error is printed as its message.
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "data/example_subject.csv".into());
    let data = Dataset::read_csv(&path, &CsvOptions::for_model(&CarTBCell))?;
    let subject = match args.next() {
        Some(id) => data.subject(&id).ok_or_else(|| Error::InvalidFitOptions {
            reason: format!("no subject `{id}` in {path}"),
        })?,
        None => &data.subjects()[0],
    };
    let mut spec =
        FitSpec::new(CarTBCellParams::default()).estimate(&["rho", "alpha", "beta", "kmax", "kp"]);
    for analyte in data.analytes() {
        if subject.observations_of(analyte).next().is_some() {
            spec = spec.residual(analyte, ErrorModel::LogAdditive { sd: 0.3 });
        }
    }
    let fit = fit_subject(&CarTBCell, subject, &spec, &FitOptions::default())?;
    println!("{fit}");
    println!(
        "{:>6} {:<10} {:>12} {:>12} {:>8}  censored",
        "day", "analyte", "observed", "IPRED", "IWRES"
    );
    for p in &fit.predictions {
        // a censored value's IWRES is only a bound: show "-"
        let iwres = if p.censored {
            "-".to_owned()
        } else {
            format!("{:.3}", p.iwres)
        };
        let blq = if p.censored { "BLQ" } else { "" };
        println!(
            "{:>6} {:<10} {:>12.4} {:>12.4} {:>8}  {blq}",
            p.time, p.analyte, p.observed, p.ipred, iwres
        );
    }
    Ok(())
}
