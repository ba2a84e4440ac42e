//! Bad fit input: each a typed error, never a panic or a silent result.

use cart_pkpd::fit::{FitOptions, FitSpec, fit_subject};
use cart_pkpd::models::{CarTBCell, CarTBCellParams, CellularKinetics, CellularKineticsParams};
use cart_pkpd::{DataErrorKind, Error, ErrorModel, Parameters, Subject};

fn stein_spec() -> FitSpec<CellularKinetics> {
    FitSpec::new(CellularKineticsParams::stein_2019())
        .estimate(&["cmax", "alpha"])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.5 })
}

fn transgene_subject() -> Subject {
    let p = CellularKineticsParams::stein_2019();
    let mut b = Subject::builder("E1").dose(0.0, 10.0);
    for t in [4.0, 7.0, 14.0, 28.0, 90.0] {
        b = b.observe(t, "transgene", p.transgene(t) * 1.1);
    }
    b.build().unwrap()
}

fn fit_err<M: cart_pkpd::Model>(
    model: &M,
    s: &Subject,
    spec: &FitSpec<M>,
    opts: &FitOptions,
) -> Error {
    fit_subject(model, s, spec, opts).unwrap_err()
}

#[test]
fn an_analyte_the_objective_needs_but_the_subject_lacks() {
    let spec = FitSpec::new(CarTBCellParams::default())
        .estimate(&["kmax"])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.5 })
        .residual("b_cells", ErrorModel::LogAdditive { sd: 0.3 });
    let s = Subject::builder("E2")
        .dose(0.0, 10.0)
        .observe(7.0, "transgene", 2e4)
        .build()
        .unwrap();
    match fit_err(&CarTBCell, &s, &spec, &FitOptions::default()) {
        Error::NoObservations { subject, analyte } => {
            assert_eq!((subject.as_str(), analyte.as_str()), ("E2", "b_cells"))
        }
        e => panic!("{e}"),
    }
}

#[test]
fn observations_without_an_error_model_or_unknown_to_the_model() {
    // σ fixed: with one observation an estimated σ would have no maximum (σ → 0)
    let spec = FitSpec::new(CarTBCellParams::default())
        .estimate(&["kmax"])
        .residual_fixed("transgene", ErrorModel::LogAdditive { sd: 0.5 });
    let s = Subject::builder("E3")
        .dose(0.0, 10.0)
        .observe(7.0, "transgene", 2e4)
        .observe(7.0, "b_cells", 3.0)
        .build()
        .unwrap();
    assert!(
        matches!(fit_err(&CarTBCell, &s, &spec, &FitOptions::default()), Error::MissingErrorModel { analyte } if analyte == "b_cells")
    );
    // leaving them out must be said explicitly, and then works
    let ignoring = spec.clone().ignore(&["b_cells"]);
    let fit = fit_subject(&CarTBCell, &s, &ignoring, &FitOptions::default()).unwrap();
    assert_eq!(fit.n_observations, 1);
    let s = Subject::builder("E4")
        .observe(7.0, "transgene", 2e4)
        .observe(7.0, "b_cells", 3.0)
        .build()
        .unwrap();
    assert!(
        matches!(fit_err(&CellularKinetics, &s, &stein_spec(), &FitOptions::default()), Error::UnknownAnalyte { subject: Some(id), .. } if id == "E4")
    );
}

#[test]
fn unknown_duplicate_and_structural_parameter_names() {
    let s = transgene_subject();
    let spec = stein_spec().estimate(&["ka"]);
    assert!(
        matches!(fit_err(&CellularKinetics, &s, &spec, &FitOptions::default()), Error::UnknownParameter { name, .. } if name == "ka")
    );
    let spec = stein_spec().estimate(&["cmax"]);
    assert!(matches!(
        fit_err(&CellularKinetics, &s, &spec, &FitOptions::default()),
        Error::DuplicateEstimate { .. }
    ));
    let spec = FitSpec::new(CarTBCellParams::default())
        .estimate(&["n_transit"])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.5 });
    assert!(
        matches!(fit_err(&CarTBCell, &s, &spec, &FitOptions::default()), Error::NotEstimable { name, .. } if name == "n_transit")
    );
}

#[test]
fn initial_values_on_the_boundary_of_their_domain() {
    let s = transgene_subject();
    // eps = 1 is a valid value but cannot start a logit-scale estimation
    let spec = FitSpec::new(CarTBCellParams::default())
        .estimate(&["eps"])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.5 });
    match fit_err(&CarTBCell, &s, &spec, &FitOptions::default()) {
        Error::ParameterOutOfDomain { name, value, .. } => {
            assert_eq!((name.as_str(), value), ("eps", 1.0))
        }
        e => panic!("{e}"),
    }
    let spec = FitSpec::new(CarTBCellParams::default().with("kx", 0.0).unwrap())
        .estimate(&["kx"])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.5 });
    assert!(
        matches!(fit_err(&CarTBCell, &s, &spec, &FitOptions::default()), Error::ParameterOutOfDomain { name, .. } if name == "kx")
    );
    let spec = stein_spec();
    let bad = FitSpec {
        residuals: vec![cart_pkpd::fit::ResidualSpec {
            analyte: "transgene".into(),
            model: ErrorModel::LogAdditive { sd: -1.0 },
            estimate: true,
        }],
        ..spec
    };
    assert!(matches!(
        fit_err(&CellularKinetics, &s, &bad, &FitOptions::default()),
        Error::ParameterOutOfDomain { .. }
    ));
}

#[test]
fn all_censored_data() {
    let s = Subject::builder("E5")
        .dose(0.0, 10.0)
        .observe_censored(180.0, "transgene", 5.0)
        .observe_censored(365.0, "transgene", 5.0)
        .build()
        .unwrap();
    assert!(
        matches!(fit_err(&CellularKinetics, &s, &stein_spec(), &FitOptions::default()), Error::AllCensored { subject } if subject == "E5")
    );
}

#[test]
fn non_positive_values_under_a_log_error_model() {
    let s = Subject::builder("E6")
        .observe(7.0, "transgene", 0.0)
        .observe(14.0, "transgene", 10.0)
        .build()
        .unwrap();
    let e = fit_err(&CellularKinetics, &s, &stein_spec(), &FitOptions::default());
    assert_eq!(
        e.data_kind(),
        Some(&DataErrorKind::NonPositiveForLogScale(0.0))
    );
}

#[test]
fn a_fit_that_does_not_converge_is_an_error_not_a_result() {
    let opts = FitOptions {
        max_iters: 3,
        starts: 2,
        ..FitOptions::default()
    };
    match fit_err(
        &CellularKinetics,
        &transgene_subject(),
        &stein_spec(),
        &opts,
    ) {
        Error::NotConverged {
            subject,
            starts,
            reason,
            ..
        } => {
            assert_eq!((subject.as_str(), starts), ("E1", 2));
            assert_eq!(
                reason,
                cart_pkpd::fit::Termination::MaxIterations,
                "{reason}"
            );
        }
        e => panic!("{e}"),
    }
}

#[test]
fn invalid_options() {
    for opts in [
        FitOptions {
            starts: 0,
            ..FitOptions::default()
        },
        FitOptions {
            tolerance: 0.0,
            ..FitOptions::default()
        },
        FitOptions {
            spread: f64::NAN,
            ..FitOptions::default()
        },
        FitOptions {
            hessian_step: -1.0,
            ..FitOptions::default()
        },
    ] {
        assert!(matches!(
            fit_err(
                &CellularKinetics,
                &transgene_subject(),
                &stein_spec(),
                &opts
            ),
            Error::InvalidFitOptions { .. }
        ));
    }
}

#[test]
fn doses_the_model_cannot_take() {
    let s = Subject::builder("E7")
        .dose(0.0, 10.0)
        .observe(7.0, "transgene", 2e4)
        .dose(30.0, 10.0)
        .observe(40.0, "transgene", 2e3)
        .build()
        .unwrap();
    assert!(matches!(
        fit_err(&CellularKinetics, &s, &stein_spec(), &FitOptions::default()),
        Error::InvalidDose { .. }
    ));
}
