//! Population (FOCE-I) fit of the classic Theophylline data with a user-defined model:
//! one compartment with first-order absorption (`examples/user_model.rs`), log ke, log ka,
//! log CL, between-subject variability on ka and CL (diagonal Ω), additive residual error
//! -- the model of Pinheiro & Bates (2000), `fm3Theo.nlme`.
//!
//! Run: `cargo run --release --example population_fit [--saem] [data.csv]` (default
//! `data/theoph_nonmem.csv`; doses in mg/kg into `depot`, `concentration` in mg/L, hours).
//! With `--saem`, the model is fitted by SAEM (with its −2LL by importance sampling; its
//! convergence plot goes to `out/saem_trace.svg`), then by FOCE-I from SAEM's estimates, as
//! Monolix and NONMEM users chain the two.

#[path = "user_model.rs"]
mod user_model;

use cart_pkpd::data::CsvOptions;
use cart_pkpd::nlme::{
    EvaluateAt, PopulationFit, PopulationOptions, PopulationSpec, QuadratureOptions, SaemOptions,
    fit_population, fit_population_from, fit_population_saem, marginal_likelihood,
};
use cart_pkpd::plots::saem_trace_svg;
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let saem = args.iter().any(|a| a == "--saem");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "data/theoph_nonmem.csv".into());
    let data = Dataset::read_csv(&path, &CsvOptions::for_model(&OneCompartmentOral))?;
    let spec = PopulationSpec::new(OneCompartmentParams::new(1.5, 0.08, 0.04)?)
        .estimate(&["ka", "ke", "cl"])
        .random_diagonal(&[("ka", 0.3), ("cl", 0.1)])
        .residual("concentration", ErrorModel::Additive { sd: 1.0 });
    let start = std::time::Instant::now();
    let fit = if saem {
        let saem = fit_population_saem(&OneCompartmentOral, &data, &spec, &SaemOptions::default())?;
        println!("{}", saem.fit);
        println!(
            "(fitted in {:.2} s: {} exploration + {} smoothing iterations)",
            start.elapsed().as_secs_f64(),
            saem.exploration_iterations,
            saem.trace.len() - saem.exploration_iterations
        );
        if let Some(is) = &saem.likelihood {
            println!(
                "-2LL by importance sampling: {:.4} (Monte Carlo SE {:.4})",
                is.minus_two_ll, is.standard_error
            );
        }
        print_exact(&data, &spec, &saem.fit, "SAEM")?;
        std::fs::create_dir_all("out").map_err(|e| cart_pkpd::Error::Plot {
            reason: format!("out/: {e}"),
        })?;
        std::fs::write("out/saem_trace.svg", saem_trace_svg(&saem)?).map_err(|e| {
            cart_pkpd::Error::Plot {
                reason: format!("out/saem_trace.svg: {e}"),
            }
        })?;
        println!("wrote out/saem_trace.svg (the convergence of every parameter)");
        println!("\nFOCE-I from the SAEM estimates:");
        let opts = PopulationOptions::default();
        fit_population_from(&OneCompartmentOral, &data, &spec, &saem.fit, &opts)?
    } else {
        fit_population(
            &OneCompartmentOral,
            &data,
            &spec,
            &PopulationOptions::default(),
        )?
    };
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
    print_exact(&data, &spec, &fit, "FOCE-I")
}

/// FOCE-I's objective is an approximation: prints the exact −2LL at a fit's estimates, by
/// adaptive Gauss–Hermite quadrature, beside the fit's own.
fn print_exact(
    data: &Dataset,
    spec: &PopulationSpec<OneCompartmentOral>,
    fit: &PopulationFit,
    method: &str,
) -> cart_pkpd::Result<()> {
    let exact = marginal_likelihood(
        &OneCompartmentOral,
        data,
        spec,
        EvaluateAt::Estimates(fit),
        &QuadratureOptions {
            nodes: 25,
            ..QuadratureOptions::default()
        },
    )?;
    println!(
        "-2LL at the {method} estimates: {method} {:.4}, exact (adaptive Gauss-Hermite, 25 \
         nodes) {:.4}",
        fit.minus_two_ll, exact.minus_two_ll
    );
    Ok(())
}
