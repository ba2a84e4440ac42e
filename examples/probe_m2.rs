use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::nlme::{PopulationOptions, PopulationSpec, fit_population};
use cart_pkpd::population::PopulationModel;
use cart_pkpd::synthetic::{CohortDesign, simulate_cohort_dataset};
use cart_pkpd::{ErrorModel, Parameters, SolverOptions};
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let hstep: f64 = args[0].parse().unwrap();
    let seeds: Vec<u64> = args[1..].iter().map(|s| s.parse().unwrap()).collect();
    let truth = CarTBCellParams::default();
    let pop = PopulationModel::<CarTBCell>::diagonal(
        truth.clone(),
        &[("gamma", 0.25), ("alpha", 0.09), ("kmax", 0.09)],
    )
    .unwrap();
    let mut design = CohortDesign::bms986353_sle();
    design.follow_up_days = vec![365.0; 19];
    design.phenotype_sd = None;
    let spec = PopulationSpec::new(
        truth
            .with_all(&[("rho", 2.5), ("kmax", 1.0), ("kp", 0.05)])
            .unwrap(),
    )
    .estimate(&["rho", "alpha", "beta", "kmax", "kp"])
    .random_diagonal(&[("gamma", 0.1), ("alpha", 0.1), ("kmax", 0.1)])
    .residual("transgene", ErrorModel::LogAdditive { sd: 0.3 })
    .residual("b_cells", ErrorModel::LogAdditive { sd: 0.3 });
    let opts = PopulationOptions {
        covariance: hstep > 0.0,
        hessian_step: hstep.abs(),
        solver: SolverOptions::default(),
        ..PopulationOptions::default()
    };
    for seed in seeds {
        let data =
            simulate_cohort_dataset(&CarTBCell, &pop, &design, &SolverOptions::default(), seed)
                .unwrap();
        let t = std::time::Instant::now();
        match fit_population(&CarTBCell, &data, &spec, &opts) {
            Ok(fit) => println!(
                "seed {seed}: {:.1}s evals {} ofv {:.4} {} {:?}",
                t.elapsed().as_secs_f64(),
                fit.evaluations,
                fit.ofv,
                fit.theta
                    .iter()
                    .map(|e| format!("{} {:.4}±{:.4}", e.name, e.value, e.se.unwrap_or(f64::NAN)))
                    .chain(fit.omega.iter().map(|o| format!(
                        "w2 {} {:.3}±{:.3}",
                        o.name,
                        o.value,
                        o.se.unwrap_or(f64::NAN)
                    )))
                    .chain(fit.sigma.iter().map(|s| format!("sd {:.3}", s.value)))
                    .collect::<Vec<_>>()
                    .join(", "),
                fit.warnings
            ),
            Err(e) => println!("seed {seed}: {e}"),
        }
    }
}
