//! Model 2 population recovery at the trial's design, one seeded replicate. About three
//! minutes on two cores (model 2 FOCE-I re-solves 19 subjects' ODE EBEs at every outer
//! step), so it is not part of the default test run:
//! `cargo test --release --test nlme_model2_recovery -- --ignored --nocapture`.
//! Replicates across many seeds need a faster inner problem first (a second seed did not
//! finish within 20 minutes).

use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::nlme::{PopulationOptions, PopulationSpec, fit_population};
use cart_pkpd::population::PopulationModel;
use cart_pkpd::synthetic::{CohortDesign, simulate_cohort_dataset};
use cart_pkpd::{ErrorModel, Parameters, SolverOptions};

const TYPICAL: [&str; 5] = ["rho", "alpha", "beta", "kmax", "kp"];
const OMEGA: [(&str, f64); 3] = [("gamma", 0.25), ("alpha", 0.09), ("kmax", 0.09)];

/// One replicate of 13 + 6 subjects, full follow-up, transgene and B cells with the trial's
/// sampling and LLOQs: typical values within 20% of truth; Ω is printed (one replicate says
/// little about variances).
#[test]
#[ignore = "about three minutes"]
fn model2_population_parameters_are_recovered() {
    let truth = CarTBCellParams::default();
    let pop = PopulationModel::<CarTBCell>::diagonal(truth.clone(), &OMEGA).unwrap();
    let mut design = CohortDesign::bms986353_sle();
    design.follow_up_days = vec![365.0; 19];
    design.phenotype_sd = None;
    let spec = PopulationSpec::new(
        truth
            .with_all(&[("rho", 2.5), ("kmax", 1.0), ("kp", 0.05)])
            .unwrap(),
    )
    .estimate(&TYPICAL)
    .random_diagonal(&[("gamma", 0.1), ("alpha", 0.1), ("kmax", 0.1)])
    .residual("transgene", ErrorModel::LogAdditive { sd: 0.3 })
    .residual("b_cells", ErrorModel::LogAdditive { sd: 0.3 });
    let opts = PopulationOptions {
        covariance: false,
        solver: SolverOptions::default(),
        ..PopulationOptions::default()
    };
    let n = 1;
    let mut bias = vec![0.0; TYPICAL.len() + OMEGA.len()];
    for rep in 0..n {
        let data = simulate_cohort_dataset(
            &CarTBCell,
            &pop,
            &design,
            &SolverOptions::default(),
            300 + rep,
        )
        .unwrap();
        let t = std::time::Instant::now();
        let fit = fit_population(&CarTBCell, &data, &spec, &opts).unwrap();
        let values: Vec<f64> = fit
            .theta
            .iter()
            .map(|e| e.value)
            .chain(fit.omega.iter().map(|o| o.value))
            .collect();
        eprintln!(
            "replicate {rep} ({:.0} s): {values:.4?}",
            t.elapsed().as_secs_f64()
        );
        let truths: Vec<f64> = TYPICAL
            .iter()
            .map(|p| truth.get(p).unwrap())
            .chain(OMEGA.iter().map(|o| o.1))
            .collect();
        for i in 0..bias.len() {
            bias[i] += (values[i] / truths[i] - 1.0) / n as f64;
        }
    }
    let names: Vec<String> = TYPICAL
        .iter()
        .map(|s| s.to_string())
        .chain(OMEGA.iter().map(|o| format!("omega2 {}", o.0)))
        .collect();
    for (name, b) in names.iter().zip(&bias) {
        eprintln!("{name:<14} mean relative bias {b:+.3}");
    }
    for i in 0..TYPICAL.len() {
        assert!(bias[i].abs() < 0.2, "{}: {}", names[i], bias[i]);
    }
}
