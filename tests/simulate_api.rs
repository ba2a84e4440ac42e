//! The simulation API: dosing semantics checked against superposition of closed forms, and
//! every kind of bad input as a typed error.

#[allow(dead_code)]
#[path = "../examples/user_model.rs"]
mod user_model;

use approx::assert_relative_eq;
use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::{Dose, Error, Simulation, SolverOptions, simulate, simulate_closed_form};
use user_model::{OneCompartmentOral, OneCompartmentParams};

fn theoph_like() -> OneCompartmentParams {
    OneCompartmentParams::new(1.5, 0.08, 2.8).unwrap()
}

fn concentrations(doses: &[Dose], times: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let p = theoph_like();
    let opts = SolverOptions::accurate().ode();
    let ode = simulate(&OneCompartmentOral, &p, doses, times, &opts).unwrap();
    let exact = simulate_closed_form(&OneCompartmentOral, &p, doses, times).unwrap();
    (
        ode.get("concentration").unwrap().to_vec(),
        exact.get("concentration").unwrap().to_vec(),
    )
}

fn assert_all_close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_relative_eq!(*x, *y, max_relative = tol);
    }
}

#[test]
fn user_model_ode_matches_its_closed_form_with_repeated_and_iv_doses() {
    let doses = [
        Dose::bolus(0.0, 320.0),
        Dose::bolus(12.0, 320.0),
        Dose::bolus(30.0, 100.0).into_state("central"),
    ];
    let times: Vec<f64> = (1..=96).map(|i| f64::from(i) * 0.5).collect();
    let (ode, exact) = concentrations(&doses, &times);
    assert_all_close(&ode, &exact, 1e-8);
    // hand check of the closed form at t = 2 h after a single dose:
    // C = A·ka/(V(ka−ke))·(e^(−ke t) − e^(−ka t)), V = 2.8/0.08 = 35 L
    let (_, single) = concentrations(&[Dose::bolus(0.0, 320.0)], &[2.0]);
    let hand = 320.0 * 1.5 / (35.0 * 1.42) * ((-0.16f64).exp() - (-3.0f64).exp());
    assert_relative_eq!(single[0], hand, max_relative = 1e-12);
}

#[test]
fn doses_apply_before_outputs_at_the_same_time_and_in_any_order() {
    let t = [0.0, 12.0, 24.0];
    let forward = [
        Dose::bolus(0.0, 100.0).into_state("central"),
        Dose::bolus(12.0, 100.0).into_state("central"),
    ];
    let reversed = [forward[1].clone(), forward[0].clone()];
    let (a, _) = concentrations(&forward, &t);
    let (b, _) = concentrations(&reversed, &t);
    assert_all_close(&a, &b, 1e-15);
    // at t = 0 the IV dose is already in: C = 100 / 35
    assert_relative_eq!(a[0], 100.0 / 35.0, max_relative = 1e-14);
    // at 12 h: residual of the first dose plus the whole second one
    assert_relative_eq!(
        a[1],
        100.0 / 35.0 * (1.0 + (-0.96f64).exp()),
        max_relative = 1e-9
    );
}

#[test]
fn a_day_zero_dose_is_given_even_when_day_zero_is_not_an_output_time() {
    let p = CarTBCellParams::default();
    let dose = [Dose::bolus(0.0, 10.0)];
    let opts = SolverOptions::default();
    let with_zero = simulate(&CarTBCell, &p, &dose, &[0.0, 7.0], &opts).unwrap();
    let without = simulate(&CarTBCell, &p, &dose, &[7.0], &opts).unwrap();
    assert_relative_eq!(
        with_zero.get("transgene").unwrap()[1],
        without.get("transgene").unwrap()[0],
        max_relative = 1e-5
    );
}

#[test]
fn output_times_may_repeat_and_be_a_rounding_error_apart() {
    let t = [1.0, 1.0, 2.0, 2.0f64.next_up(), 3.0];
    let (ode, exact) = concentrations(&[Dose::bolus(0.0, 320.0)], &t);
    assert_all_close(&ode, &exact, 1e-8);
}

#[test]
fn bad_times_are_typed_errors() {
    let p = theoph_like();
    let opts = SolverOptions::default();
    for bad in [vec![2.0, 1.0], vec![f64::NAN], vec![0.0, f64::INFINITY]] {
        let err = simulate(&OneCompartmentOral, &p, &[], &bad, &opts).unwrap_err();
        assert!(matches!(err, Error::InvalidTimes { .. }), "{bad:?}: {err}");
    }
}

#[test]
fn bad_doses_are_typed_errors() {
    let p = theoph_like();
    let opts = SolverOptions::default();
    for bad in [
        Dose::bolus(0.0, -10.0),
        Dose::bolus(f64::NAN, 10.0),
        Dose::bolus(0.0, f64::INFINITY),
        Dose::bolus(0.0, 10.0).into_state("peripheral"),
    ] {
        let err = simulate(
            &OneCompartmentOral,
            &p,
            std::slice::from_ref(&bad),
            &[1.0],
            &opts,
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidDose { .. }), "{bad:?}: {err}");
    }
}

#[test]
fn bad_solver_options_are_typed_errors() {
    let p = theoph_like();
    for opts in [
        SolverOptions::default().with_tolerances(0.0, 1e-9),
        SolverOptions::default().with_tolerances(1e-6, f64::NAN),
        SolverOptions {
            max_steps: 0,
            ..SolverOptions::default()
        },
    ] {
        let err = simulate(&OneCompartmentOral, &p, &[], &[1.0], &opts).unwrap_err();
        assert!(
            matches!(err, Error::InvalidOptions { .. }),
            "{opts:?}: {err}"
        );
    }
}

#[test]
fn solver_failure_is_a_typed_error_not_a_panic() {
    let opts = SolverOptions {
        max_steps: 3,
        ..SolverOptions::accurate()
    };
    let err = simulate(
        &CarTBCell,
        &CarTBCellParams::default(),
        &[Dose::bolus(0.0, 10.0)],
        &[365.0],
        &opts,
    )
    .unwrap_err();
    match err {
        Error::Solver { model, reason, .. } => {
            assert_eq!(model, "cart_bcell");
            assert!(reason.contains("step budget"), "{reason}");
        }
        other => panic!("expected a solver error, got {other}"),
    }
}

#[test]
fn closed_form_is_refused_for_a_model_without_one() {
    let err =
        simulate_closed_form(&CarTBCell, &CarTBCellParams::default(), &[], &[1.0]).unwrap_err();
    assert!(matches!(err, Error::NoClosedForm { .. }), "{err}");
}

#[test]
fn simulation_serializes_and_writes_csv() {
    let sim = simulate(
        &CarTBCell,
        &CarTBCellParams::default(),
        &[Dose::bolus(0.0, 10.0)],
        &[0.0, 7.0, 28.0],
        &SolverOptions::default(),
    )
    .unwrap();
    let json = serde_json::to_string(&sim).unwrap();
    let back: Simulation = serde_json::from_str(&json).unwrap();
    assert_eq!(back, sim);
    let mut buf = Vec::new();
    sim.write_csv(&mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "time,transgene,b_cells,naive_b,memory_b,dn_b,naive_pct,memory_pct,dn_pct"
    );
    let day7: Vec<f64> = lines
        .nth(1)
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(day7[1], sim.get("transgene").unwrap()[1]); // shortest round-trip formatting
    assert!(sim.get("cd4").is_err());
}
