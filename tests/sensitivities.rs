//! Forward sensitivities (`simulate_sensitivities` on the ODE) against independent
//! references: central differences of the exact (matrix-exponential) solution of the PK
//! models through every kind of dose event, the closed form of model 1 (whose breakpoints
//! move with the parameters), a closed-form derivative, and central differences of
//! high-accuracy solutions of model 2 (lymphodepletion at the dose, a dose scale, an
//! initial state that depend on the parameters).

use cart_pkpd::models::pk::{OneCmtOral, OneCmtOralParams, TwoCmtIv, TwoCmtIvParams};
use cart_pkpd::models::{CarTBCell, CarTBCellParams, CellularKinetics, CellularKineticsParams};
use cart_pkpd::{
    Dose, DoseRate, Error, Integrator, Model, Parameters, SensitivityMethod, SolverOptions,
    simulate, simulate_sensitivities,
};

/// `|a − b| ≤ rel·max(|b|, floor·max|b|)` at every point.
fn assert_close(a: &[f64], b: &[f64], rel: f64, floor: f64, what: &str) {
    let peak = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let tol = rel * y.abs().max(floor * peak);
        assert!(
            (x - y).abs() <= tol,
            "{what}, point {i}: {x} vs {y} (|diff| {:.2e}, tol {tol:.2e})",
            (x - y).abs()
        );
    }
}

/// The forward sensitivities of the ODE (Auto, which is Dop853 at rtol 1e-10, Dopri5 and
/// Rodasp) against central differences of the exact solution, for every parameter in `wrt`.
fn check_against_exact<M: Model>(
    model: &M,
    p: &M::Params,
    wrt: &[&str],
    doses: &[Dose],
    times: &[f64],
    what: &str,
) {
    let exact =
        simulate_sensitivities(model, p, wrt, doses, times, &SolverOptions::default()).unwrap();
    assert_eq!(exact.method, SensitivityMethod::ExactDifferences);
    let ode = SolverOptions::accurate().ode();
    for integrator in [Integrator::Auto, Integrator::Dopri5, Integrator::Rodasp] {
        let opts = ode.with_integrator(integrator);
        let s = simulate_sensitivities(model, p, wrt, doses, times, &opts).unwrap();
        assert_eq!(s.method, SensitivityMethod::ForwardSensitivities);
        let name = format!("{what}, {:?}", opts.integrator);
        assert_close(
            s.simulation.get("cp").unwrap(),
            exact.simulation.get("cp").unwrap(),
            1e-8,
            1e-6,
            &name,
        );
        for q in wrt {
            let (a, b) = (s.get("cp", q).unwrap(), exact.get("cp", q).unwrap());
            assert_close(a, b, 1e-6, 1e-4, &format!("{name}: ∂cp/∂{q}"));
        }
    }
}

fn grid(from: f64, to: f64, step: f64) -> Vec<f64> {
    let n = ((to - from) / step).round() as usize;
    (0..=n).map(|i| from + step * i as f64).collect()
}

#[test]
fn oral_boluses_with_lag_bioavailability_and_additional_doses() {
    let p = OneCmtOralParams::new(1.2, 4.0, 40.0)
        .unwrap()
        .with_all(&[("f1", 0.8), ("alag1", 0.7)])
        .unwrap();
    let doses = [Dose::bolus(0.0, 100.0).repeat(3, 12.0)];
    // output times away from the lagged dose times 0.7, 12.7, 24.7, 36.7
    let times = grid(0.35, 60.35, 1.0);
    let wrt = ["ka", "cl", "v", "f1", "alag1"];
    check_against_exact(&OneCmtOral, &p, &wrt, &doses, &times, "oral boluses");
}

#[test]
fn infusions_fixed_modelled_rate_and_modelled_duration() {
    let p = OneCmtOralParams::new(1.0, 5.0, 50.0)
        .unwrap()
        .with_all(&[("f2", 0.9), ("alag2", 0.4), ("r2", 30.0), ("d2", 3.0)])
        .unwrap();
    let times = grid(0.25, 40.25, 0.5);
    let wrt = ["cl", "v", "f2", "alag2", "r2", "d2"];
    let cases = [
        ("fixed rate", DoseRate::Rate(25.0)),
        ("modelled rate", DoseRate::ModelledRate),
        ("modelled duration", DoseRate::ModelledDuration),
    ];
    for (what, rate) in cases {
        let doses = [Dose::bolus(0.0, 100.0)
            .into_state("central")
            .with_rate(rate)
            .repeat(1, 12.0)];
        check_against_exact(&OneCmtOral, &p, &wrt, &doses, &times, what);
    }
}

#[test]
fn two_compartments_with_a_reset() {
    let p = TwoCmtIvParams::new(5.0, 30.0, 8.0, 60.0).unwrap();
    let doses = [
        Dose::infusion(0.0, 200.0, 100.0),
        Dose::bolus(10.0, 50.0),
        Dose::bolus(20.0, 80.0).after_reset(),
    ];
    let times = grid(0.5, 40.5, 1.0);
    let wrt = ["cl", "vc", "q", "vp"];
    check_against_exact(&TwoCmtIv, &p, &wrt, &doses, &times, "two compartments");
}

#[test]
fn model1_breakpoints_that_move_with_the_parameters() {
    // a lag of 1.5 d before the expansion, so that both breakpoints move
    let p = CellularKineticsParams::stein_2019()
        .with("tlag", 1.5)
        .unwrap();
    let times = grid(0.5, 200.5, 2.0);
    let wrt = ["tlag", "tmax", "cmax", "foldx", "alpha", "fb", "beta"];
    let closed = simulate_sensitivities(
        &CellularKinetics,
        &p,
        &wrt,
        &[],
        &times,
        &SolverOptions::default(),
    )
    .unwrap();
    assert_eq!(closed.method, SensitivityMethod::ExactDifferences);
    let opts = SolverOptions::accurate().ode();
    let s = simulate_sensitivities(&CellularKinetics, &p, &wrt, &[], &times, &opts).unwrap();
    assert_eq!(s.method, SensitivityMethod::ForwardSensitivities);
    for q in wrt {
        let (a, b) = (
            s.get("transgene", q).unwrap(),
            closed.get("transgene", q).unwrap(),
        );
        // 1e-6 relative, or 1e-8 of the derivative's peak where it is near 0
        assert_close(a, b, 1e-6, 1e-2, &format!("∂transgene/∂{q}"));
    }
}

#[test]
fn matches_the_closed_form_derivative_at_default_tolerances() {
    // C(t) = D·ka/(V(ka − k))·(e^(−kt) − e^(−ka·t)), k = CL/V
    let (ka, cl, v, dose) = (1.3, 6.0, 45.0, 100.0);
    let p = OneCmtOralParams::new(ka, cl, v).unwrap();
    let times = grid(0.25, 24.25, 0.5);
    let opts = SolverOptions::default().ode();
    let s = simulate_sensitivities(
        &OneCmtOral,
        &p,
        &["ka"],
        &[Dose::bolus(0.0, dose)],
        &times,
        &opts,
    )
    .unwrap();
    let k = cl / v;
    let expected: Vec<f64> = times
        .iter()
        .map(|&t| {
            let (ek, ea) = ((-k * t).exp(), (-ka * t).exp());
            let c = dose * ka / v * (ek - ea) / (ka - k);
            // ∂C/∂ka = C·(1/ka − 1/(ka − k)) + D·ka/(V(ka − k))·t·e^(−ka·t)
            c * (1.0 / ka - 1.0 / (ka - k)) + dose * ka / (v * (ka - k)) * t * ea
        })
        .collect();
    assert_close(s.get("cp", "ka").unwrap(), &expected, 1e-4, 1e-3, "∂cp/∂ka");
}

#[test]
fn model2_against_differences_of_accurate_solutions() {
    let model = CarTBCell;
    let p = CarTBCellParams::default();
    let doses = [Dose::bolus(0.0, 25.0)];
    let times = grid(1.0, 361.0, 15.0);
    let wrt = ["rho", "kmax", "gamma", "fld", "b0", "alpha", "mtt"];
    let opts = SolverOptions::accurate();
    let s = simulate_sensitivities(&model, &p, &wrt, &doses, &times, &opts).unwrap();
    assert_eq!(s.method, SensitivityMethod::ForwardSensitivities);
    let reference = SolverOptions::default().with_tolerances(1e-12, 1e-16);
    for q in wrt {
        let v = p.get(q).unwrap();
        let h = 1e-4 * v;
        let at = |d: f64| {
            simulate(
                &model,
                &p.with(q, v + d).unwrap(),
                &doses,
                &times,
                &reference,
            )
            .unwrap()
        };
        let (up, down) = (at(h), at(-h));
        for analyte in ["transgene", "b_cells"] {
            let expected: Vec<f64> = up
                .get(analyte)
                .unwrap()
                .iter()
                .zip(down.get(analyte).unwrap())
                .map(|(u, d)| (u - d) / (2.0 * h))
                .collect();
            let got = s.get(analyte, q).unwrap();
            assert_close(got, &expected, 1e-4, 1e-4, &format!("∂{analyte}/∂{q}"));
        }
    }
}

#[test]
fn unsupported_cases_are_named_errors() {
    let p = OneCmtOralParams::new(1.0, 5.0, 50.0).unwrap();
    let ode = SolverOptions::default().ode();
    let bolus = [Dose::bolus(0.0, 100.0)];
    // a lag time of 0 cannot be moved below 0
    let e = simulate_sensitivities(&OneCmtOral, &p, &["alag1"], &bolus, &[1.0], &ode).unwrap_err();
    assert!(matches!(e, Error::NoSensitivities { .. }), "{e}");
    assert!(e.to_string().contains("alag1"), "{e}");
    // steady state by the ODE
    let ss = [Dose::bolus(0.0, 100.0).every(12.0).steady_state()];
    let e = simulate_sensitivities(&OneCmtOral, &p, &["cl"], &ss, &[1.0], &ode).unwrap_err();
    assert!(matches!(e, Error::NoSensitivities { .. }), "{e}");
    // ...which the exact solution differentiates
    let exact = simulate_sensitivities(
        &OneCmtOral,
        &p,
        &["cl"],
        &ss,
        &[1.0],
        &SolverOptions::default(),
    );
    assert!(exact.is_ok());
    let e =
        simulate_sensitivities(&OneCmtOral, &p, &["clearance"], &bolus, &[1.0], &ode).unwrap_err();
    assert!(matches!(e, Error::UnknownParameter { .. }), "{e}");
}
