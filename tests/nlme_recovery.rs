//! Population fits on simulated CAR-T cohorts with the trial's design (13 + 6 subjects, the
//! transgene sampling days, LLOQ 5 copies/µg with M3): known population parameters are
//! recovered across seeded replicates; bad input is a typed error.

use cart_pkpd::models::CellularKinetics;
use cart_pkpd::nlme::{CovariateModel, PopulationOptions, fit_population};
use cart_pkpd::{Dataset, Error, Subject};
use nalgebra::DMatrix;

mod common;
use common::{OMEGA, TYPICAL, Tally, cohort, dl2_scaled_cohort, spec, spec_with_dl2};

/// 16 replicates: mean relative bias of typical values within 20%, of Ω variances within
/// 50% (the criteria), measured bias and CI coverage printed.
#[test]
fn model1_population_parameters_are_recovered_at_the_trial_design() {
    let mut tally = Tally::for_cohort();
    for rep in 0..16 {
        let fit = fit_population(
            &CellularKinetics,
            &cohort(100 + rep),
            &spec(),
            &PopulationOptions::default(),
        )
        .unwrap();
        tally.record(&fit);
    }
    tally.check(TYPICAL.len(), OMEGA.len(), 0.20, 0.50);
}

/// A categorical covariate (dose level 2 has 1.5 × the typical cmax) is recovered.
#[test]
fn a_categorical_covariate_effect_is_recovered() {
    let data = dl2_scaled_cohort(7, 1.5);
    let fit = fit_population(
        &CellularKinetics,
        &data,
        &spec_with_dl2(),
        &PopulationOptions::default(),
    )
    .unwrap();
    let beta = fit.theta.iter().find(|e| e.name.contains("DL")).unwrap();
    let (lo, hi) = beta.ci95.unwrap();
    eprintln!(
        "DL2 effect on ln cmax: {:.3} [{lo:.3}, {hi:.3}] (truth ln 1.5 = {:.3})",
        beta.value,
        1.5f64.ln()
    );
    assert!(lo < 1.5f64.ln() && 1.5f64.ln() < hi);
}

/// With log-additive error and BSV on `cmax` only, `ln f` is linear in `η` (model 1 is
/// proportional to cmax), so without censoring each EBE has a closed form:
/// `η̂ = (Σ_j r_j/σ²) / (n/σ² + 1/ω²)`, `r_j = ln y_j − ln PRED_j`. The inner optimiser must
/// land on it to within its stopping rule (Newton decrement < 1e-10, i.e. within
/// `√(1e-10/(2(n/σ² + 1/ω²)))`, about 1e-6 here).
#[test]
fn ebes_match_their_closed_form_when_the_model_is_linear_in_eta() {
    let quantified: Vec<Subject> = cohort(11)
        .subjects()
        .iter()
        .map(|s| {
            let mut b = Subject::builder(s.id()).dose(0.0, s.doses()[0].amount);
            for o in s.observations().iter().filter(|o| !o.censored) {
                b = b.observation(o.clone());
            }
            b.build().unwrap()
        })
        .collect();
    let one_eta = spec().random_diagonal(&[("cmax", 0.1)]);
    let fit = fit_population(
        &CellularKinetics,
        &Dataset::new(quantified).unwrap(),
        &one_eta,
        &PopulationOptions::default(),
    )
    .unwrap();
    let (omega2, sigma2) = (fit.omega[0].value, fit.sigma[0].value.powi(2));
    for s in &fit.subjects {
        let r: f64 = s
            .predictions
            .iter()
            .map(|p| p.observed.ln() - p.pred.ln())
            .sum();
        let n = s.predictions.len() as f64;
        let closed_form = (r / sigma2) / (n / sigma2 + 1.0 / omega2);
        approx::assert_abs_diff_eq!(s.eta[0], closed_form, epsilon = 1e-5);
    }
}

#[test]
fn bad_population_input_is_a_typed_error() {
    let data = cohort(1);
    let opts = PopulationOptions::default();
    // singular initial Ω
    let singular = spec().random_block(
        &["cmax", "alpha"],
        DMatrix::from_row_slice(2, 2, &[0.1, 0.1, 0.1, 0.1]),
    );
    assert!(matches!(
        fit_population(&CellularKinetics, &data, &singular, &opts),
        Err(Error::InvalidOmega { .. })
    ));
    // Ω of the wrong size
    let mut wrong = spec();
    wrong.omega = DMatrix::identity(3, 3);
    assert!(matches!(
        fit_population(&CellularKinetics, &data, &wrong, &opts),
        Err(Error::InvalidOmega { .. })
    ));
    // a covariate missing for a subject
    let needs_wt = spec().covariate(CovariateModel::Power {
        parameter: "cmax".into(),
        covariate: "WT".into(),
        reference: 70.0,
    });
    match fit_population(&CellularKinetics, &data, &needs_wt, &opts) {
        Err(Error::CovariateMissing { subject, covariate }) => {
            assert_eq!((subject.as_str(), covariate.as_str()), ("DL1-01", "WT"))
        }
        other => panic!("{other:?}"),
    }
    // a subject with no observations of the analyte the fit needs
    let mut subjects = data.subjects().to_vec();
    subjects.push(
        Subject::builder("X")
            .covariate("DL", 1.0)
            .dose(0.0, 10.0)
            .observe(7.0, "b_cells", 3.0)
            .build()
            .unwrap(),
    );
    let with_x = Dataset::new(subjects).unwrap();
    let spec_x = spec().ignore(&["b_cells"]);
    match fit_population(&CellularKinetics, &with_x, &spec_x, &opts) {
        Err(Error::NoObservations { subject, .. }) => assert_eq!(subject, "X"),
        other => panic!("{other:?}"),
    }
    // unknown and structural names
    let unknown = spec().random_diagonal(&[("ka", 0.1)]);
    assert!(matches!(
        fit_population(&CellularKinetics, &data, &unknown, &opts),
        Err(Error::UnknownParameter { .. })
    ));
    let twice = spec().estimate(&["cmax"]);
    assert!(matches!(
        fit_population(&CellularKinetics, &data, &twice, &opts),
        Err(Error::DuplicateEstimate { .. })
    ));
    // options out of their domain, each named in the error
    for (bad, name) in [
        (
            PopulationOptions {
                gradient_step: 0.0,
                ..PopulationOptions::default()
            },
            "gradient_step",
        ),
        (
            PopulationOptions {
                tolerance: f64::NAN,
                ..PopulationOptions::default()
            },
            "tolerance",
        ),
        (
            PopulationOptions {
                hessian_step: -1e-3,
                ..PopulationOptions::default()
            },
            "hessian_step",
        ),
        (
            PopulationOptions {
                max_iters: 0,
                ..PopulationOptions::default()
            },
            "max_iters",
        ),
    ] {
        match fit_population(&CellularKinetics, &data, &spec(), &bad) {
            Err(Error::InvalidFitOptions { reason }) => assert!(reason.contains(name), "{reason}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}
