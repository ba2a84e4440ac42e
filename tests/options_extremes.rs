//! Every fit option at extreme values gives a result or a typed error — no panic, no hang;
//! a step or tolerance beyond its documented bound is an options error, not a fit that
//! silently means nothing.

use cart_pkpd::fit::{FitOptions, FitSpec, fit_subject};
use cart_pkpd::models::pk::{OneCmtIv, OneCmtIvParams};
use cart_pkpd::nlme::{PopulationOptions, PopulationSpec, fit_population};
use cart_pkpd::{Dataset, Error, ErrorModel, SolverOptions, Subject};

/// An options error for a value outside `(0, max]`; otherwise anything but a panic.
fn expect(value: f64, max: f64, result: Result<(), Error>, what: &str) {
    let inside = value.is_finite() && value > 0.0 && value <= max;
    match result {
        Err(Error::InvalidFitOptions { .. } | Error::InvalidOptions { .. }) => {
            assert!(!inside, "{what} = {value} is inside its bound but refused")
        }
        _ => assert!(inside, "{what} = {value} is outside its bound but accepted"),
    }
}

const REALS: [f64; 8] = [
    0.0,
    -1.0,
    f64::NAN,
    f64::INFINITY,
    1e308,
    1e-308,
    1e3,
    1e-12,
];

fn subject(i: u32) -> Subject {
    let cl = 5.0 * (0.1 * f64::from(i)).exp();
    let mut b = Subject::builder(format!("{i}")).dose(0.0, 100.0);
    for t in [1.0, 4.0, 12.0] {
        b = b.observe(
            t,
            "cp",
            2.0 * (-(cl / 50.0) * t).exp() * (1.0 + 0.05 * f64::from(i % 3)),
        );
    }
    b.build().unwrap()
}

#[test]
fn extreme_fit_options_give_a_result_or_a_typed_error() {
    let s = subject(1);
    let spec = FitSpec::new(OneCmtIvParams::new(4.0, 40.0).unwrap())
        .estimate(&["cl", "v"])
        .residual("cp", ErrorModel::Proportional { cv: 0.1 });
    let base = FitOptions {
        starts: 1,
        ..FitOptions::default()
    };
    let run = |opts: &FitOptions| fit_subject(&OneCmtIv, &s, &spec, opts).map(|_| ());
    for v in REALS {
        expect(
            v,
            1.0,
            run(&FitOptions {
                tolerance: v,
                ..base.clone()
            }),
            "tolerance",
        );
        expect(
            v,
            10.0,
            run(&FitOptions {
                simplex_step: v,
                ..base.clone()
            }),
            "simplex_step",
        );
        expect(
            v,
            1.0,
            run(&FitOptions {
                hessian_step: v,
                ..base.clone()
            }),
            "hessian_step",
        );
        let solver = SolverOptions {
            rtol: v,
            ..SolverOptions::default()
        };
        expect(
            v,
            0.1,
            run(&FitOptions {
                solver,
                ..base.clone()
            }),
            "rtol",
        );
        let covariance_solver = SolverOptions {
            atol: v,
            ..SolverOptions::default()
        };
        expect(
            v,
            f64::MAX,
            run(&FitOptions {
                covariance_solver,
                ..base.clone()
            }),
            "atol",
        );
    }
    let mut variants: Vec<FitOptions> = Vec::new();
    for v in REALS {
        variants.push(FitOptions {
            spread: v,
            starts: 2,
            ..base.clone()
        });
        variants.push(FitOptions {
            rse_warning_percent: v,
            ..base.clone()
        });
        variants.push(FitOptions {
            correlation_warning: v,
            ..base.clone()
        });
    }
    for n in [0, 1, 5] {
        variants.push(FitOptions {
            max_iters: n,
            ..base.clone()
        });
        variants.push(FitOptions {
            max_restarts: n as usize,
            ..base.clone()
        });
    }
    for opts in variants {
        let _ = fit_subject(&OneCmtIv, &s, &spec, &opts);
    }
}

#[test]
fn extreme_population_options_give_a_result_or_a_typed_error() {
    let data = Dataset::new((0..4).map(subject).collect()).unwrap();
    let spec = PopulationSpec::new(OneCmtIvParams::new(4.0, 40.0).unwrap())
        .estimate(&["cl", "v"])
        .random_diagonal(&[("cl", 0.1)])
        .residual("cp", ErrorModel::Proportional { cv: 0.1 });
    let base = PopulationOptions {
        covariance: true,
        max_iters: 50,
        ..PopulationOptions::default()
    };
    let run = |opts: &PopulationOptions| fit_population(&OneCmtIv, &data, &spec, opts).map(|_| ());
    for v in REALS {
        expect(
            v,
            1.0,
            run(&PopulationOptions {
                tolerance: v,
                ..base.clone()
            }),
            "tolerance",
        );
        expect(
            v,
            1.0,
            run(&PopulationOptions {
                gradient_step: v,
                ..base.clone()
            }),
            "gradient_step",
        );
        expect(
            v,
            10.0,
            run(&PopulationOptions {
                simplex_step: v,
                ..base.clone()
            }),
            "simplex_step",
        );
        expect(
            v,
            1.0,
            run(&PopulationOptions {
                hessian_step: v,
                ..base.clone()
            }),
            "hessian_step",
        );
    }
}
