//! Fit configurations of model 2 (transgene only; B cells only with the CAR-T part fixed)
//! recover known parameters, and an unidentifiable parameter is reported, not hidden.

use cart_pkpd::fit::{FitOptions, FitSpec, FitWarning, fit_subject};
use cart_pkpd::models::{CarTBCell, CarTBCellParams, CellularKinetics, CellularKineticsParams};
use cart_pkpd::synthetic::{Sampling, simulate_subject};
use cart_pkpd::{Dose, ErrorModel, Parameters, SolverOptions, Subject};
use rand::SeedableRng;

const DAYS: [f64; 16] = [
    0.0, 1.0, 4.0, 7.0, 10.0, 14.0, 21.0, 28.0, 45.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0, 365.0,
];

fn simulated(analyte: &str, sd: f64, lloq: f64, seed: u64) -> Subject {
    let design = [Sampling::new(
        analyte,
        &DAYS,
        ErrorModel::LogAdditive { sd },
        Some(lloq),
    )];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    simulate_subject(
        &CarTBCell,
        &CarTBCellParams::default(),
        "C",
        &[Dose::bolus(0.0, 10.0)],
        &design,
        &SolverOptions::default(),
        &mut rng,
    )
    .unwrap()
}

/// Every estimate's 95% CI must contain the truth (a fixed seed; the coverage over many
/// seeds is measured in `fit_recovery.rs`).
fn assert_covers(fit: &cart_pkpd::fit::FitResult, truth: &CarTBCellParams, names: &[&str]) {
    for name in names {
        let e = fit.estimate(name).unwrap();
        let (lo, hi) = e.ci95.unwrap();
        let t = truth.get(name).unwrap();
        assert!(lo <= t && t <= hi, "{name}: truth {t} outside [{lo}, {hi}]");
    }
}

#[test]
fn model2_on_transgene_alone() {
    let truth = CarTBCellParams::default();
    let names = ["rho", "alpha", "kmem", "beta"];
    let spec = FitSpec::new(truth.with_all(&[("rho", 2.2), ("alpha", 0.2)]).unwrap())
        .estimate(&names)
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.3 });
    let fit = fit_subject(
        &CarTBCell,
        &simulated("transgene", 0.2, 5.0, 5),
        &spec,
        &FitOptions::default(),
    )
    .unwrap();
    assert_covers(&fit, &truth, &names);
}

#[test]
fn b_cells_alone_with_the_car_t_part_fixed() {
    let truth = CarTBCellParams::default();
    let names = ["kmax", "kp", "b0"];
    let spec = FitSpec::new(
        truth
            .with_all(&[("kmax", 1.0), ("kp", 0.05), ("b0", 120.0)])
            .unwrap(),
    )
    .estimate(&names)
    .residual("b_cells", ErrorModel::LogAdditive { sd: 0.3 });
    let fit = fit_subject(
        &CarTBCell,
        &simulated("b_cells", 0.2, 1.0, 6),
        &spec,
        &FitOptions::default(),
    )
    .unwrap();
    assert_covers(&fit, &truth, &names);
    assert!(
        fit.n_censored > 0,
        "the depletion phase is censored and enters by M3"
    );
}

/// After tmax the Stein model does not depend on foldx: with samples only after the peak
/// the Hessian is singular in foldx, and the fit must say so instead of reporting SEs.
#[test]
fn an_unidentifiable_parameter_gives_a_hessian_warning_and_no_standard_errors() {
    let p = CellularKineticsParams::stein_2019();
    let mut b = Subject::builder("U").dose(0.0, 10.0);
    for (t, w) in [
        (14.0, 1.1),
        (21.0, 0.9),
        (28.0, 1.2),
        (60.0, 0.8),
        (90.0, 1.0),
        (180.0, 1.1),
    ] {
        b = b.observe(t, "transgene", p.transgene(t) * w);
    }
    let spec = FitSpec::new(p)
        .estimate(&["cmax", "foldx"])
        .residual_fixed("transgene", ErrorModel::LogAdditive { sd: 0.2 });
    let fit = fit_subject(
        &CellularKinetics,
        &b.build().unwrap(),
        &spec,
        &FitOptions::default(),
    )
    .unwrap();
    assert!(
        fit.warnings
            .contains(&FitWarning::HessianNotPositiveDefinite),
        "{:?}",
        fit.warnings
    );
    assert!(
        fit.estimates
            .iter()
            .all(|e| e.se.is_none() && e.ci95.is_none())
    );
    assert!(fit.covariance.is_none());
}

/// L-BFGS, with its gradient from the forward sensitivities, converges from every start of
/// a model-2 fit (the first trial steps from a steep start reach parameters where the model
/// cannot be solved, which the line search steps back from) to the optimum Nelder–Mead
/// finds.
#[test]
fn lbfgs_with_sensitivity_gradients_converges_from_every_start() {
    use cart_pkpd::fit::Method;
    let subject = simulated("transgene", 0.3, 5.0, 11);
    let spec = FitSpec::new(CarTBCellParams::default())
        .estimate(&["rho", "alpha", "beta", "kmax"])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.3 });
    let fit = |method| {
        let opts = FitOptions {
            method,
            ..FitOptions::default()
        };
        fit_subject(&CarTBCell, &subject, &spec, &opts).unwrap()
    };
    let (nm, lbfgs) = (fit(Method::NelderMead), fit(Method::Lbfgs));
    assert!(lbfgs.starts.len() >= 4);
    for (i, s) in lbfgs.starts.iter().enumerate() {
        assert!(s.converged(), "start {i}: {:?}", s.termination);
        assert!(
            (s.minus_two_ll - nm.minus_two_ll).abs() < 1e-3,
            "start {i}: −2LL {} against Nelder–Mead's {}",
            s.minus_two_ll,
            nm.minus_two_ll
        );
    }
}

/// Levenberg–Marquardt on the Fisher-scoring matrix reaches, from every start of a joint
/// model-2 fit (transgene and B cells on the trial's schedule, B cells below the LLOQ by
/// M3, both residual SDs estimated), the optimum that Nelder–Mead and L-BFGS find, in a
/// fraction of their evaluations.
#[test]
fn levenberg_marquardt_reaches_the_optimum_of_the_other_methods() {
    use cart_pkpd::cart::trial_design;
    use cart_pkpd::fit::Method;
    let truth = CarTBCellParams::default();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let subject = simulate_subject(
        &CarTBCell,
        &truth,
        "J",
        &[Dose::bolus(0.0, 10.0)],
        &trial_design(),
        &SolverOptions::default(),
        &mut rng,
    )
    .unwrap();
    assert!(subject.observations().iter().any(|o| o.censored));
    let spec = FitSpec::new(truth)
        .estimate(&["rho", "alpha", "beta", "kmax", "kp"])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.3 })
        .residual("b_cells", ErrorModel::LogAdditive { sd: 0.3 });
    let fit = |method| {
        let opts = FitOptions {
            method,
            ..FitOptions::default()
        };
        fit_subject(&CarTBCell, &subject, &spec, &opts).unwrap()
    };
    let lm = fit(Method::LevenbergMarquardt);
    // a model-2 prediction is costly enough for the starts and the covariance step's
    // sensitivity solutions to run in parallel: the same fit on one thread
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| fit(Method::LevenbergMarquardt));
    assert_eq!(lm, one_thread);
    for other in [fit(Method::NelderMead), fit(Method::Lbfgs)] {
        for (i, s) in lm.starts.iter().enumerate() {
            assert!(s.converged(), "start {i}: {:?}", s.termination);
            // Nelder–Mead stops within its tolerance (1e-4) above the optimum
            assert!(
                s.minus_two_ll - other.minus_two_ll < 1e-5,
                "start {i}: −2LL {} against {}",
                s.minus_two_ll,
                other.minus_two_ll
            );
        }
        for e in &other.estimates {
            let ours = lm.estimate(&e.name).unwrap();
            let se = ours.se.unwrap();
            assert!(
                (ours.value - e.value).abs() < 0.1 * se,
                "{}: {} against {} (SE {se})",
                e.name,
                ours.value,
                e.value
            );
        }
        assert!(lm.evaluations * 3 < other.evaluations);
    }
}
