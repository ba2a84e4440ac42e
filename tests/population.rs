//! Populations and virtual cohorts: the sampled random effects have the covariance Ω,
//! cohorts are reproducible whatever the thread count, and bad Ω is a typed error.

use approx::assert_relative_eq;
use cart_pkpd::fit::{Estimate, FitResult, Method, Scale};
use cart_pkpd::models::{CarTBCell, CarTBCellParams, CellularKinetics, CellularKineticsParams};
use cart_pkpd::population::{Group, PopulationModel, simulate_cohort};
use cart_pkpd::{Error, Parameters, SolverOptions};
use nalgebra::DMatrix;
use rand::SeedableRng;

fn full_omega() -> DMatrix<f64> {
    DMatrix::from_row_slice(
        3,
        3,
        &[0.09, 0.03, -0.02, 0.03, 0.16, 0.0, -0.02, 0.0, 0.04],
    )
}

fn pop() -> PopulationModel<CarTBCell> {
    let typical = CarTBCellParams::default().with("eps", 0.8).unwrap();
    PopulationModel::new(typical, &["rho", "kmax", "eps"], full_omega()).unwrap()
}

#[test]
fn sampled_random_effects_have_covariance_omega() {
    let p = pop();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let n = 40_000;
    let draws: Vec<Vec<f64>> = (0..n).map(|_| p.sample_eta(&mut rng)).collect();
    let omega = full_omega();
    for i in 0..3 {
        for j in 0..3 {
            let cov = draws.iter().map(|e| e[i] * e[j]).sum::<f64>() / n as f64;
            // SE of a sample covariance ≈ √((ω_ii ω_jj + ω_ij²)/n) ≤ 0.0011 here; allow 5 SE
            let se = ((omega[(i, i)] * omega[(j, j)] + omega[(i, j)].powi(2)) / n as f64).sqrt();
            assert!(
                (cov - omega[(i, j)]).abs() < 5.0 * se,
                "Ω[{i},{j}]: {cov} vs {}",
                omega[(i, j)]
            );
        }
    }
}

#[test]
fn individual_parameters_are_log_normal_and_logit_normal_around_the_typical_values() {
    let p = pop();
    let eta = [0.5, -0.2, 0.0];
    let x = p.individual(&eta, &[]).unwrap();
    let t = CarTBCellParams::default();
    assert_relative_eq!(x.rho(), t.rho() * 0.5f64.exp(), max_relative = 1e-14);
    assert_relative_eq!(x.kmax(), t.kmax() * (-0.2f64).exp(), max_relative = 1e-14);
    // eps = 1 is a boundary of the logit scale: rejected as the centre of BSV
    let eps_pop = CarTBCellParams::default().with("eps", 0.8).unwrap();
    let p = PopulationModel::<CarTBCell>::diagonal(eps_pop, &[("eps", 0.25)]).unwrap();
    let x = p.individual(&[1.0], &[]).unwrap();
    let logit = |v: f64| (v / (1.0 - v)).ln();
    assert_relative_eq!(logit(x.eps()), logit(0.8) + 1.0, max_relative = 1e-12);
    assert!(
        PopulationModel::<CarTBCell>::diagonal(CarTBCellParams::default(), &[("eps", 0.25)])
            .is_err()
    );
}

#[test]
fn the_same_seed_gives_the_same_cohort_on_one_thread_or_many() {
    let groups = [
        Group::infusion("DL1", 10.0, 40),
        Group::infusion("DL2", 25.0, 20).with_effect("kmax", 1.5),
    ];
    let times = [7.0, 28.0, 180.0];
    let run = || {
        simulate_cohort(
            &CarTBCell,
            &pop(),
            &groups,
            &times,
            &SolverOptions::default(),
            99,
        )
        .unwrap()
    };
    let many = run();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(run);
    assert_eq!(many, one);
    let other = simulate_cohort(
        &CarTBCell,
        &pop(),
        &groups,
        &times,
        &SolverOptions::default(),
        100,
    )
    .unwrap();
    assert_ne!(many.subjects[0].eta, other.subjects[0].eta);
    assert_eq!(many.simulations(0).len(), 40);
}

#[test]
fn a_group_effect_multiplies_the_typical_value() {
    let p = PopulationModel::<CarTBCell>::diagonal(CarTBCellParams::default(), &[("kmax", 0.04)])
        .unwrap();
    let groups = [
        Group::infusion("A", 10.0, 400),
        Group::infusion("B", 10.0, 400).with_effect("kmax", 2.0),
    ];
    let cohort = simulate_cohort(
        &CarTBCell,
        &p,
        &groups,
        &[1.0],
        &SolverOptions::default(),
        3,
    )
    .unwrap();
    let i = CarTBCellParams::index_of("kmax").unwrap();
    let log_mean = |g: usize| {
        let v: Vec<f64> = cohort
            .subjects
            .iter()
            .filter(|s| s.group == g)
            .map(|s| s.params[i].ln())
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    // SE of each log-mean is 0.2/√400 = 0.01
    assert!((log_mean(1) - log_mean(0) - 2f64.ln()).abs() < 0.05);
    assert!((log_mean(0) - 1.51f64.ln()).abs() < 0.05);
}

#[test]
fn draws_that_break_a_relation_are_rejected_and_counted() {
    // beta must stay below alpha; wide BSV on both makes some draws invalid
    let base = CellularKineticsParams::stein_2019()
        .with_all(&[("alpha", 0.05), ("beta", 0.03)])
        .unwrap();
    let p = PopulationModel::<CellularKinetics>::diagonal(base, &[("alpha", 0.5), ("beta", 0.5)])
        .unwrap();
    let cohort = simulate_cohort(
        &CellularKinetics,
        &p,
        &[Group::infusion("A", 10.0, 300)],
        &[30.0],
        &SolverOptions::default(),
        1,
    )
    .unwrap();
    assert!(cohort.rejected_draws > 0);
    let (ia, ib) = (
        CellularKineticsParams::index_of("alpha").unwrap(),
        CellularKineticsParams::index_of("beta").unwrap(),
    );
    assert!(cohort.subjects.iter().all(|s| s.params[ib] < s.params[ia]));
}

#[test]
fn bad_omega_and_bad_names_are_typed_errors() {
    let t = CarTBCellParams::default();
    let not_pd = DMatrix::from_row_slice(2, 2, &[0.1, 0.2, 0.2, 0.1]);
    let asym = DMatrix::from_row_slice(2, 2, &[0.1, 0.0, 0.05, 0.1]);
    for (omega, names) in [
        (not_pd, vec!["rho", "kmax"]),
        (asym, vec!["rho", "kmax"]),
        (DMatrix::from_element(1, 1, f64::NAN), vec!["rho"]),
        (DMatrix::identity(2, 2), vec!["rho"]),
    ] {
        let e = PopulationModel::<CarTBCell>::new(t.clone(), &names, omega).unwrap_err();
        assert!(matches!(e, Error::InvalidOmega { .. }), "{e}");
    }
    assert!(matches!(
        PopulationModel::<CarTBCell>::diagonal(t.clone(), &[("ka", 0.1)]),
        Err(Error::UnknownParameter { .. })
    ));
    assert!(matches!(
        PopulationModel::<CarTBCell>::diagonal(t.clone(), &[("n_transit", 0.1)]),
        Err(Error::NotEstimable { .. })
    ));
    assert!(matches!(
        PopulationModel::<CarTBCell>::diagonal(t, &[("rho", 0.1), ("rho", 0.1)]),
        Err(Error::DuplicateEstimate { .. })
    ));
}

/// A fit result carrying only the estimates the two-stage method reads.
fn fit_with(kmax: f64, rho: f64) -> FitResult {
    let est = |name: &str, value: f64| Estimate {
        name: name.into(),
        unit: "1/d".into(),
        value,
        se: None,
        rse_percent: None,
        ci95: None,
        scale: Scale::Log,
    };
    FitResult {
        model: "cart_bcell".into(),
        subject: "x".into(),
        method: Method::NelderMead,
        estimates: vec![est("kmax", kmax), est("rho", rho)],
        params: Vec::new(),
        residual_errors: Vec::new(),
        covariance: None,
        correlation: None,
        minus_two_ll: 0.0,
        ofv: 0.0,
        aic: 0.0,
        bic: 0.0,
        n_observations: 1,
        n_censored: 0,
        starts: Vec::new(),
        best_start: 0,
        status: cart_pkpd::fit::FitStatus::Converged,
        evaluations: 0,
        warnings: Vec::new(),
        predictions: Vec::new(),
    }
}

#[test]
fn standard_two_stage_takes_the_mean_and_covariance_of_log_estimates() {
    let fits = [fit_with(1.0, 2.0), fit_with(4.0, 4.0), fit_with(2.0, 8.0)];
    let refs: Vec<&FitResult> = fits.iter().collect();
    let p = PopulationModel::<CarTBCell>::standard_two_stage(
        CarTBCellParams::default(),
        &refs,
        &["kmax", "rho"],
    )
    .unwrap();
    // ln kmax = (0, 2, 1)·ln 2 → mean ln 2; ln rho = (1, 2, 3)·ln 2 → mean 2·ln 2
    assert_relative_eq!(p.typical().kmax(), 2.0, max_relative = 1e-12);
    assert_relative_eq!(p.typical().rho(), 4.0, max_relative = 1e-12);
    let l2 = 2f64.ln();
    // deviations: kmax (−1, 1, 0)·ln 2, rho (−1, 0, 1)·ln 2 → variances 1, 1, covariance ½ (× ln²2)
    assert_relative_eq!(p.omega()[(0, 0)], l2 * l2, max_relative = 1e-12);
    assert_relative_eq!(p.omega()[(1, 1)], l2 * l2, max_relative = 1e-12);
    assert_relative_eq!(p.omega()[(0, 1)], 0.5 * l2 * l2, max_relative = 1e-12);
    assert!(
        PopulationModel::<CarTBCell>::standard_two_stage(
            CarTBCellParams::default(),
            &refs[..2],
            &["kmax", "rho"]
        )
        .is_err()
    );
}
