//! Regression tests for the adversarial trial's findings: each input below once panicked,
//! aborted, hung or returned a wrong answer with `Ok`; each now gives a typed error or a
//! right answer with an honest status.

use cart_pkpd::data::CsvOptions;
use cart_pkpd::fit::{FitOptions, FitSpec, FitStatus, fit_subject};
use cart_pkpd::models::pk::{OneCmtIv, OneCmtIvParams};
use cart_pkpd::models::{CarTBCell, CarTBCellParams, CellularKinetics, CellularKineticsParams};
use cart_pkpd::nlme::{PopulationOptions, PopulationSpec, fit_population};
use cart_pkpd::{
    DataErrorKind, Dataset, Dose, Error, ErrorModel, Parameters, SolverOptions, Subject, simulate,
};

fn iv_subject(id: &str, values: &[(f64, f64)]) -> Subject {
    let mut b = Subject::builder(id).dose(0.0, 100.0);
    for &(t, v) in values {
        b = b.observe(t, "cp", v);
    }
    b.build().unwrap()
}

#[test]
fn a_fit_with_nothing_to_estimate_is_an_evaluation() {
    let s = iv_subject("1", &[(1.0, 1.8), (4.0, 1.3)]);
    let spec = FitSpec::new(OneCmtIvParams::new(5.0, 50.0).unwrap())
        .residual_fixed("cp", ErrorModel::Additive { sd: 0.1 });
    let fit = fit_subject(&OneCmtIv, &s, &spec, &FitOptions::default()).unwrap();
    assert_eq!(fit.status, FitStatus::Evaluated);
    assert!(fit.estimates.is_empty());
    // −2LL at the fixed values: Σ ln(2π σ²) + (y − f)²/σ², f = 2·e^(−0.1 t)
    let expected: f64 = [(1.0, 1.8), (4.0, 1.3)]
        .iter()
        .map(|&(t, y): &(f64, f64)| {
            let f = 2.0 * (-0.1 * t).exp();
            (2.0 * std::f64::consts::PI * 0.01).ln() + (y - f).powi(2) / 0.01
        })
        .sum();
    assert!(
        (fit.minus_two_ll - expected).abs() < 1e-9,
        "{} vs {expected}",
        fit.minus_two_ll
    );
}

#[test]
fn a_spread_beyond_the_bound_is_an_options_error() {
    let s = iv_subject("1", &[(1.0, 1.8), (4.0, 1.3)]);
    let spec = FitSpec::new(OneCmtIvParams::new(5.0, 50.0).unwrap())
        .estimate(&["cl"])
        .residual("cp", ErrorModel::Additive { sd: 0.1 });
    for spread in [1e308, f64::INFINITY, -1.0, 21.0] {
        let opts = FitOptions {
            spread,
            ..FitOptions::default()
        };
        let err = fit_subject(&OneCmtIv, &s, &spec, &opts).unwrap_err();
        assert!(
            matches!(err, Error::InvalidFitOptions { .. }),
            "{spread}: {err}"
        );
    }
}

#[test]
fn a_residual_error_driven_to_zero_is_reported_unbounded() {
    // two observations, two parameters: the model fits them exactly
    let (cl, v) = (5.0, 50.0);
    let exact = |t: f64| 100.0 / v * (-(cl / v) * t).exp();
    let s = iv_subject("1", &[(1.0, exact(1.0)), (4.0, exact(4.0))]);
    let spec = FitSpec::new(OneCmtIvParams::new(4.0, 40.0).unwrap())
        .estimate(&["cl", "v"])
        .residual("cp", ErrorModel::Proportional { cv: 0.1 });
    let fit = fit_subject(&OneCmtIv, &s, &spec, &FitOptions::default()).unwrap();
    assert!(
        matches!(fit.status, FitStatus::Unbounded { ref parameter } if parameter == "cp.cv"),
        "{}",
        fit.status
    );
}

#[test]
fn a_one_subject_population_fit_is_refused() {
    let data = Dataset::new(vec![iv_subject("1", &[(1.0, 1.8), (4.0, 1.3), (8.0, 0.9)])]).unwrap();
    let spec = PopulationSpec::new(OneCmtIvParams::new(5.0, 50.0).unwrap())
        .estimate(&["cl", "v"])
        .random_diagonal(&[("cl", 0.1)])
        .residual("cp", ErrorModel::Proportional { cv: 0.1 });
    let err = fit_population(&OneCmtIv, &data, &spec, &PopulationOptions::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidOmega { .. }), "{err}");
}

#[test]
fn structural_integers_have_a_documented_bound() {
    let p = CarTBCellParams::default();
    for n in [2f64.powi(63), 1e9, 1e7, 2f64.powi(64), 51.0] {
        let err = p.with("n_transit", n).unwrap_err();
        assert!(
            matches!(err, Error::ParameterOutOfDomain { .. }),
            "{n}: {err}"
        );
    }
    assert!(p.with("n_transit", 50.0).is_ok());
}

#[test]
fn serialised_data_pass_the_same_checks() {
    let s = iv_subject("1", &[(1.0, 1.8)]);
    let one = serde_json::to_string(&Dataset::new(vec![s.clone()]).unwrap()).unwrap();
    let twice = one.replacen(
        "]}",
        &format!(",{}]}}", serde_json::to_string(&s).unwrap()),
        1,
    );
    assert!(
        serde_json::from_str::<Dataset>(&twice).is_err(),
        "duplicate IDs"
    );
    assert!(
        serde_json::from_str::<Dataset>(r#"{"subjects":[]}"#).is_err(),
        "empty data set"
    );
}

#[test]
fn censoring_flags_that_contradict_the_value_are_errors() {
    let read = |row: &str| {
        let text = format!("ID,TIME,DV,AMT,EVID,CENS,LLOQ\n1,0,.,100,1,0,.\n{row}\n");
        Dataset::from_csv_reader(text.as_bytes(), &CsvOptions::for_model(&OneCmtIv))
    };
    assert!(read("1,1,2.0,.,0,0,0.5").is_ok());
    assert!(read("1,1,0.5,.,0,1,0.5").is_ok(), "censored at the LLOQ");
    for (row, what) in [
        ("1,1,2.0,.,0,1,0.5", "CENS = 1 above the LLOQ"),
        ("1,1,0.2,.,0,0,0.5", "CENS = 0 below the LLOQ"),
    ] {
        let err = read(row).unwrap_err();
        assert!(
            matches!(err.data_kind(), Some(DataErrorKind::Inconsistent(_))),
            "{what}: {err}"
        );
    }
}

#[test]
fn model_1_through_the_ode_is_accurate_whatever_its_scale() {
    // C0 = cmax/foldx = 2.4e-16 copies/µg, far below the default absolute tolerance
    let p = CellularKineticsParams::stein_2019()
        .with("foldx", 1e20)
        .unwrap();
    let sim = simulate(
        &CellularKinetics,
        &p,
        &[Dose::bolus(0.0, 10.0)],
        &[p.tmax()],
        &SolverOptions::default().ode(),
    )
    .unwrap();
    let c = sim.get("transgene").unwrap()[0];
    assert!((c / 24_000.0 - 1.0).abs() < 1e-4, "{c}");
}

#[test]
fn model_2_outputs_that_cannot_be_negative_are_not() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let days: Vec<f64> = (0..=73).map(|i| f64::from(i) * 5.0).collect();
    let base = CarTBCellParams::default();
    for _ in 0..2000 {
        let mut v = base.values();
        for (x, name) in v.iter_mut().zip(CarTBCellParams::names()) {
            if !["n_transit", "h", "eps", "fn", "fs", "fld"].contains(&name) {
                *x *= rng.random_range(0.1..10.0);
            }
        }
        let Ok(p) = CarTBCellParams::from_values(&v) else {
            continue;
        };
        let sim = match simulate(
            &CarTBCell,
            &p,
            &[Dose::bolus(0.0, 10.0)],
            &days,
            &SolverOptions::default(),
        ) {
            Ok(s) => s,
            Err(Error::Solver { .. }) => continue,
            Err(e) => panic!("{e}"),
        };
        for (analyte, values) in sim.analytes.iter().zip(&sim.values) {
            for &y in values {
                assert!(y.is_finite() && y >= 0.0, "{analyte} = {y}");
                if analyte.ends_with("_pct") {
                    assert!(y <= 100.0 + 1e-9, "{analyte} = {y}");
                }
            }
        }
    }
}

#[test]
fn names_that_would_not_read_back_the_same_are_refused() {
    let b = || Subject::builder("P1").observe(1.0, "cp", 1.0);
    for bad in [
        b().covariate("CMT", 1.0),
        b().covariate("blq", 1.0),
        b().covariate("PCMT", 1.0),
        b().covariate("", 1.0),
        b().covariate("SEX", "."),
        b().covariate("SEX", " M"),
        Subject::builder(".").observe(1.0, "cp", 1.0),
        Subject::builder("").observe(1.0, "cp", 1.0),
        Subject::builder(" P1").observe(1.0, "cp", 1.0),
        Subject::builder("P1").observe(1.0, "", 1.0),
        Subject::builder("P1")
            .dose_event(Dose::bolus(0.0, 1.0).into_state("."))
            .observe(1.0, "cp", 1.0),
    ] {
        let err = bad.build().unwrap_err();
        assert!(
            matches!(err.data_kind(), Some(DataErrorKind::BadName(..))),
            "{err}"
        );
    }
    // a text covariate whose values all look like numbers would come back as numbers
    let s = b().covariate("GROUP", "1").build().unwrap();
    let err = Dataset::new(vec![s])
        .unwrap()
        .to_csv_writer(Vec::new())
        .unwrap_err();
    assert!(err.to_string().contains("GROUP"), "{err}");
}

#[test]
fn messages_point_at_the_problem() {
    let err = Dataset::read_csv("no/such/file.csv", &CsvOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no/such/file.csv"), "{err}");
    let err = Dataset::from_csv_reader(
        "ID,TIME,DV,ANALYTE\n1,0,1\n".as_bytes(),
        &CsvOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.to_string().matches("CSV error").count(), 1, "{err}");
    let err = Dataset::from_csv_reader(
        "ID,TIME,DV,CMT\n1,0,1,3\n".as_bytes(),
        &CsvOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("CsvOptions::cmt"), "{err}");
    let opts = SolverOptions {
        max_steps: 2,
        ..SolverOptions::accurate()
    };
    let err = simulate(
        &CarTBCell,
        &CarTBCellParams::default(),
        &[Dose::bolus(0.0, 10.0)],
        &[300.0],
        &opts,
    )
    .unwrap_err();
    assert!(
        !err.to_string().contains(" d:"),
        "no hard-coded unit: {err}"
    );
}

#[test]
fn a_population_start_that_cannot_be_evaluated_names_its_cause() {
    // a linear covariate effect whose factor 1 + β·(WT − 70) is negative for a subject at
    // the start: the error names the parameter, not the optimiser
    let subjects = (0..3)
        .map(|i| {
            Subject::builder(format!("{i}"))
                .covariate("WT", 70.0 + 10.0 * f64::from(i))
                .dose(0.0, 100.0)
                .observe(1.0, "cp", 1.8)
                .observe(4.0, "cp", 1.3)
                .build()
                .unwrap()
        })
        .collect();
    let data = Dataset::new(subjects).unwrap();
    let spec = PopulationSpec::new(OneCmtIvParams::new(5.0, 50.0).unwrap())
        .estimate(&["cl", "v"])
        .random_diagonal(&[("cl", 0.1)])
        .covariate(cart_pkpd::nlme::CovariateModel::Function {
            parameter: "cl".into(),
            covariate: "WT".into(),
            function: cart_pkpd::nlme::CovariateFunction::new("negative", -1.0, |b, _| b),
        })
        .residual("cp", ErrorModel::Proportional { cv: 0.1 });
    let err = fit_population(&OneCmtIv, &data, &spec, &PopulationOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::ParameterOutOfDomain { ref name, .. } if name == "cl"),
        "{err}"
    );
}

#[test]
fn an_outlier_that_swamps_the_likelihood_is_not_reported_as_converged() {
    // one concentration of 1e12 under an additive error: the residual SD takes it all and
    // the data no longer determine the between-subject variance
    let subjects: Vec<Subject> = (0..6)
        .map(|i| {
            let cl = 5.0 * (0.1 * f64::from(i) - 0.25).exp();
            let c = |t: f64| 2.0 * (-(cl / 50.0) * t).exp();
            let mut values = vec![(1.0, c(1.0)), (4.0, c(4.0)), (12.0, c(12.0))];
            if i == 0 {
                values[1].1 = 1e12;
            }
            iv_subject(&format!("{i}"), &values)
        })
        .collect();
    let data = Dataset::new(subjects).unwrap();
    let spec = PopulationSpec::new(OneCmtIvParams::new(5.0, 50.0).unwrap())
        .estimate(&["cl", "v"])
        .random_diagonal(&[("cl", 0.1)])
        .residual("cp", ErrorModel::Additive { sd: 0.2 });
    match fit_population(&OneCmtIv, &data, &spec, &PopulationOptions::default()) {
        Ok(fit) => {
            eprintln!("status: {}", fit.status);
            assert!(!fit.status.is_converged(), "{}", fit.status)
        }
        Err(e) => assert!(matches!(e, Error::PopulationNotConverged { .. }), "{e}"),
    }
}

#[test]
fn contradictions_between_columns_and_record_kinds_are_errors() {
    let read =
        |text: &str| Dataset::from_csv_reader(text.as_bytes(), &CsvOptions::for_model(&OneCmtIv));
    let cases = [
        (
            "ID,TIME,DV,AMT,CENS,BLQ,LLOQ\n1,0,.,100,0,0,.\n1,1,2,.,0,1,1\n",
            "BLQ",
        ), // both flags
        (
            "ID,TIME,DV,AMT,EVID,CENS,LLOQ\n1,0,.,100,1,1,1\n1,1,2,.,0,0,.\n",
            "CENS",
        ), // on a dose
        (
            "ID,TIME,DV,AMT,EVID,MDV\n1,0,.,100,1,0\n1,1,2,.,0,0\n",
            "MDV",
        ), // MDV 0 on a dose
        ("ID,TIME,DV,AMT,EVID\n1,0,.,100,1\n1,1,2,inf,0\n", "AMT"), // non-finite AMT
        ("ID,TIME,DV,AMT,EVID\n1,0,.,100,1\n1,1,2,5,0\n", "AMT"),   // an amount on an observation
    ];
    for (text, column) in cases {
        match read(text) {
            Err(Error::Data { location, .. }) => {
                assert_eq!(location.column.as_deref(), Some(column), "{text}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn many_records_at_one_time_read_in_linear_time() {
    // 100 000 dose records at the same time (a quadratic duplicate check once took 28 s)
    let mut text = String::from("ID,TIME,DV,AMT,EVID\n");
    for _ in 0..100_000 {
        text.push_str("1,0,.,1,1\n");
    }
    text.push_str("1,1,2,.,0\n");
    let data =
        Dataset::from_csv_reader(text.as_bytes(), &CsvOptions::for_model(&OneCmtIv)).unwrap();
    let total: f64 = data.subjects()[0].doses().iter().map(|d| d.amount).sum();
    assert_eq!(total, 100_000.0);
}
