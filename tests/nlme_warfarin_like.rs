//! A warfarin-like population: 32 subjects, one oral dose of 1.5 mg/kg, a lag time,
//! sampling from 0.5 to 120 h, between-subject variability on ka, CL and V, weight on CL
//! and V (allometric powers estimated), a combined residual error. FOCE-I by BFGS on
//! implicit gradients, with the model solved exactly and as an ODE (forward sensitivities
//! through the lag), reaches the minimum that derivative-free Nelder–Mead reaches, which
//! shares nothing with it but the objective.

use cart_pkpd::models::pk::{OneCmtOral, OneCmtOralParams};
use cart_pkpd::nlme::{
    CovariateModel, OuterMethod, PopulationFit, PopulationOptions, PopulationSpec, fit_population,
};
use cart_pkpd::synthetic::{Sampling, simulate_subject};
use cart_pkpd::{Dataset, Dose, ErrorModel, Parameters, SolverOptions, Subject};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

const TIMES: [f64; 13] = [
    0.5, 1.0, 2.0, 3.0, 6.0, 9.0, 12.0, 24.0, 36.0, 48.0, 72.0, 96.0, 120.0,
];

/// The simulated data (seeded): typical ka 1 /h, CL 0.13 L/h and V 8 L at 70 kg
/// (exponents 0.75 and 1), lag 0.8 h; ω² 0.3 (ka), 0.08 (CL), 0.05 (V); error 0.3 mg/L
/// and 10%.
fn data() -> Dataset {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let sampling = [Sampling::new(
        "cp",
        &TIMES,
        ErrorModel::Combined { sd: 0.3, cv: 0.1 },
        None,
    )];
    let subjects = (0..32).map(|i| {
        let wt: f64 = 45.0 + 50.0 * rng.random::<f64>();
        let mut eta = |omega2: f64| (omega2.sqrt() * rng.sample::<f64, _>(StandardNormal)).exp();
        let (ka, cl, v) = (
            eta(0.3),
            0.13 * (wt / 70.0).powf(0.75) * eta(0.08),
            8.0 * wt / 70.0 * eta(0.05),
        );
        let params = OneCmtOralParams::new(ka, cl, v)
            .unwrap()
            .with("alag1", 0.8)
            .unwrap();
        let id = format!("{}", i + 1);
        let dose = [Dose::bolus(0.0, 1.5 * wt)];
        let opts = SolverOptions::default();
        let s =
            simulate_subject(&OneCmtOral, &params, &id, &dose, &sampling, &opts, &mut rng).unwrap();
        let mut b = Subject::builder(&id)
            .covariate("WT", wt)
            .dose_event(dose[0].clone());
        for o in s.observations() {
            b = b.observe(o.time, "cp", o.value);
        }
        b.build().unwrap()
    });
    Dataset::new(subjects.collect()).unwrap()
}

fn spec() -> PopulationSpec<OneCmtOral> {
    let start = OneCmtOralParams::new(0.7, 0.1, 10.0)
        .unwrap()
        .with("alag1", 0.5)
        .unwrap();
    let power = |parameter: &str| CovariateModel::Power {
        parameter: parameter.into(),
        covariate: "WT".into(),
        reference: 70.0,
    };
    PopulationSpec::new(start)
        .estimate(&["ka", "cl", "v", "alag1"])
        .random_diagonal(&[("ka", 0.2), ("cl", 0.1), ("v", 0.1)])
        .residual("cp", ErrorModel::Combined { sd: 0.5, cv: 0.2 })
        .covariate(power("cl"))
        .covariate(power("v"))
}

fn fit(method: OuterMethod, solver: SolverOptions) -> PopulationFit {
    let opts = PopulationOptions {
        method,
        solver,
        covariance: method == OuterMethod::QuasiNewton,
        ..PopulationOptions::default()
    };
    fit_population(&OneCmtOral, &data(), &spec(), &opts).unwrap()
}

/// OFVs within 1e-3 and every estimate (typical values, covariate exponents, variances,
/// residual parameters) within 0.1 SE of Nelder–Mead's. Measured: OFV 418.08064 (exact)
/// and 418.08070 (ODE) against 418.08074, estimates within 0.0074 SE; 183 and 182
/// evaluations, where BFGS on differences of the objective took 348 and 350 to OFVs
/// 418.08062 and 418.08063.
#[test]
fn bfgs_on_implicit_gradients_reaches_the_derivative_free_minimum() {
    let reference = fit(OuterMethod::NelderMead, SolverOptions::default());
    let ode = SolverOptions::default().ode().with_tolerances(1e-8, 1e-11);
    for solver in [SolverOptions::default(), ode] {
        let bfgs = fit(OuterMethod::QuasiNewton, solver);
        eprintln!(
            "{:?}: OFV {:.5} ({} evaluations) against Nelder–Mead's {:.5} ({})",
            solver.method, bfgs.ofv, bfgs.evaluations, reference.ofv, reference.evaluations
        );
        assert!((bfgs.ofv - reference.ofv).abs() < 1e-3);
        let estimates = |f: &PopulationFit| -> Vec<(f64, Option<f64>)> {
            let typical = f.theta.iter().chain(&f.sigma).map(|e| (e.value, e.se));
            typical
                .chain(f.omega.iter().map(|o| (o.value, o.se)))
                .collect()
        };
        for ((a, se), (b, _)) in estimates(&bfgs).into_iter().zip(estimates(&reference)) {
            let se = se.expect("a covariance step");
            assert!((a - b).abs() < 0.1 * se, "{a} vs {b} (SE {se})");
        }
    }
}
