//! Evaluating a population fit as a pharmacometrician does: model 2 fitted by FOCE-I to the
//! simulated trial cohort (`data/cohort.csv`), then a VPC and a prediction-corrected VPC of
//! each analyte (stratified by dose level, below-LLOQ data in place, with the censored
//! panel), the NPDE with their tests, goodness-of-fit panels, and the NONMEM-style tables.
//!
//! Writes `out/vpc.svg` (transgene), `out/vpc_b_cells.svg`, `out/pcvpc.svg`,
//! `out/npde.svg`, `out/gof.svg`, `out/individual.svg`, `out/eta.svg`, `out/vpc.csv`,
//! `out/npde.csv`, `out/sdtab.csv` and `out/patab.csv`.
//!
//! Run: `cargo run --release --example diagnostics [data.csv]`

use cart_pkpd::data::CsvOptions;
use cart_pkpd::diagnostics::{
    Binning, NpdeOptions, VpcOptions, npde, vpc, write_patab, write_sdtab,
};
use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::nlme::{FittedModel, PopulationOptions, PopulationSpec, fit_population};
use cart_pkpd::plots::{VpcLabels, eta_svg, gof_svg, individual_fits_svg, npde_svg, vpc_svg};
use cart_pkpd::{Dataset, ErrorModel, SolverOptions};
use std::error::Error;
use std::fs::File;

/// Typical values estimated (the rest stay at the calibrated defaults).
const ESTIMATED: [&str; 5] = ["gamma", "rho", "alpha", "beta", "kmax"];

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "data/cohort.csv".into());
    let data = Dataset::read_csv(&path, &CsvOptions::for_model(&CarTBCell))?;
    let spec = PopulationSpec::new(CarTBCellParams::default())
        .estimate(&ESTIMATED)
        .random_diagonal(&[("gamma", 0.2), ("alpha", 0.1), ("kmax", 0.1)])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.4 })
        .residual("b_cells", ErrorModel::LogAdditive { sd: 0.3 })
        .ignore(&["naive_b", "memory_b", "dn_b"]);
    let fit = fit_population(&CarTBCell, &data, &spec, &PopulationOptions::default())?;
    println!("{fit}");
    let model = FittedModel::new(&CarTBCell, &spec, &fit, SolverOptions::default())?;
    std::fs::create_dir_all("out")?;

    let days = "Time after infusion (d)";
    let visits = Binning::Edges(vec![
        0.0, 3.0, 8.0, 12.0, 20.0, 40.0, 75.0, 135.0, 225.0, 320.0, 500.0,
    ]);
    let by_dose = VpcOptions {
        binning: visits,
        stratify: Some("DL".into()),
        replicates: 500,
        seed: 2026,
        ..VpcOptions::default()
    };
    let transgene = VpcLabels {
        x: days.into(),
        y: "Transgene (copies/µg)".into(),
        log_y: true,
    };
    let v = vpc(&model, &data, "transgene", &by_dose)?;
    std::fs::write("out/vpc.svg", vpc_svg(&v, &transgene)?)?;
    v.write_csv(File::create("out/vpc.csv")?)?;
    let b_cells = VpcLabels {
        x: days.into(),
        y: "CD19+ B cells (cells/µL)".into(),
        log_y: true,
    };
    let v = vpc(&model, &data, "b_cells", &by_dose)?;
    std::fs::write("out/vpc_b_cells.svg", vpc_svg(&v, &b_cells)?)?;
    let corrected = VpcOptions {
        prediction_corrected: true,
        stratify: None,
        ..by_dose.clone()
    };
    let v = vpc(&model, &data, "transgene", &corrected)?;
    std::fs::write("out/pcvpc.svg", vpc_svg(&v, &transgene)?)?;

    let n = npde(
        &model,
        &data,
        &NpdeOptions {
            replicates: 1000,
            seed: 2026,
        },
    )?;
    let s = &n.summary;
    println!(
        "NPDE (n = {}): mean {:.3} (p {:.3}), variance {:.3} (p {:.3}), Shapiro-Wilk p {}, global p {:.3}",
        s.n,
        s.mean,
        s.mean_p_value,
        s.variance,
        s.variance_p_value,
        s.normality_p_value
            .map_or_else(|| "-".into(), |p| format!("{p:.3}")),
        s.global_p_value
    );
    std::fs::write("out/npde.svg", npde_svg(&n, days)?)?;
    n.write_csv(File::create("out/npde.csv")?)?;
    std::fs::write(
        "out/gof.svg",
        gof_svg(&fit, "transgene", "copies/µg", days, true)?,
    )?;
    std::fs::write(
        "out/individual.svg",
        individual_fits_svg(&fit, "transgene", "copies/µg", days, true, 12)?,
    )?;
    std::fs::write("out/eta.svg", eta_svg(&fit, &data, &["DL"])?)?;
    write_sdtab(&fit, Some(&n), File::create("out/sdtab.csv")?)?;
    write_patab(&fit, File::create("out/patab.csv")?)?;
    println!(
        "wrote out/vpc.svg, out/vpc_b_cells.svg, out/pcvpc.svg, out/npde.svg, out/gof.svg, \
         out/individual.svg, out/eta.svg, out/vpc.csv, out/npde.csv, out/sdtab.csv, \
         out/patab.csv"
    );
    Ok(())
}
