//! Population (FOCE-I) fit of the classic Theophylline data with a user-defined model:
//! one compartment with first-order absorption (`examples/user_model.rs`), log ke, log ka,
//! log CL, between-subject variability on ka and CL (diagonal Ω), additive residual error
//! -- the model of Pinheiro & Bates (2000), `fm3Theo.nlme`.
//!
//! Run: `cargo run --release --example population_fit [data.csv]` (default
//! `data/theoph_nonmem.csv`; doses in mg/kg into `depot`, `concentration` in mg/L, hours).

#[path = "user_model.rs"]
mod user_model;

use cart_pkpd::data::CsvOptions;
use cart_pkpd::nlme::{
    EvaluateAt, PopulationOptions, PopulationSpec, QuadratureOptions, fit_population,
    marginal_likelihood,
};
use cart_pkpd::{Dataset, ErrorModel};
use user_model::{OneCompartmentOral, OneCompartmentParams};

/// Runs the example; an error is printed as its message.
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> cart_pkpd::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "data/theoph_nonmem.csv".into());
    let data = Dataset::read_csv(&path, &CsvOptions::for_model(&OneCompartmentOral))?;
    let spec = PopulationSpec::new(OneCompartmentParams::new(1.5, 0.08, 0.04)?)
        .estimate(&["ka", "ke", "cl"])
        .random_diagonal(&[("ka", 0.3), ("cl", 0.1)])
        .residual("concentration", ErrorModel::Additive { sd: 1.0 });
    let start = std::time::Instant::now();
    let fit = fit_population(
        &OneCompartmentOral,
        &data,
        &spec,
        &PopulationOptions::default(),
    )?;
    println!("{fit}");
    println!("(fitted in {:.2} s)", start.elapsed().as_secs_f64());
    println!("\nlog-scale typical values (as nlme reports them):");
    for e in &fit.theta {
        println!("  l{:<4} {:>10.6}", e.name, e.value.ln());
    }
    println!(
        "random-effect SDs: {}",
        fit.omega
            .iter()
            .map(|o| format!("{} {:.5}", o.name, o.value.sqrt()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("log-likelihood: {:.4}", -fit.minus_two_ll / 2.0);
    // FOCE-I's objective is an approximation: the exact one at the same estimates, by
    // adaptive Gauss–Hermite quadrature
    let exact = marginal_likelihood(
        &OneCompartmentOral,
        &data,
        &spec,
        EvaluateAt::Estimates(&fit),
        &QuadratureOptions {
            nodes: 25,
            ..QuadratureOptions::default()
        },
    )?;
    println!(
        "-2LL at the estimates: FOCE-I {:.4}, exact (adaptive Gauss-Hermite, 25 nodes) {:.4}",
        fit.minus_two_ll, exact.minus_two_ll
    );
    Ok(())
}
