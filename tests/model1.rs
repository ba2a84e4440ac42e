//! Model 1 (Stein 2019 piecewise cellular kinetics): ODE form against the closed form, and
//! the closed form against the published parameter meanings.

use approx::assert_relative_eq;
use cart_pkpd::models::{CellularKinetics, CellularKineticsParams};
use cart_pkpd::{Dose, Error, Parameters, SolverOptions, simulate, simulate_closed_form};

/// Stein 2019 typical values with a liso-cel-like lag (Ogasawara 2021: 3.27 d).
fn with_lag() -> CellularKineticsParams {
    CellularKineticsParams::stein_2019()
        .with("tlag", 3.27)
        .unwrap()
}

/// Times on a grid plus the switch points and their floating-point neighbours.
fn times_around_switches(p: &CellularKineticsParams) -> Vec<f64> {
    let mut t: Vec<f64> = (0..=3650).map(|i| f64::from(i) * 0.1).collect();
    for s in [p.tlag(), p.tmax()] {
        t.extend([s.next_down(), s, s.next_up(), s - 1e-6, s + 1e-6]);
    }
    t.retain(|&x| x >= 0.0);
    t.sort_by(f64::total_cmp);
    t.dedup();
    t
}

fn assert_ode_matches_closed_form(p: &CellularKineticsParams) {
    let times = times_around_switches(p);
    let dose = [Dose::bolus(0.0, 10.0)];
    let opts = SolverOptions::accurate().ode();
    let ode = simulate(&CellularKinetics, p, &dose, &times, &opts).unwrap();
    let exact = simulate_closed_form(&CellularKinetics, p, &dose, &times).unwrap();
    let (a, b) = (
        ode.get("transgene").unwrap(),
        exact.get("transgene").unwrap(),
    );
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| ((x - y) / y).abs())
        .fold(0.0, f64::max);
    eprintln!("model 1 ODE vs closed form: worst relative difference {worst:e}");
    assert!(worst < 1e-8, "worst relative difference {worst:e}");
}

#[test]
fn ode_agrees_with_closed_form_without_lag() {
    assert_ode_matches_closed_form(&CellularKineticsParams::stein_2019());
}

#[test]
fn ode_agrees_with_closed_form_across_lag_and_tmax() {
    assert_ode_matches_closed_form(&with_lag());
}

#[test]
fn closed_form_honours_the_published_parameter_meanings() {
    let p = CellularKineticsParams::stein_2019();
    // C(0) = cmax / foldx, C(tmax) = cmax, continuous at tmax.
    assert_relative_eq!(p.transgene(0.0), 24_000.0 / 3900.0, max_relative = 1e-14);
    assert_relative_eq!(p.transgene(9.3), 24_000.0, max_relative = 1e-14);
    assert_relative_eq!(
        p.transgene(9.3_f64.next_down()),
        24_000.0,
        max_relative = 1e-12
    );
    // Expansion doubles every ln 2 / rho days.
    let doubling = std::f64::consts::LN_2 / p.rho();
    assert_relative_eq!(
        p.transgene(1.0 + doubling) / p.transgene(1.0),
        2.0,
        max_relative = 1e-12
    );
    // Terminal phase: fb·cmax·exp(−beta·s) dominates; local log-slope → −beta.
    let (t1, t2) = (2000.0, 2001.0);
    let slope = (p.transgene(t2) / p.transgene(t1)).ln() / (t2 - t1);
    assert_relative_eq!(slope, -0.0032, max_relative = 1e-9);
}

#[test]
fn lag_holds_the_level_constant() {
    let p = with_lag();
    let sim = simulate(
        &CellularKinetics,
        &p,
        &[],
        &[0.0, 1.0, 3.0, 3.27],
        &SolverOptions::default().ode(),
    )
    .unwrap();
    for &c in sim.get("transgene").unwrap() {
        assert_relative_eq!(c, 24_000.0 / 3900.0, max_relative = 1e-12);
    }
    // expansion then reaches cmax at tmax from the lag's end
    assert_relative_eq!(p.rho(), 3900f64.ln() / (9.3 - 3.27), max_relative = 1e-15);
}

#[test]
fn takes_only_the_day_zero_infusion() {
    let p = CellularKineticsParams::stein_2019();
    let late = [Dose::bolus(0.0, 10.0), Dose::bolus(30.0, 10.0)];
    let err = simulate(
        &CellularKinetics,
        &p,
        &late,
        &[60.0],
        &SolverOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidDose { time, .. } if time == 30.0),
        "{err}"
    );
    let wrong_state = [Dose::bolus(0.0, 10.0).into_state("M")];
    let err = simulate(
        &CellularKinetics,
        &p,
        &wrong_state,
        &[1.0],
        &SolverOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("`M`"), "{err}");
}

#[test]
fn relations_between_parameters_are_enforced() {
    let p = CellularKineticsParams::stein_2019();
    let err = p.with("tlag", 9.3).unwrap_err();
    assert!(err.to_string().contains("`tmax`"), "{err}");
    let err = p.with("beta", 0.2).unwrap_err();
    assert!(err.to_string().contains("`beta`"), "{err}");
    assert!(p.with("foldx", 1.0).is_err());
}
