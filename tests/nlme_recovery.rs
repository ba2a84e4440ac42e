//! Population fits on simulated CAR-T cohorts with the trial's design (13 + 6 subjects, the
//! transgene sampling days, LLOQ 5 copies/µg with M3): known population parameters are
//! recovered across seeded replicates; bad input is a typed error.

use cart_pkpd::models::{CellularKinetics, CellularKineticsParams};
use cart_pkpd::nlme::{CovariateModel, PopulationOptions, PopulationSpec, fit_population};
use cart_pkpd::population::PopulationModel;
use cart_pkpd::synthetic::{CohortDesign, Sampling, TRIAL_TRANSGENE_DAYS, simulate_cohort_dataset};
use cart_pkpd::{Dataset, Error, ErrorModel, Parameters, SolverOptions, Subject};
use nalgebra::DMatrix;

const TYPICAL: [&str; 4] = ["cmax", "alpha", "fb", "beta"];
const OMEGA: [(&str, f64); 2] = [("cmax", 0.25), ("alpha", 0.09)];
const SIGMA: f64 = 0.4;

fn cohort(seed: u64) -> Dataset {
    let pop =
        PopulationModel::<CellularKinetics>::diagonal(CellularKineticsParams::stein_2019(), &OMEGA)
            .unwrap();
    let mut design = CohortDesign::bms986353_sle();
    design.follow_up_days = vec![365.0; 19];
    design.sampling = vec![Sampling::new(
        "transgene",
        &TRIAL_TRANSGENE_DAYS,
        ErrorModel::LogAdditive { sd: SIGMA },
        Some(5.0),
    )];
    design.phenotype_sd = None;
    simulate_cohort_dataset(
        &CellularKinetics,
        &pop,
        &design,
        &SolverOptions::default(),
        seed,
    )
    .unwrap()
}

fn spec() -> PopulationSpec<CellularKinetics> {
    let start = CellularKineticsParams::stein_2019()
        .with_all(&[("cmax", 15_000.0), ("alpha", 0.2)])
        .unwrap();
    PopulationSpec::new(start)
        .estimate(&TYPICAL)
        .random_diagonal(&[("cmax", 0.1), ("alpha", 0.1)])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.3 })
}

/// 16 replicates: mean relative bias of typical values within 20%, of Ω variances within
/// 50% (the criteria), measured bias and CI coverage printed.
#[test]
fn model1_population_parameters_are_recovered_at_the_trial_design() {
    let truth = CellularKineticsParams::stein_2019();
    let mut names: Vec<String> = TYPICAL.iter().map(|s| s.to_string()).collect();
    names.extend(OMEGA.iter().map(|o| format!("omega2 {}", o.0)));
    names.push("sigma".into());
    let true_values: Vec<f64> = TYPICAL
        .iter()
        .map(|n| truth.get(n).unwrap())
        .chain(OMEGA.iter().map(|o| o.1))
        .chain([SIGMA])
        .collect();
    let n = 16;
    let (mut bias, mut covered) = (vec![0.0; names.len()], vec![0usize; names.len()]);
    for rep in 0..n {
        let fit = fit_population(
            &CellularKinetics,
            &cohort(100 + rep),
            &spec(),
            &PopulationOptions::default(),
        )
        .unwrap();
        let est: Vec<(f64, Option<f64>)> = fit
            .theta
            .iter()
            .map(|e| (e.value, e.se))
            .chain(fit.omega.iter().map(|o| (o.value, o.se)))
            .chain(fit.sigma.iter().map(|e| (e.value, e.se)))
            .collect();
        let cis: Vec<Option<(f64, f64)>> = fit
            .theta
            .iter()
            .map(|e| e.ci95)
            .chain(
                fit.omega
                    .iter()
                    .map(|o| o.se.map(|s| (o.value - 1.96 * s, o.value + 1.96 * s))),
            )
            .chain(fit.sigma.iter().map(|e| e.ci95))
            .collect();
        for i in 0..names.len() {
            bias[i] += (est[i].0 / true_values[i] - 1.0) / n as f64;
            covered[i] += usize::from(
                cis[i].is_some_and(|(lo, hi)| lo <= true_values[i] && true_values[i] <= hi),
            );
        }
    }
    for i in 0..names.len() {
        eprintln!(
            "{:<14} truth {:>10.4}  mean relative bias {:+.3}  CI coverage {:.2}",
            names[i],
            true_values[i],
            bias[i],
            covered[i] as f64 / n as f64
        );
    }
    for i in 0..TYPICAL.len() {
        assert!(bias[i].abs() < 0.20, "{}: bias {}", names[i], bias[i]);
    }
    for i in TYPICAL.len()..TYPICAL.len() + OMEGA.len() {
        assert!(bias[i].abs() < 0.50, "{}: bias {}", names[i], bias[i]);
    }
}

/// A categorical covariate (dose level 2 has 1.5 × the typical cmax) is recovered.
#[test]
fn a_categorical_covariate_effect_is_recovered() {
    // Scale the observed transgene of DL2 subjects by 1.5: exactly a factor on cmax for
    // model 1 (the level is proportional to cmax at every time).
    let data = cohort(7);
    let scaled: Vec<Subject> = data
        .subjects()
        .iter()
        .map(|s| {
            let factor = if s.covariate("DL") == Some(2.0) {
                1.5
            } else {
                1.0
            };
            let mut b = Subject::builder(s.id())
                .covariate("DL", s.covariate("DL").unwrap())
                .dose(0.0, s.doses()[0].amount);
            for o in s.observations() {
                let mut o = o.clone();
                if !o.censored {
                    o.value *= factor;
                }
                b = b.observation(o);
            }
            b.build().unwrap()
        })
        .collect();
    let data = Dataset::new(scaled).unwrap();
    let with = spec().covariate(CovariateModel::Categorical {
        parameter: "cmax".into(),
        covariate: "DL".into(),
        level: 2.0,
    });
    let fit = fit_population(
        &CellularKinetics,
        &data,
        &with,
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
}
