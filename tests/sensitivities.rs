//! Forward sensitivities (`simulate_sensitivities` on the ODE) against independent
//! references: central differences of the exact (matrix-exponential) solution of the PK
//! models through every kind of dose event, the closed form of model 1 (whose breakpoints
//! move with the parameters), a closed-form derivative, and central differences of
//! high-accuracy solutions of model 2 (lymphodepletion at the dose, a dose scale, an
//! initial state that depend on the parameters) and of a Michaelis–Menten model at steady
//! state.

mod differences;

use cart_pkpd::model::state_index;
use cart_pkpd::models::pk::{OneCmtOral, OneCmtOralParams, TwoCmtIv, TwoCmtIvParams};
use cart_pkpd::models::{CarTBCell, CarTBCellParams, CellularKinetics, CellularKineticsParams};
use cart_pkpd::{
    CompartmentDosing, Dose, DoseInput, DoseRate, Error, Integrator, Model, OutputSpec, Parameters,
    Result, SensitivityMethod, SolverOptions, SteadyState, parameters, simulate_sensitivities,
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

/// The forward sensitivities of the ODE (Auto, which is Dopri5 here, Dop853 and Rodasp)
/// against central differences of the exact solution, for every parameter in `wrt`.
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
    for integrator in [Integrator::Auto, Integrator::Dop853, Integrator::Rodasp] {
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
            assert_close(a, b, 1e-6, 1e-3, &format!("{name}: ∂cp/∂{q}"));
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
    let analytes = ["transgene", "b_cells"];
    for q in wrt {
        let expected =
            differences::central((&model, &p), q, (&doses, &times), &reference, &analytes);
        for (analyte, expected) in analytes.iter().zip(expected) {
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
    let e =
        simulate_sensitivities(&OneCmtOral, &p, &["clearance"], &bolus, &[1.0], &ode).unwrap_err();
    assert!(matches!(e, Error::UnknownParameter { .. }), "{e}");
}

#[test]
fn steady_states_of_regimens_and_of_a_constant_infusion() {
    let oral = OneCmtOralParams::new(1.2, 4.0, 40.0)
        .unwrap()
        .with_all(&[("f1", 0.8), ("alag1", 0.7)])
        .unwrap();
    // outputs on both sides of the lagged dose (0.7) and of the infusion's end
    let times = [0.0, 0.35, 1.0, 3.0, 6.0, 11.9, 12.35, 13.0, 24.5, 30.0];
    let bolus = Dose::bolus(0.0, 100.0).steady_state().every(12.0);
    let wrt = ["ka", "cl", "v", "f1", "alag1"];
    check_against_exact(
        &OneCmtOral,
        &oral,
        &wrt,
        std::slice::from_ref(&bolus),
        &times,
        "SS bolus, lag",
    );
    let with_addl = [bolus.repeat(2, 12.0)];
    check_against_exact(
        &OneCmtOral,
        &oral,
        &wrt,
        &with_addl,
        &times,
        "SS bolus, ADDL",
    );
    // SS = 2: a regimen's steady state added to an earlier dose
    let plain = OneCmtOralParams::new(1.2, 4.0, 40.0).unwrap();
    let added = [
        Dose::bolus(0.0, 50.0),
        Dose::bolus(5.0, 100.0)
            .with_ss(SteadyState::Add)
            .every(12.0),
    ];
    let wrt = ["ka", "cl", "v"];
    check_against_exact(&OneCmtOral, &plain, &wrt, &added, &times, "SS = 2");
    // infusions: fixed rate, modelled rate and duration; one lasting 2.5 intervals
    let central = OneCmtOralParams::new(1.0, 5.0, 50.0)
        .unwrap()
        .with_all(&[("f2", 0.9), ("alag2", 0.4), ("r2", 30.0), ("d2", 3.0)])
        .unwrap();
    let long = central.with("d2", 30.0).unwrap();
    let wrt = ["cl", "v", "f2", "alag2", "r2", "d2"];
    for (what, p, rate) in [
        ("SS fixed rate", &central, DoseRate::Rate(25.0)),
        ("SS modelled rate", &central, DoseRate::ModelledRate),
        ("SS modelled duration", &central, DoseRate::ModelledDuration),
        (
            "SS infusions overlapping",
            &long,
            DoseRate::ModelledDuration,
        ),
    ] {
        let doses = [Dose::bolus(0.0, 100.0)
            .into_state("central")
            .with_rate(rate)
            .steady_state()
            .every(12.0)];
        check_against_exact(&OneCmtOral, p, &wrt, &doses, &times, what);
    }
    // a constant infusion at steady state (AMT 0, II 0), then a bolus
    let p = TwoCmtIvParams::new(5.0, 30.0, 8.0, 60.0).unwrap();
    let doses = [
        Dose::infusion(0.0, 0.0, 10.0).steady_state(),
        Dose::bolus(10.0, 20.0),
    ];
    let times = [0.0, 1.0, 5.0, 9.0, 11.0, 20.0];
    let wrt = ["cl", "vc", "q", "vp"];
    check_against_exact(&TwoCmtIv, &p, &wrt, &doses, &times, "SS constant infusion");
}

parameters! {
    /// A one-compartment model with first-order absorption and Michaelis–Menten
    /// elimination.
    pub struct SaturableParams {
        /// Absorption rate constant.
        ka: Positive = 1.0 => "1/h",
        /// Largest elimination rate.
        vmax: Positive = 20.0 => "mg/h",
        /// Concentration at half the largest rate.
        km: Positive = 2.0 => "mg/L",
        /// Volume.
        v: Positive = 30.0 => "L",
        /// Bioavailability of doses into the depot.
        f1: Positive = 0.7 => "-",
        /// Lag time of doses into the depot.
        alag1: Positive = 0.5 => "h",
    }
}

/// Depot and central amounts (mg); `cp = central/v`; `d central/dt = ka·depot −
/// vmax·cp/(km + cp)`, so that the steady state is found by Newton's method, not solved.
struct Saturable;

impl Model for Saturable {
    type Params = SaturableParams;

    fn name(&self) -> &str {
        "saturable"
    }

    fn state_names(&self, _: &Self::Params) -> Vec<String> {
        vec!["depot".into(), "central".into()]
    }

    fn outputs(&self) -> &[OutputSpec] {
        const CP: [OutputSpec; 1] = [OutputSpec {
            name: "cp",
            unit: "mg/L",
            description: "concentration",
        }];
        &CP
    }

    fn initial_state(&self, _: &Self::Params, x0: &mut [f64]) {
        x0.fill(0.0);
    }

    fn derivatives(&self, _: f64, x: &[f64], p: &Self::Params, dx: &mut [f64]) {
        let cp = x[1] / p.v();
        dx[0] = -p.ka() * x[0];
        dx[1] = p.ka() * x[0] - p.vmax() * cp / (p.km() + cp);
    }

    fn output(&self, _: f64, x: &[f64], p: &Self::Params, y: &mut [f64]) {
        y[0] = x[1] / p.v();
    }

    fn dose_input(&self, _: &Self::Params, target: Option<&str>, time: f64) -> Result<DoseInput> {
        let state = state_index(&["depot", "central"], target.unwrap_or("depot"), time)?;
        Ok(DoseInput { state, scale: 1.0 })
    }

    fn compartment_dosing(&self, p: &Self::Params, state: usize) -> CompartmentDosing {
        match state {
            0 => CompartmentDosing {
                bioavailability: p.f1(),
                lag: p.alag1(),
                ..CompartmentDosing::default()
            },
            _ => CompartmentDosing::default(),
        }
    }
}

/// A nonlinear model's steady state (a regimen with lag and bioavailability, then a
/// constant infusion into the central compartment) against central differences (step 1e-4
/// relative) of solutions at rtol 1e-12. Measured worst error: 1.8e-8 of each derivative's
/// peak (∂cp/∂vmax).
#[test]
fn a_nonlinear_steady_state_against_differences_of_accurate_solutions() {
    let p = SaturableParams::new().unwrap();
    let times = [0.0, 0.25, 1.0, 2.0, 6.0, 11.0, 12.25, 14.0, 30.0];
    let wrt = ["ka", "vmax", "km", "v", "f1", "alag1"];
    let reference = SolverOptions::default().with_tolerances(1e-12, 1e-16);
    let regimens = [
        vec![Dose::bolus(0.0, 100.0).steady_state().every(12.0)],
        vec![
            Dose::infusion(0.0, 0.0, 5.0)
                .into_state("central")
                .steady_state(),
        ],
    ];
    for doses in regimens {
        let s = simulate_sensitivities(
            &Saturable,
            &p,
            &wrt,
            &doses,
            &times,
            &SolverOptions::accurate(),
        )
        .unwrap();
        assert_eq!(s.method, SensitivityMethod::ForwardSensitivities);
        for q in wrt {
            let expected =
                &differences::central((&Saturable, &p), q, (&doses, &times), &reference, &["cp"])
                    [0];
            let what = format!("{:?}: ∂cp/∂{q}", doses[0].rate);
            assert_close(s.get("cp", q).unwrap(), expected, 1e-5, 1e-3, &what);
        }
    }
}
