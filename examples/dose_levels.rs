//! Simulates the CAR-T × B-cell model (model 2) at the trial's two dose levels and prints
//! the profiles at the visit days and the milestones of each dose level.
//!
//! Run: `cargo run --release --example dose_levels`

use cart_pkpd::cart::TRIAL_TRANSGENE_DAYS as VISITS;
use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::{Dose, SolverOptions, nca, simulate};

/// B-cell LLOQ of a high-sensitivity flow panel (cells/µL).
const B_CELL_LLOQ: f64 = 1.0;

/// Runs the example; an error is printed as its message.
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), cart_pkpd::Error> {
    let params = CarTBCellParams::default();
    let opts = SolverOptions::default();
    let fine: Vec<f64> = (0..=3650).map(|i| f64::from(i) * 0.1).collect();
    for (label, dose) in [("DL1", 10.0), ("DL2", 25.0)] {
        let doses = [Dose::bolus(0.0, dose)];
        let sim = simulate(&CarTBCell, &params, &doses, &VISITS, &opts)?;
        println!("{label}: {dose} x 10^6 CAR+ T cells");
        println!(
            "{:>6} {:>14} {:>12} {:>9} {:>9} {:>9}",
            "day", "transgene", "b_cells", "naive%", "memory%", "dn%"
        );
        println!(
            "{:>6} {:>14} {:>12} {:>9} {:>9} {:>9}",
            "", "copies/ug", "cells/uL", "", "", ""
        );
        let cols =
            ["transgene", "b_cells", "naive_pct", "memory_pct", "dn_pct"].map(|a| sim.get(a));
        let [c, b, n, m, d] = cols.map(|c| c.expect("model 2 outputs"));
        for (i, t) in VISITS.iter().enumerate() {
            println!(
                "{t:>6} {:>14.1} {:>12.4} {:>9.1} {:>9.1} {:>9.1}",
                c[i], b[i], n[i], m[i], d[i]
            );
        }
        let dense = simulate(&CarTBCell, &params, &doses, &fine, &opts)?;
        let peak = nca::peak(&fine, dense.get("transgene")?)?;
        let b_dense = dense.get("b_cells")?;
        let depleted = nca::depletion_time(&fine, b_dense, B_CELL_LLOQ)?;
        let back = nca::reappearance_time(&fine, b_dense, B_CELL_LLOQ)?;
        let naive_m6 = simulate(&CarTBCell, &params, &doses, &[180.0], &opts)?.get("naive_pct")?[0];
        println!(
            "Tmax {:.1} d, Cmax {:.0} copies/ug, B cells < {B_CELL_LLOQ}/uL from day {}, back >= {B_CELL_LLOQ}/uL on day {}, naive {:.1}% at day 180\n",
            peak.tmax,
            peak.cmax,
            depleted.map_or("never".into(), |t| format!("{t:.1}")),
            back.map_or("never".into(), |t| format!("{t:.1}")),
            naive_m6
        );
    }
    Ok(())
}
