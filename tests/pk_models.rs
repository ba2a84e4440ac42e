//! The PK model library: each model's exact solution against its ODE form for every kind
//! of dose (to 1e-8), and against textbook closed forms (Bateman function, bi-exponential
//! IV bolus); micro-constant constructors against the clearance parameterisation.

use cart_pkpd::models::pk::{
    OneCmtIv, OneCmtIvParams, OneCmtOral, OneCmtOralParams, ThreeCmtIv, ThreeCmtIvParams,
    ThreeCmtOral, ThreeCmtOralParams, TwoCmtIv, TwoCmtIvParams, TwoCmtOral, TwoCmtOralParams,
};
use cart_pkpd::{Dose, DoseRate, Model, Parameters, SolverOptions, SteadyState, simulate};

fn cp<M: Model>(
    model: &M,
    p: &M::Params,
    doses: &[Dose],
    times: &[f64],
    opts: &SolverOptions,
) -> Vec<f64> {
    simulate(model, p, doses, times, opts)
        .unwrap()
        .get("cp")
        .unwrap()
        .to_vec()
}

fn grid(to: f64, step: f64) -> Vec<f64> {
    (0..=((to / step) as usize))
        .map(|i| step * i as f64)
        .collect()
}

/// Every kind of dose record: bolus, infusion, lag and F, additional doses, steady state
/// (bolus, overlapping infusion, added), a modelled rate, a dose into another compartment.
fn regimens(second_cmt: u32) -> Vec<(&'static str, Vec<Dose>)> {
    vec![
        ("bolus", vec![Dose::bolus(0.0, 100.0)]),
        ("infusion", vec![Dose::infusion(0.0, 100.0, 30.0)]),
        ("repeated", vec![Dose::bolus(0.0, 100.0).repeat(5, 8.0)]),
        (
            "steady state",
            vec![Dose::bolus(0.0, 100.0).repeat(3, 12.0).steady_state()],
        ),
        (
            "steady-state infusion over 2 II",
            vec![
                Dose::infusion(0.0, 100.0, 4.0)
                    .repeat(3, 12.0)
                    .steady_state(),
            ],
        ),
        (
            "SS = 2",
            vec![
                Dose::bolus(0.0, 100.0).every(24.0).steady_state(),
                Dose::bolus(6.0, 40.0).every(24.0).with_ss(SteadyState::Add),
            ],
        ),
        (
            "modelled rate",
            vec![Dose::bolus(0.0, 100.0).with_rate(DoseRate::ModelledRate)],
        ),
        (
            "two compartments",
            vec![
                Dose::bolus(0.0, 100.0),
                Dose::infusion(3.0, 50.0, 10.0).into_cmt(second_cmt),
            ],
        ),
    ]
}

/// Worst relative difference between the exact and the ODE solution over every regimen.
fn exact_vs_ode<M: Model>(model: &M, p: &M::Params, second_cmt: u32) -> f64 {
    let p = p
        .with_all(&[("f1", 0.8), ("alag1", 0.75), ("r1", 20.0)])
        .unwrap();
    let times = grid(72.0, 0.25);
    let mut worst = 0.0f64;
    for (what, doses) in regimens(second_cmt) {
        let exact = cp(model, &p, &doses, &times, &SolverOptions::default());
        let ode = cp(model, &p, &doses, &times, &SolverOptions::accurate().ode());
        let peak = exact.iter().fold(0.0f64, |m, v| m.max(*v));
        for (i, (a, b)) in exact.iter().zip(&ode).enumerate() {
            let rel = (a - b).abs() / a.abs().max(1e-6 * peak);
            assert!(
                rel < 1e-8,
                "{} {what} at t = {}: exact {a} vs ODE {b}",
                model.name(),
                times[i]
            );
            worst = worst.max(rel);
        }
    }
    worst
}

#[test]
fn exact_solutions_agree_with_the_ode_forms() {
    let worst = [
        exact_vs_ode(&OneCmtIv, &OneCmtIvParams::new(5.0, 50.0).unwrap(), 1),
        exact_vs_ode(
            &OneCmtOral,
            &OneCmtOralParams::new(1.2, 5.0, 50.0).unwrap(),
            2,
        ),
        exact_vs_ode(
            &TwoCmtIv,
            &TwoCmtIvParams::new(5.0, 50.0, 10.0, 100.0).unwrap(),
            2,
        ),
        exact_vs_ode(
            &TwoCmtOral,
            &TwoCmtOralParams::new(1.2, 5.0, 50.0, 10.0, 100.0).unwrap(),
            2,
        ),
        exact_vs_ode(
            &ThreeCmtIv,
            &ThreeCmtIvParams::new(5.0, 50.0, 10.0, 100.0, 2.0, 300.0).unwrap(),
            3,
        ),
        exact_vs_ode(
            &ThreeCmtOral,
            &ThreeCmtOralParams::new(1.2, 5.0, 50.0, 10.0, 100.0, 2.0, 300.0).unwrap(),
            3,
        ),
    ];
    println!("worst relative difference exact vs ODE per model: {worst:?}");
}

#[test]
fn one_compartment_oral_is_the_bateman_function() {
    // ka = k exactly, and 1e-12 away: the Bateman limit k·t·e^(−kt), which is exact for the
    // first and within |ka − k|·t (relative) of the exact value for the second
    for (ka, cl, v, tol) in [
        (1.2, 5.0, 50.0, 1e-12),
        (0.1, 5.0, 50.0, 1e-12),
        (0.1 + 1e-12, 5.0, 50.0, 1e-10),
    ] {
        let p = OneCmtOralParams::new(ka, cl, v).unwrap();
        let k = cl / v;
        let times = grid(48.0, 0.5);
        let got = cp(
            &OneCmtOral,
            &p,
            &[Dose::bolus(0.0, 100.0)],
            &times,
            &SolverOptions::default(),
        );
        for (t, c) in times.iter().zip(got) {
            let bateman = if (ka - k).abs() < 1e-9 {
                100.0 / v * k * t * (-k * t).exp()
            } else {
                100.0 * ka / (v * (ka - k)) * ((-k * t).exp() - (-ka * t).exp())
            };
            assert!(
                (c - bateman).abs() <= tol * bateman.max(1e-3),
                "ka {ka} t {t}: {c} vs {bateman}"
            );
        }
    }
}

#[test]
fn two_compartment_iv_bolus_is_bi_exponential() {
    // C(t) = A·e^(−αt) + B·e^(−βt), α, β the roots of λ² − (k10+k12+k21)λ + k10·k21,
    // A = D/V·(α − k21)/(α − β), B = D/V·(k21 − β)/(α − β)
    let (cl, v, q, vp): (f64, f64, f64, f64) = (5.0, 50.0, 10.0, 100.0);
    let (k10, k12, k21) = (cl / v, q / v, q / vp);
    let s = k10 + k12 + k21;
    let root = (s * s - 4.0 * k10 * k21).sqrt();
    let (alpha, beta) = ((s + root) / 2.0, (s - root) / 2.0);
    let p = TwoCmtIvParams::new(cl, v, q, vp).unwrap();
    let times = grid(200.0, 1.0);
    let got = cp(
        &TwoCmtIv,
        &p,
        &[Dose::bolus(0.0, 100.0)],
        &times,
        &SolverOptions::default(),
    );
    for (t, c) in times.iter().zip(got) {
        let a = 100.0 / v * (alpha - k21) / (alpha - beta);
        let b = 100.0 / v * (k21 - beta) / (alpha - beta);
        let expected = a * (-alpha * t).exp() + b * (-beta * t).exp();
        assert!(
            (c - expected).abs() <= 1e-12 * expected,
            "t {t}: {c} vs {expected}"
        );
    }
}

#[test]
fn micro_constants_give_the_same_model() {
    let times = grid(48.0, 1.0);
    let dose = [Dose::bolus(0.0, 100.0)];
    let opts = SolverOptions::default();
    let a = cp(
        &TwoCmtOral,
        &TwoCmtOralParams::new(1.2, 5.0, 50.0, 10.0, 100.0).unwrap(),
        &dose,
        &times,
        &opts,
    );
    let b = cp(
        &TwoCmtOral,
        &TwoCmtOralParams::from_micro(1.2, 0.1, 0.2, 0.1, 50.0).unwrap(),
        &dose,
        &times,
        &opts,
    );
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-13 * x.abs().max(1e-12));
    }
    let p = ThreeCmtIvParams::from_micro(0.1, 0.2, 0.1, 0.04, 0.01, 50.0).unwrap();
    assert_eq!(
        (p.cl(), p.q1(), p.vp1(), p.q2(), p.vp2()),
        (5.0, 10.0, 100.0, 2.0, 200.0)
    );
    assert_eq!(OneCmtIvParams::from_micro(0.1, 50.0).unwrap().cl(), 5.0);
}

#[test]
fn a_modelled_rate_or_duration_the_model_does_not_give_is_an_error() {
    let p = OneCmtIvParams::new(5.0, 50.0).unwrap();
    for rate in [DoseRate::ModelledRate, DoseRate::ModelledDuration] {
        let err = simulate(
            &OneCmtIv,
            &p,
            &[Dose::bolus(0.0, 100.0).with_rate(rate)],
            &[1.0],
            &SolverOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("modelled"), "{err}");
    }
    // a lag not shorter than the interval of a steady-state dose
    let lagged = p.with("alag1", 12.0).unwrap();
    let err = simulate(
        &OneCmtIv,
        &lagged,
        &[Dose::bolus(0.0, 100.0).every(12.0).steady_state()],
        &[1.0],
        &SolverOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, cart_pkpd::Error::SteadyState { .. }), "{err}");
}

#[test]
fn a_steady_state_that_is_not_reached_in_the_iteration_budget_is_an_error() {
    let p = OneCmtOralParams::new(1.2, 5.0, 50.0).unwrap();
    let opts = SolverOptions {
        ss_max_iterations: 1,
        ..SolverOptions::accurate().ode()
    };
    let err = simulate(
        &OneCmtOral,
        &p,
        &[Dose::bolus(0.0, 100.0).every(12.0).steady_state()],
        &[1.0],
        &opts,
    )
    .unwrap_err();
    match err {
        cart_pkpd::Error::SteadyState { reason, .. } => {
            assert!(reason.contains("ss_max_iterations"), "{reason}")
        }
        other => panic!("{other}"),
    }
    // with the default budget the same steady state is reached
    let opts = SolverOptions::accurate().ode();
    assert!(
        simulate(
            &OneCmtOral,
            &p,
            &[Dose::bolus(0.0, 100.0).every(12.0).steady_state()],
            &[1.0],
            &opts
        )
        .is_ok()
    );
}

#[test]
fn regimens_beyond_the_documented_bounds_are_errors_not_hangs() {
    let p = OneCmtIvParams::new(5.0, 50.0).unwrap();
    let opts = SolverOptions::default();
    let too_many = Dose::bolus(0.0, 1.0).repeat(cart_pkpd::dose::MAX_ADDL + 1, 1e-6);
    let err = simulate(&OneCmtIv, &p, &[too_many], &[1.0], &opts).unwrap_err();
    assert!(err.to_string().contains("ADDL"), "{err}");
    // an infusion of 1e12 dosing intervals at steady state
    let overlapping = Dose::infusion(0.0, 100.0, 1e-10).every(1.0).steady_state();
    let err = simulate(&OneCmtIv, &p, &[overlapping], &[1.0], &opts).unwrap_err();
    assert!(matches!(err, cart_pkpd::Error::SteadyState { .. }), "{err}");
}
