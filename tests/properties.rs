//! Property-based tests of the public entry points (proptest): random valid data sets
//! round-trip exactly through CSV and JSON; random CSV rows give a data set or a typed
//! error, and every data set read simulates or gives a typed error — never a panic;
//! random parameters within their domains simulate to finite, non-negative outputs (or a
//! typed solver error).

use cart_pkpd::data::{CsvOptions, Observation};
use cart_pkpd::models::pk::{
    OneCmtOral, OneCmtOralParams, ThreeCmtIv, ThreeCmtIvParams, TwoCmtOral, TwoCmtOralParams,
};
use cart_pkpd::models::{CarTBCell, CarTBCellParams, CellularKinetics, CellularKineticsParams};
use cart_pkpd::{
    Compartment, Dataset, Dose, DoseRate, Error, Parameters, SolverOptions, SteadyState, Subject,
    simulate, simulate_subject,
};
use proptest::prelude::*;

/// A valid dose record at `time`.
fn dose(time: f64) -> impl Strategy<Value = Dose> {
    let rate = prop_oneof![
        3 => Just(DoseRate::Bolus),
        1 => (0.1f64..100.0).prop_map(DoseRate::Rate),
        1 => Just(DoseRate::ModelledRate),
        1 => Just(DoseRate::ModelledDuration),
    ];
    let target = prop_oneof![
        Just(None),
        (1u32..=3).prop_map(|n| Some(Compartment::Number(n))),
        prop::sample::select(vec!["depot", "central"])
            .prop_map(|s| Some(Compartment::Name(s.into()))),
    ];
    (
        0.1f64..1e4,
        rate,
        target,
        0u32..4,
        0.5f64..48.0,
        0u8..6,
        any::<bool>(),
    )
        .prop_map(move |(amount, rate, target, addl, ii, ss, reset)| {
            let ss = match ss {
                0 => SteadyState::Reset,
                1 => SteadyState::Add,
                _ => SteadyState::No,
            };
            Dose {
                time,
                amount,
                target,
                rate,
                addl,
                ii,
                ss,
                reset: reset && addl == 0,
            }
        })
}

/// A valid observation at `time`: censoring and the LLOQ agree with the value.
fn observation(time: f64) -> impl Strategy<Value = Observation> {
    let analyte = prop::sample::select(vec!["cp", "transgene", "b_cells"]);
    (
        analyte,
        1e-3f64..1e5,
        prop::option::of(1e-3f64..1e2),
        0u8..4,
    )
        .prop_map(move |(analyte, value, lloq, kind)| {
            let censored = lloq.is_some() && kind == 0;
            let mdv = !censored && kind == 1;
            let value = match lloq {
                Some(l) if censored => l,
                Some(l) if !mdv => value.max(l),
                _ => value,
            };
            Observation {
                time,
                analyte: analyte.into(),
                value,
                lloq,
                censored,
                mdv,
            }
        })
}

/// One record kind with its time.
#[derive(Debug, Clone)]
enum Rec {
    Dose(Dose),
    Obs(Observation),
    Other(f64),
    Reset(f64),
    Weight(f64, f64),
}

fn record(time: f64) -> impl Strategy<Value = Rec> {
    prop_oneof![
        2 => dose(time).prop_map(Rec::Dose),
        4 => observation(time).prop_map(Rec::Obs),
        1 => Just(Rec::Other(time)),
        1 => Just(Rec::Reset(time)),
        1 => (30f64..150.0).prop_map(move |w| Rec::Weight(time, w)),
    ]
}

/// A subject: records at non-decreasing times (ties included), covariates numeric and text.
fn subject(id: usize) -> impl Strategy<Value = Subject> {
    let steps = prop::collection::vec(prop_oneof![Just(0.0), 0.0f64..50.0], 1..12);
    (
        steps,
        30f64..150.0,
        prop::sample::select(vec!["F", "M", "X-1"]),
    )
        .prop_flat_map(move |(steps, wt, sex)| {
            let mut t = -24.0;
            let times: Vec<f64> = steps
                .iter()
                .map(|d| {
                    t += d;
                    t
                })
                .collect();
            let recs: Vec<_> = times.iter().map(|&t| record(t)).collect();
            (recs, observation(t + 1.0), Just(wt), Just(sex))
        })
        .prop_map(move |(recs, last, wt, sex)| {
            let mut b = Subject::builder(format!("S{id}"))
                .covariate("WT", wt)
                .covariate("SEX", sex);
            for r in recs {
                b = match r {
                    Rec::Dose(d) => b.dose_event(d),
                    Rec::Obs(o) => b.observation(o),
                    Rec::Other(t) => b.event(t),
                    Rec::Reset(t) => b.reset(t),
                    Rec::Weight(t, w) => b.covariate_at(t, "WT", w),
                };
            }
            b.observation(last).build().expect("valid by construction")
        })
}

fn dataset() -> impl Strategy<Value = Dataset> {
    (1usize..4)
        .prop_flat_map(|n| (0..n).map(subject).collect::<Vec<_>>())
        .prop_map(|s| Dataset::new(s).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn valid_data_sets_round_trip_exactly(data in dataset()) {
        let mut buf = Vec::new();
        data.to_csv_writer(&mut buf).unwrap();
        let back = Dataset::from_csv_reader(buf.as_slice(), &CsvOptions::default().any_analyte()).unwrap();
        prop_assert_eq!(&back, &data);
        let json = serde_json::to_string(&data).unwrap();
        prop_assert_eq!(serde_json::from_str::<Dataset>(&json).unwrap(), data);
    }

    #[test]
    fn valid_data_sets_simulate_or_give_a_typed_error(data in dataset()) {
        let p = OneCmtOralParams::new(1.2, 5.0, 50.0).unwrap().with_all(&[("r1", 10.0), ("d2", 2.0)]).unwrap();
        for s in data.subjects() {
            for opts in [SolverOptions::default(), SolverOptions::default().ode()] {
                match simulate_subject(&OneCmtOral, &p, s, &opts) {
                    Ok(sim) => prop_assert!(sim.values[0].iter().all(|y| y.is_finite() && *y >= 0.0)),
                    Err(Error::InvalidDose { .. } | Error::SteadyState { .. } | Error::Solver { .. }) => {}
                    Err(e) => prop_assert!(false, "unexpected error: {}", e),
                }
            }
        }
    }

    #[test]
    fn random_rows_give_a_data_set_or_a_typed_error(
        rows in prop::collection::vec(
            prop::collection::vec(
                prop::sample::select(vec!["", ".", "0", "1", "2", "3", "4", "-1", "-2", "12", "1e308", "-1e308", "NaN", "inf", "abc", "2.5", "100", "1e-300"]),
                11,
            ),
            1..8,
        ),
    ) {
        let mut text = String::from("ID,TIME,DV,AMT,EVID,MDV,CMT,RATE,ADDL,II,SS\n");
        for r in &rows {
            text.push_str("1,");
            text.push_str(&r[1..].join(","));
            text.push('\n');
        }
        if let Ok(data) = Dataset::from_csv_reader(text.as_bytes(), &CsvOptions::for_model(&OneCmtOral)) {
            let p = OneCmtOralParams::new(1.2, 5.0, 50.0).unwrap();
            for s in data.subjects() {
                if let Ok(sim) = simulate_subject(&OneCmtOral, &p, s, &SolverOptions::default()) {
                    prop_assert!(sim.values[0].iter().all(|y| !y.is_nan()));
                }
            }
        }
    }

    #[test]
    fn garbage_json_is_a_typed_error(text in "\\PC{0,200}") {
        let _ = serde_json::from_str::<Dataset>(&text);
        let _ = serde_json::from_str::<Subject>(&text);
    }

    #[test]
    fn pk_parameters_in_their_domains_give_finite_non_negative_outputs(
        ka in -6.0f64..6.0, cl in -6.0f64..6.0, vc in -6.0f64..6.0, q in -6.0f64..6.0, vp in -6.0f64..6.0,
        d in dose(0.0),
    ) {
        let times: Vec<f64> = (0..=48).map(|i| f64::from(i) * 2.0).collect();
        let e = f64::exp;
        let d = Dose { target: None, reset: false, ..d };
        let two = TwoCmtOralParams::new(e(ka), e(cl), e(vc), e(q), e(vp)).unwrap().with_all(&[("r1", 5.0), ("d1", 3.0)]).unwrap();
        let three = ThreeCmtIvParams::new(e(cl), e(vc), e(q), e(vp), e(ka), e(vp + 1.0)).unwrap().with_all(&[("r1", 5.0), ("d1", 3.0)]).unwrap();
        for opts in [SolverOptions::default(), SolverOptions::default().ode()] {
            check(simulate(&TwoCmtOral, &two, std::slice::from_ref(&d), &times, &opts))?;
            check(simulate(&ThreeCmtIv, &three, std::slice::from_ref(&d), &times, &opts))?;
        }
    }

    #[test]
    fn car_t_parameters_in_their_domains_give_finite_non_negative_outputs(
        factors in prop::collection::vec(-2.5f64..2.5, 21),
        dose in 0.0f64..100.0,
    ) {
        let times: Vec<f64> = (0..=73).map(|i| f64::from(i) * 5.0).collect();
        let base = CarTBCellParams::default();
        let v: Vec<f64> = base.values().iter().zip(&factors).zip(CarTBCellParams::names())
            .map(|((x, f), name)| if ["n_transit", "h", "eps", "fn", "fs", "fld"].contains(&name) { *x } else { x * f.exp() })
            .collect();
        if let Ok(p) = CarTBCellParams::from_values(&v) {
            check(simulate(&CarTBCell, &p, &[Dose::bolus(0.0, dose)], &times, &SolverOptions::default()))?;
        }
        let m1 = CellularKineticsParams::stein_2019();
        let w: Vec<f64> = m1.values().iter().zip(&factors).map(|(x, f)| x * f.exp()).collect();
        if let Ok(p) = CellularKineticsParams::from_values(&w) {
            check(simulate(&CellularKinetics, &p, &[Dose::bolus(0.0, dose)], &times, &SolverOptions::default().ode()))?;
        }
    }
}

/// Finite, non-negative outputs (percentages at most 100), or a typed solver error.
fn check(result: cart_pkpd::Result<cart_pkpd::Simulation>) -> Result<(), TestCaseError> {
    match result {
        Ok(sim) => {
            for (a, values) in sim.analytes.iter().zip(&sim.values) {
                for y in values {
                    prop_assert!(y.is_finite() && *y >= 0.0, "{} = {}", a, y);
                    prop_assert!(!a.ends_with("_pct") || *y <= 100.0 + 1e-9, "{} = {}", a, y);
                }
            }
            Ok(())
        }
        Err(Error::Solver { .. } | Error::SteadyState { .. }) => Ok(()),
        Err(e) => Err(TestCaseError::fail(format!("unexpected error: {e}"))),
    }
}
