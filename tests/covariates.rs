//! Covariate effects in FOCE-I fits, on the Theophylline data with the built-in
//! one-compartment oral model: each form's population predictions (PRED) against its
//! formula at the fitted values (Bateman function), a covariate that changes within a
//! subject (last value carried forward and next value carried backward) against the
//! piecewise closed form, and the exponential form against the same fit written as a power
//! of an exponentiated column (how Phenobarbital's `lCl ~ Wt` had to be written before).

use cart_pkpd::data::{CovariateInterpolation, CovariateValue, CsvOptions, Record};
use cart_pkpd::models::pk::{OneCmtOral, OneCmtOralParams};
use cart_pkpd::nlme::{
    CovariateFunction, CovariateModel, PopulationFit, PopulationOptions, PopulationSpec,
    fit_population,
};
use cart_pkpd::{Dataset, ErrorModel, Subject};

/// Theophylline as `cp` observations of the built-in model, with covariates: `WT` (kg),
/// `EWT = exp(WT)`, `SEX` (a category: subjects 1–6 `M`, 7–12 `F`), `LAG` (h); and, if
/// `change_at` is given, `WT` rising by 20% at that time (an EVID 2 record).
fn theoph(change_at: Option<f64>) -> Dataset {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/theoph_nonmem.csv");
    let raw = Dataset::read_csv(path, &CsvOptions::default().any_analyte()).unwrap();
    let subjects = raw
        .subjects()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let wt = s.covariate("WT").unwrap();
            let mut b = Subject::builder(s.id())
                .covariate("WT", wt)
                .covariate("EWT", wt.exp())
                .covariate("SEX", if i < 6 { "M" } else { "F" })
                .covariate("LAG", 0.05 * i as f64)
                .dose(0.0, s.doses()[0].amount);
            let mut changed = false;
            for o in s.observations() {
                if let Some(t) = change_at.filter(|&t| !changed && o.time > t) {
                    b = b.covariate_at(t, "WT", 1.2 * wt);
                    changed = true;
                }
                b = b.observe(o.time, "cp", o.value);
            }
            b.build().unwrap()
        })
        .collect();
    Dataset::new(subjects).unwrap()
}

fn fit(
    data: &Dataset,
    effects: Vec<CovariateModel>,
    interpolation: CovariateInterpolation,
) -> PopulationFit {
    let mut spec = PopulationSpec::new(OneCmtOralParams::new(1.5, 0.04, 0.5).unwrap())
        .estimate(&["ka", "cl", "v"])
        .random_diagonal(&[("ka", 0.3), ("cl", 0.1)])
        .residual("cp", ErrorModel::Additive { sd: 1.0 })
        .covariate_interpolation(interpolation);
    for e in effects {
        spec = spec.covariate(e);
    }
    let opts = PopulationOptions {
        covariance: false,
        ..PopulationOptions::default()
    };
    fit_population(&OneCmtOral, data, &spec, &opts).unwrap()
}

/// Central amount of a one-compartment oral model after `dose` at 0, with elimination
/// rate `k1` until `tc` and `k2` after it.
fn piecewise_amount(t: f64, dose: f64, ka: f64, k1: f64, k2: f64, tc: f64) -> f64 {
    let bateman = |a0: f64, k: f64, t: f64| a0 * ka / (ka - k) * ((-k * t).exp() - (-ka * t).exp());
    if t <= tc {
        bateman(dose, k1, t)
    } else {
        let x_c = bateman(dose, k1, tc);
        let depot_c = dose * (-ka * tc).exp();
        x_c * (-k2 * (t - tc)).exp() + bateman(depot_c, k2, t - tc)
    }
}

/// Checks every PRED of `fit` against `expected(subject, time)` (mg/L).
fn check_pred(fit: &PopulationFit, expected: impl Fn(&Subject, f64) -> f64, data: &Dataset) {
    for (s, est) in data.subjects().iter().zip(&fit.subjects) {
        for p in &est.predictions {
            let e = expected(s, p.time);
            assert!(
                (p.pred - e).abs() <= 1e-9 * e.abs().max(1e-3),
                "{} t {}: PRED {} vs {e}",
                s.id(),
                p.time,
                p.pred
            );
        }
    }
}

fn theta(fit: &PopulationFit, i: usize) -> f64 {
    fit.theta[i].value
}

#[test]
fn exponential_form_equals_a_power_of_the_exponentiated_covariate() {
    let data = theoph(None);
    let exponential = fit(
        &data,
        vec![CovariateModel::Exponential {
            parameter: "cl".into(),
            covariate: "WT".into(),
            reference: 70.0,
        }],
        CovariateInterpolation::Locf,
    );
    // (EWT/e^70)^β = exp(β·(WT − 70)): the same model
    let power = fit(
        &data,
        vec![CovariateModel::Power {
            parameter: "cl".into(),
            covariate: "EWT".into(),
            reference: 70f64.exp(),
        }],
        CovariateInterpolation::Locf,
    );
    assert!(
        (exponential.ofv - power.ofv).abs() < 1e-6,
        "{} vs {}",
        exponential.ofv,
        power.ofv
    );
    let (b_exp, b_pow) = (theta(&exponential, 3), theta(&power, 3));
    assert!((b_exp - b_pow).abs() < 1e-6, "{b_exp} vs {b_pow}");
    let (ka, cl, v) = (
        theta(&exponential, 0),
        theta(&exponential, 1),
        theta(&exponential, 2),
    );
    check_pred(
        &exponential,
        |s, t| {
            let k = cl * (b_exp * (s.covariate("WT").unwrap() - 70.0)).exp() / v;
            piecewise_amount(t, s.doses()[0].amount, ka, k, k, f64::INFINITY) / v
        },
        &data,
    );
}

#[test]
fn linear_categorical_value_and_function_forms_predict_as_their_formulas() {
    let data = theoph(None);
    let allometry = CovariateFunction::new("allometry", 0.75, |b, wt| (wt / 70.0).powf(b));
    let fitted = fit(
        &data,
        vec![
            CovariateModel::Linear {
                parameter: "v".into(),
                covariate: "WT".into(),
                reference: 70.0,
            },
            CovariateModel::Categorical {
                parameter: "cl".into(),
                covariate: "SEX".into(),
                level: CovariateValue::from("F"),
            },
            CovariateModel::Function {
                parameter: "ka".into(),
                covariate: "WT".into(),
                function: allometry,
            },
            CovariateModel::Value {
                parameter: "alag1".into(),
                covariate: "LAG".into(),
            },
        ],
        CovariateInterpolation::Locf,
    );
    let t = |i| theta(&fitted, i);
    let (ka, cl, v, b_lin, b_sex, b_allo) = (t(0), t(1), t(2), t(3), t(4), t(5));
    check_pred(
        &fitted,
        |s, time| {
            let wt = s.covariate("WT").unwrap();
            let vi = v * (1.0 + b_lin * (wt - 70.0));
            let female = s.covariate_value("SEX") == Some(&CovariateValue::from("F"));
            let cli = cl * if female { b_sex.exp() } else { 1.0 };
            let kai = ka * (wt / 70.0).powf(b_allo);
            let lag = s.covariate("LAG").unwrap();
            if time <= lag {
                return 0.0;
            }
            piecewise_amount(
                time - lag,
                s.doses()[0].amount,
                kai,
                cli / vi,
                cli / vi,
                f64::INFINITY,
            ) / vi
        },
        &data,
    );
}

#[test]
fn a_covariate_changing_within_a_subject_changes_the_parameters_from_its_record() {
    let data = theoph(Some(6.0));
    for interpolation in [CovariateInterpolation::Locf, CovariateInterpolation::Nocb] {
        let fitted = fit(
            &data,
            vec![CovariateModel::Power {
                parameter: "cl".into(),
                covariate: "WT".into(),
                reference: 70.0,
            }],
            interpolation,
        );
        let (ka, cl, v, beta) = (
            theta(&fitted, 0),
            theta(&fitted, 1),
            theta(&fitted, 2),
            theta(&fitted, 3),
        );
        check_pred(
            &fitted,
            |s, time| {
                // the change record is at 6 h; NOCB applies the new value from the record
                // before it on
                let times: Vec<f64> = s.records().map(|r| r.time()).collect();
                let k = s
                    .records()
                    .position(|r| matches!(r, Record::Other { .. }))
                    .unwrap();
                let tc = match interpolation {
                    CovariateInterpolation::Locf => times[k],
                    CovariateInterpolation::Nocb => times[k - 1],
                };
                let wt = s.covariate("WT").unwrap();
                let k1 = cl * (wt / 70.0).powf(beta) / v;
                let k2 = cl * (1.2 * wt / 70.0).powf(beta) / v;
                piecewise_amount(time, s.doses()[0].amount, ka, k1, k2, tc) / v
            },
            &data,
        );
    }
}

#[test]
fn covariates_that_do_not_fit_the_form_are_errors_naming_subject_and_covariate() {
    let data = theoph(None);
    let spec = PopulationSpec::new(OneCmtOralParams::new(1.5, 0.04, 0.5).unwrap())
        .estimate(&["ka", "cl", "v"])
        .random_diagonal(&[("cl", 0.1)])
        .residual("cp", ErrorModel::Additive { sd: 1.0 });
    let bad = [
        CovariateModel::Power {
            parameter: "cl".into(),
            covariate: "SEX".into(),
            reference: 70.0,
        },
        CovariateModel::Power {
            parameter: "cl".into(),
            covariate: "LAG".into(),
            reference: 1.0,
        },
    ];
    for effect in bad {
        let err = fit_population(
            &OneCmtOral,
            &data,
            &spec.clone().covariate(effect),
            &PopulationOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, cart_pkpd::Error::InvalidCovariate { .. }),
            "{err}"
        );
    }
    let set_and_estimated = spec.clone().covariate(CovariateModel::Value {
        parameter: "cl".into(),
        covariate: "WT".into(),
    });
    assert!(
        fit_population(
            &OneCmtOral,
            &data,
            &set_and_estimated,
            &PopulationOptions::default()
        )
        .is_err()
    );
}
