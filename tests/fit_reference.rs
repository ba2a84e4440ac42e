//! Individual fits against closed-form maximum-likelihood results, and reproducibility.

use approx::assert_relative_eq;
use cart_pkpd::fit::{FitOptions, FitSpec, Method, Objective, fit_subject};
use cart_pkpd::models::{CellularKinetics, CellularKineticsParams};
use cart_pkpd::normal::{Z_975, normal_cdf};
use cart_pkpd::{ErrorModel, Parameters, Subject};

const DAYS: [f64; 10] = [1.0, 4.0, 7.0, 10.0, 14.0, 28.0, 60.0, 90.0, 180.0, 365.0];
/// Fixed multiplicative deviations from the model, as if measured.
const WOBBLE: [f64; 10] = [1.3, 0.8, 1.1, 0.95, 1.2, 0.7, 1.05, 0.9, 1.25, 0.85];

fn stein() -> CellularKineticsParams {
    CellularKineticsParams::stein_2019()
}

fn subject() -> Subject {
    let p = stein();
    let mut b = Subject::builder("R1").dose(0.0, 10.0);
    for (t, w) in DAYS.iter().zip(WOBBLE) {
        b = b.observe(*t, "transgene", p.transgene(*t) * w);
    }
    b.build().unwrap()
}

fn one_start() -> FitOptions {
    FitOptions {
        starts: 1,
        tolerance: 1e-8,
        ..FitOptions::default()
    }
}

/// Additive error, model fixed: the MLE of σ is √(RSS/n), and its SE is σ̂/√(2n)
/// (Fisher information of ln σ is 2n).
#[test]
fn residual_sd_alone_matches_the_closed_form_mle_and_se() {
    let s = subject();
    let p = stein();
    let rss: f64 = s
        .observations()
        .iter()
        .map(|o| (o.value - p.transgene(o.time)).powi(2))
        .sum();
    let n = DAYS.len() as f64;
    let sigma = (rss / n).sqrt();
    let spec = FitSpec::<CellularKinetics>::new(p)
        .residual("transgene", ErrorModel::Additive { sd: 100.0 });
    let fit = fit_subject(&CellularKinetics, &s, &spec, &one_start()).unwrap();
    let e = fit.estimate("transgene.sd").unwrap();
    assert_relative_eq!(e.value, sigma, max_relative = 1e-4);
    assert_relative_eq!(e.se.unwrap(), sigma / (2.0 * n).sqrt(), max_relative = 1e-3);
    // −2LL at the optimum: n ln 2π + n ln σ̂² + n; OFV drops the n ln 2π
    let m2ll = n * (2.0 * std::f64::consts::PI).ln() + n * (sigma * sigma).ln() + n;
    assert_relative_eq!(fit.minus_two_ll, m2ll, max_relative = 1e-8);
    assert_relative_eq!(fit.ofv, n * (sigma * sigma).ln() + n, max_relative = 1e-8);
    assert_relative_eq!(fit.aic, fit.minus_two_ll + 2.0, max_relative = 1e-15);
    assert_relative_eq!(fit.bic, fit.minus_two_ll + n.ln(), max_relative = 1e-15);
}

/// Log-additive error with σ fixed: C(t) ∝ cmax at every t, so ln ĉmax is the mean log
/// ratio, with SE(ln cmax) = σ/√n and CI ĉmax·exp(±1.96σ/√n).
#[test]
fn cmax_alone_matches_the_closed_form_log_mean_and_interval() {
    let s = subject();
    let sigma = 0.3;
    let log_mean = WOBBLE.iter().map(|w| w.ln()).sum::<f64>() / WOBBLE.len() as f64;
    let cmax_hat = 24_000.0 * log_mean.exp();
    let se_log = sigma / (WOBBLE.len() as f64).sqrt();
    let spec = FitSpec::new(stein())
        .estimate(&["cmax"])
        .residual_fixed("transgene", ErrorModel::LogAdditive { sd: sigma });
    let fit = fit_subject(&CellularKinetics, &s, &spec, &one_start()).unwrap();
    let e = fit.estimate("cmax").unwrap();
    assert_relative_eq!(e.value, cmax_hat, max_relative = 1e-4);
    assert_relative_eq!(e.se.unwrap(), cmax_hat * se_log, max_relative = 1e-3); // delta method
    let (lo, hi) = e.ci95.unwrap();
    assert_relative_eq!(lo, cmax_hat * (-Z_975 * se_log).exp(), max_relative = 1e-3);
    assert_relative_eq!(hi, cmax_hat * (Z_975 * se_log).exp(), max_relative = 1e-3);
    assert_eq!(fit.estimates.len(), 1);
    assert!(fit.warnings.is_empty(), "{:?}", fit.warnings);
}

/// The objective at given parameters, against the likelihood written out by hand, with a
/// censored observation entering as ln Φ((LLOQ − f)/σ).
#[test]
fn objective_matches_the_hand_written_likelihood_with_m3() {
    let p = stein();
    let (sd, lloq) = (500.0, 50.0);
    let s = Subject::builder("H")
        .observe(7.0, "transgene", 9_000.0)
        .observe(28.0, "transgene", 2_500.0)
        .observe_censored(365.0, "transgene", lloq)
        .build()
        .unwrap();
    let spec = FitSpec::new(p.clone()).residual("transgene", ErrorModel::Additive { sd });
    let obj = Objective::new(
        &CellularKinetics,
        &s,
        &spec,
        Default::default(),
        Default::default(),
    )
    .unwrap();
    let m2ll = obj
        .minus_two_ll_at(&p, &[ErrorModel::Additive { sd }])
        .unwrap();
    let normal =
        |y: f64, f: f64| (2.0 * std::f64::consts::PI).ln() + 2.0 * sd.ln() + ((y - f) / sd).powi(2);
    let expected = normal(9_000.0, p.transgene(7.0)) + normal(2_500.0, p.transgene(28.0))
        - 2.0 * normal_cdf((lloq - p.transgene(365.0)) / sd).ln();
    assert_relative_eq!(m2ll, expected, max_relative = 1e-12);
    assert_eq!((obj.n_observations(), obj.n_censored()), (3, 1));
}

#[test]
fn the_same_seed_gives_the_same_fit_and_another_seed_other_starts() {
    let spec = FitSpec::new(stein().with("cmax", 15_000.0).unwrap())
        .estimate(&["cmax", "alpha", "tmax"])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.5 });
    let opts = FitOptions {
        seed: 42,
        ..FitOptions::default()
    };
    let a = fit_subject(&CellularKinetics, &subject(), &spec, &opts).unwrap();
    let b = fit_subject(&CellularKinetics, &subject(), &spec, &opts).unwrap();
    assert_eq!(a, b);
    let c = fit_subject(
        &CellularKinetics,
        &subject(),
        &spec,
        &FitOptions { seed: 43, ..opts },
    )
    .unwrap();
    assert_ne!(a.starts[1].initial, c.starts[1].initial);
    assert_eq!(a.starts[0].initial, c.starts[0].initial); // start 0 is the initial values
}

/// The starts and the covariance step run in parallel where a prediction is costly; the fit
/// is the same on 1 thread and on 4, in closed form and as an ODE (whose Hessian comes from
/// sensitivity gradients).
#[test]
fn the_fit_is_the_same_on_any_number_of_threads() {
    let spec = FitSpec::new(stein().with("cmax", 15_000.0).unwrap())
        .estimate(&["cmax", "alpha", "beta"])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.5 });
    let closed_form = FitOptions::default();
    let ode = FitOptions {
        solver: closed_form.solver.ode(),
        covariance_solver: closed_form.covariance_solver.ode(),
        ..closed_form.clone()
    };
    for opts in [closed_form, ode] {
        let fit = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| fit_subject(&CellularKinetics, &subject(), &spec, &opts).unwrap())
        };
        let (one, four) = (fit(1), fit(4));
        assert!(one.covariance.is_some());
        assert_eq!(one, four);
        let counted: u64 = one.starts.iter().map(|s| s.evaluations).sum();
        assert!(
            one.evaluations > counted,
            "the covariance step's evaluations count too"
        );
    }
}

#[test]
fn nelder_mead_and_lbfgs_reach_the_same_optimum() {
    let spec = FitSpec::new(stein())
        .estimate(&["cmax", "alpha", "tmax", "fb"])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.5 });
    let nm = fit_subject(&CellularKinetics, &subject(), &spec, &FitOptions::default()).unwrap();
    let lbfgs = fit_subject(
        &CellularKinetics,
        &subject(),
        &spec,
        &FitOptions {
            method: Method::Lbfgs,
            ..FitOptions::default()
        },
    )
    .unwrap();
    assert_relative_eq!(nm.minus_two_ll, lbfgs.minus_two_ll, max_relative = 1e-5);
    for (a, b) in nm.estimates.iter().zip(&lbfgs.estimates) {
        assert_relative_eq!(a.value, b.value, max_relative = 1e-2);
    }
    let fitted: CellularKineticsParams = nm.parameters().unwrap();
    assert_eq!(fitted.foldx(), 3900.0); // fixed parameters keep their values
    assert_relative_eq!(fitted.cmax(), nm.estimate("cmax").unwrap().value);
}

#[test]
fn predictions_and_residuals_are_reported_per_observation() {
    let spec = FitSpec::new(stein())
        .estimate(&["cmax"])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.5 });
    let fit = fit_subject(&CellularKinetics, &subject(), &spec, &FitOptions::default()).unwrap();
    assert_eq!(fit.predictions.len(), DAYS.len());
    let sd = fit.estimate("transgene.sd").unwrap().value;
    let cmax = fit.estimate("cmax").unwrap().value;
    let p = stein().with("cmax", cmax).unwrap();
    for row in &fit.predictions {
        assert_relative_eq!(row.ipred, p.transgene(row.time), max_relative = 1e-12);
        assert_relative_eq!(row.residual, row.observed - row.ipred, max_relative = 1e-12);
        assert_relative_eq!(
            row.iwres,
            (row.observed / row.ipred).ln() / sd,
            max_relative = 1e-9
        );
    }
    let mut buf = Vec::new();
    fit.write_predictions_csv(&mut buf).unwrap();
    assert_eq!(
        String::from_utf8(buf).unwrap().lines().count(),
        DAYS.len() + 1
    );
    let json = serde_json::to_string(&fit).unwrap();
    assert_eq!(
        serde_json::from_str::<cart_pkpd::fit::FitResult>(&json).unwrap(),
        fit
    );
    assert!(fit.to_string().contains("cmax"));
}
