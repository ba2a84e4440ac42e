//! The stiff integrator (Rodasp) and the automatic switch to it, against independent
//! references: SciPy's Radau at rtol 1e-13 (its BDF and LSODA agree to 2e-11 relative),
//! the conservation law of Robertson's problem, and the NONMEM event runs (in
//! `nonmem_events.rs`, which run through every integrator).

mod differences;
mod stiff_models;

use cart_pkpd::fit::{FitOptions, FitSpec, fit_subject};
use cart_pkpd::models::pk::{OneCmtOral, OneCmtOralParams};
use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::{
    Dose, Error, ErrorModel, Integrator, Parameters, SensitivityMethod, Simulation, SolverOptions,
    Subject, simulate, simulate_sensitivities,
};
use stiff_models::{Robertson, RobertsonParams, Tmdd, TmddParams};

/// Robertson's problem at t = 0.4, 4, …, 4e5: SciPy 1.17.1 Radau, rtol 1e-13, atol
/// 1e-16 (1e-20 for b), analytic Jacobian.
const ROBERTSON_TIMES: [f64; 7] = [0.4, 4.0, 40.0, 400.0, 4e3, 4e4, 4e5];
const ROBERTSON: [[f64; 3]; 7] = [
    [
        9.851_721_138_609_906e-1,
        3.386_395_378_974_901e-5,
        1.479_402_218_522_058e-2,
    ],
    [
        9.055_186_785_842_545e-1,
        2.240_475_687_560_204e-5,
        9.445_891_665_887_067e-2,
    ],
    [
        7.158_270_687_194_072e-1,
        9.185_534_764_557_808e-6,
        2.841_637_457_458_29e-1,
    ],
    [
        4.505_186_684_711_031e-1,
        3.222_901_441_674_619e-6,
        5.494_781_086_274_583e-1,
    ],
    [
        1.832_022_577_767_103e-1,
        8.942_371_252_775_91e-7,
        8.167_968_479_861_697e-1,
    ],
    [
        3.898_337_708_548_412e-2,
        1.621_768_315_909_728e-7,
        9.610_164_607_376_884e-1,
    ],
    [
        4.938_274_520_984_808e-3,
        1.984_994_087_956_388e-8,
        9.950_617_056_290_761e-1,
    ],
];

/// The TMDD model with its default parameters after 100 nM at 0 h and 240 nM infused at
/// 10 nM/h from 168 h: SciPy 1.17.1 Radau, rtol 1e-13, atol 1e-16, restarted at 168 h and
/// 192 h (LSODA agrees to 2e-11 relative). Columns: ligand, target, complex (nM).
const TMDD_TIMES: [f64; 10] = [0.5, 2.0, 8.0, 24.0, 72.0, 167.0, 180.0, 192.0, 240.0, 336.0];
const TMDD: [[f64; 3]; 10] = [
    [
        8.512_426_347_884_37e1,
        1.321_028_772_425_854e-3,
        1.024_549_709_843_176e1,
    ],
    [
        7.187_473_783_358_146e1,
        1.662_525_783_863_888e-3,
        1.094_977_900_366_021e1,
    ],
    [
        3.493_698_686_966_241e1,
        4.090_457_940_400_771e-3,
        1.329_185_824_870_539e1,
    ],
    [
        1.482_128_335_655_703e-1,
        1.076_417_504_624_358,
        1.585_204_142_435_011e1,
    ],
    [
        1.455_519_915_952_393e-3,
        9.926_796_939_078_272,
        1.444_936_684_595_281,
    ],
    [
        1.244_139_106_433_807e-5,
        1.000_000_685_305_968e1,
        1.244_202_103_871_351e-2,
    ],
    [
        5.988_314_635_164_301e1,
        2.566_019_865_889_259e-3,
        1.436_630_886_757_484e1,
    ],
    [
        8.093_041_766_063_882e1,
        2.212_530_861_961_003e-3,
        1.690_632_021_314_918e1,
    ],
    [
        5.574_970_535_877_637e-3,
        9.257_258_842_696_451,
        5.161_128_151_499_447,
    ],
    [
        4.227_129_666_530_431e-5,
        9.999_991_588_790_84,
        4.227_337_255_104_654e-2,
    ],
];

fn tmdd_doses() -> [Dose; 2] {
    [Dose::bolus(0.0, 100.0), Dose::infusion(168.0, 240.0, 10.0)]
}

/// Robertson's output times: a simulation starts at its first record, so t = 0 is one.
fn robertson_times() -> Vec<f64> {
    std::iter::once(0.0).chain(ROBERTSON_TIMES).collect()
}

/// The worst relative error of a simulation's three outputs against a reference for its
/// last outputs.
fn worst_error(sim: &Simulation, names: [&str; 3], reference: &[[f64; 3]]) -> f64 {
    let mut worst: f64 = 0.0;
    for (j, name) in names.iter().enumerate() {
        let values = sim.get(name).unwrap();
        let skip = values.len() - reference.len();
        for (value, row) in values[skip..].iter().zip(reference) {
            worst = worst.max(((value - row[j]) / row[j]).abs());
        }
    }
    worst
}

fn fails_on_the_step_budget(result: cart_pkpd::Result<Simulation>) {
    match result {
        Err(Error::Solver { reason, .. }) => {
            assert!(
                reason.contains("step budget") && reason.contains("Rodasp"),
                "{reason}"
            )
        }
        other => panic!("expected the step budget to run out, got {other:?}"),
    }
}

#[test]
fn dopri5_cannot_solve_robertson_within_its_step_budget() {
    let opts = SolverOptions::default().with_integrator(Integrator::Dopri5);
    let p = RobertsonParams::new().unwrap();
    fails_on_the_step_budget(simulate(&Robertson, &p, &[], &robertson_times(), &opts));
}

#[test]
fn robertson_is_solved_to_its_tolerance_and_conserves_mass() {
    let p = RobertsonParams::new().unwrap();
    // worst relative errors measured at rtol 1e-8: 1.4e-7 (Rodasp, 970 steps), 4.9e-7
    // (Auto); at rtol 1e-10: 2.2e-8 (Rodasp, 7,220 steps), 1.5e-8 (Auto)
    for (rtol, atol, bound) in [(1e-8, 1e-16, 1e-6), (1e-10, 1e-18, 1e-7)] {
        for integrator in [Integrator::Rodasp, Integrator::Auto] {
            let opts = SolverOptions::default()
                .with_tolerances(rtol, atol)
                .with_integrator(integrator);
            let sim = simulate(&Robertson, &p, &[], &robertson_times(), &opts).unwrap();
            let worst = worst_error(&sim, ["a", "b", "c"], &ROBERTSON);
            assert!(worst < bound, "{integrator:?} {rtol:e}: {worst:e}");
            // every stage is a combination of f and J·k, whose entries sum to 0
            for i in 0..=ROBERTSON_TIMES.len() {
                let total: f64 = ["a", "b", "c"].iter().map(|s| sim.get(s).unwrap()[i]).sum();
                assert!((total - 1.0).abs() < 1e-12, "{integrator:?}: {total}");
            }
            // Auto finds the problem stiff and finishes with Rodasp (measured: 1,046 steps at
            // rtol 1e-8, 15,945 at 1e-10 of which Dopri5 took 10,663, where Dopri5 alone
            // exhausts 100,000)
            let auto = integrator == Integrator::Auto;
            assert_eq!(sim.stats.stiff_switches, u64::from(auto));
            assert!(sim.stats.accepted_steps < 30_000, "{:?}", sim.stats);
            if !auto {
                // one Jacobian per step, kept through its rejected attempts
                assert_eq!(sim.stats.jacobians, sim.stats.accepted_steps);
            }
        }
    }
}

#[test]
fn tmdd_with_fast_binding_is_solved_to_1e_6_through_doses_and_an_infusion() {
    let p = TmddParams::new().unwrap();
    let run = |integrator, analytic_jacobian| {
        let opts = SolverOptions::default()
            .with_tolerances(1e-8, 1e-14)
            .with_integrator(integrator);
        let model = Tmdd { analytic_jacobian };
        simulate(&model, &p, &tmdd_doses(), &TMDD_TIMES, &opts).unwrap()
    };
    for integrator in [Integrator::Rodasp, Integrator::Auto] {
        for analytic in [false, true] {
            let sim = run(integrator, analytic);
            let worst = worst_error(&sim, ["ligand", "target", "complex"], &TMDD);
            assert!(
                worst < 1e-6,
                "{integrator:?}, analytic {analytic}: {worst:e}"
            );
            let auto = integrator == Integrator::Auto;
            assert_eq!(sim.stats.stiff_switches, u64::from(auto));
            assert!(sim.stats.jacobians > 0);
        }
        // the model's Jacobian saves the 3 right-hand sides of each difference Jacobian
        let (differences, analytic) = (run(integrator, false), run(integrator, true));
        assert!(
            analytic.stats.rhs_evaluations + 2 * analytic.stats.jacobians
                < differences.stats.rhs_evaluations,
            "{:?} {:?}",
            analytic.stats,
            differences.stats
        );
    }
    // Dopri5 gets there too, its steps limited by stability (h·|λ| ≤ 3.3 with |λ| ≈
    // kon·(L + R) ≈ 10⁴ /h) long after the binding has equilibrated: measured 152,000
    // steps and 914,000 right-hand sides, against RODASP's 4,700 and 47,000
    let explicit = run(Integrator::Dopri5, false);
    let implicit = run(Integrator::Rodasp, false);
    assert!(
        explicit.stats.accepted_steps > 100_000,
        "{:?}",
        explicit.stats
    );
    let work = explicit.stats.rhs_evaluations as f64 / implicit.stats.rhs_evaluations as f64;
    assert!(work > 10.0, "{work}");
}

/// Forward sensitivities carried through the automatic switch: the augmented system (the
/// 3 states and their derivatives along all 6 parameters) starts explicit, is found stiff,
/// and finishes with Rodasp (on the augmented system's own Jacobian), through a bolus, an
/// infusion and a bolus during it; against central differences (step 1e-4 relative) of
/// Rodasp solutions at rtol 1e-12. Measured worst error, relative to each derivative's
/// peak: 3.9e-7 with the model's Jacobian, 2.8e-7 without (the references' own error is of
/// that order).
#[test]
fn tmdd_sensitivities_are_carried_through_the_switch_to_rodasp() {
    let p = TmddParams::new().unwrap();
    let doses = [
        Dose::bolus(0.0, 100.0),
        Dose::infusion(168.0, 240.0, 10.0),
        Dose::bolus(200.0, 5.0),
    ];
    let times = [
        0.5, 2.0, 8.0, 24.0, 72.0, 167.0, 180.0, 192.0, 200.0, 240.0, 336.0,
    ];
    let wrt = ["kel", "kon", "koff", "kint", "ksyn", "kdeg"];
    let outputs = ["ligand", "target", "complex"];
    let reference = SolverOptions::default()
        .with_tolerances(1e-12, 1e-16)
        .with_integrator(Integrator::Rodasp);
    let opts = SolverOptions::default().with_tolerances(1e-8, 1e-12);
    for analytic_jacobian in [false, true] {
        let model = Tmdd { analytic_jacobian };
        let s = simulate_sensitivities(&model, &p, &wrt, &doses, &times, &opts).unwrap();
        assert_eq!(s.method, SensitivityMethod::ForwardSensitivities);
        assert_eq!(
            s.simulation.stats.stiff_switches, 1,
            "{:?}",
            s.simulation.stats
        );
        for q in wrt {
            let expected =
                differences::central((&model, &p), q, (&doses, &times), &reference, &outputs);
            for (name, expected) in outputs.iter().zip(expected) {
                let peak = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                for (i, (got, want)) in s.get(name, q).unwrap().iter().zip(&expected).enumerate() {
                    assert!(
                        (got - want).abs() <= 1e-5 * peak,
                        "analytic {analytic_jacobian}, ∂{name}/∂{q} at t = {}: {got} vs {want}",
                        times[i]
                    );
                }
            }
        }
    }
}

/// Where stability rather than accuracy limits an explicit method's steps (a
/// one-compartment oral model whose elimination is 51 times faster than its absorption:
/// the central amount follows the depot), Auto's outputs — interpolated or at step ends,
/// after a single dose and at a steady state — stay within 10·rtol of the exact solution.
/// Dop853 chosen there was off by up to 3e-4 at rtol 1e-9 (its interpolant) and 74·rtol
/// at its step ends; measured for Auto: at most 1.4·rtol.
#[test]
fn auto_is_accurate_where_stability_limits_the_steps() {
    let p = OneCmtOralParams::new(0.2, 1.024, 0.1).unwrap();
    let times: Vec<f64> = (1..=46).map(|i| 0.5 * f64::from(i)).collect();
    let single = [Dose::bolus(0.0, 4.02)];
    let steady = [Dose::bolus(0.0, 4.02).steady_state().every(24.0)];
    for doses in [&single[..], &steady[..]] {
        let exact = simulate(&OneCmtOral, &p, doses, &times, &SolverOptions::default()).unwrap();
        let exact = exact.get("cp").unwrap();
        for rtol in [1e-8, 1e-9, 1e-10] {
            let opts = SolverOptions::default()
                .with_tolerances(rtol, 1e-3 * rtol)
                .ode();
            let sim = simulate(&OneCmtOral, &p, doses, &times, &opts).unwrap();
            for (a, b) in sim.get("cp").unwrap().iter().zip(exact) {
                let error = (a - b).abs() / b.abs() / rtol;
                assert!(error <= 10.0, "rtol {rtol:e}: {a} vs {b} ({error:.1}·rtol)");
            }
        }
    }
}

/// Auto is Dopri5 step for step, at the default rtol 1e-6 and at 1e-10, on a model that is
/// not stiff.
#[test]
fn auto_is_the_explicit_method_step_for_step_on_the_non_stiff_built_in_model() {
    let p = CarTBCellParams::default();
    let times: Vec<f64> = (0..=36).map(|i| 10.0 * f64::from(i)).collect();
    let doses = [Dose::bolus(0.0, 10.0)];
    let run = |opts: SolverOptions, integrator| {
        let opts = opts.with_integrator(integrator);
        simulate(&CarTBCell, &p, &doses, &times, &opts).unwrap()
    };
    let (default, accurate) = (SolverOptions::default(), SolverOptions::accurate());
    for (opts, explicit) in [
        (default, Integrator::Dopri5),
        (accurate, Integrator::Dopri5),
    ] {
        let (auto, alone) = (run(opts, Integrator::Auto), run(opts, explicit));
        assert_eq!(auto.values, alone.values);
        assert_eq!(auto.stats, alone.stats);
        assert_eq!(auto.stats.stiff_switches, 0);
    }
    // the two explicit methods at rtol 1e-10: the same solution to 1e-8, Dop853 in under a
    // third of the steps
    let (dop853, dopri5) = (
        run(accurate, Integrator::Dop853),
        run(accurate, Integrator::Dopri5),
    );
    for (a, b) in dop853
        .values
        .iter()
        .flatten()
        .zip(dopri5.values.iter().flatten())
    {
        assert!((a - b).abs() <= 1e-8 * b.abs().max(1e-3), "{a} {b}");
    }
    assert!(3 * dop853.stats.accepted_steps < dopri5.stats.accepted_steps);
    // Rodasp solves it too, to the tolerance
    let rodas = run(default, Integrator::Rodasp);
    let dopri5 = run(default, Integrator::Dopri5);
    for (a, b) in rodas
        .values
        .iter()
        .flatten()
        .zip(dopri5.values.iter().flatten())
    {
        assert!((a - b).abs() <= 1e-4 * b.abs().max(1e-3), "{a} {b}");
    }
}

#[test]
fn a_fit_of_the_stiff_model_recovers_its_parameters() {
    // noise-free free-ligand and complex data from the TMDD model, refitted from starting
    // values 40% off: the estimates come back to the truth
    let truth = TmddParams::new().unwrap();
    let model = Tmdd {
        analytic_jacobian: true,
    };
    let accurate = SolverOptions::accurate().with_integrator(Integrator::Rodasp);
    let sim = simulate(&model, &truth, &tmdd_doses(), &TMDD_TIMES, &accurate).unwrap();
    let [bolus, infusion] = tmdd_doses();
    let mut builder = Subject::builder("tmdd-1").dose_event(bolus);
    for (i, &t) in TMDD_TIMES.iter().enumerate() {
        if t > infusion.time && TMDD_TIMES[i - 1] < infusion.time {
            builder = builder.dose_event(infusion.clone());
        }
        for analyte in ["ligand", "complex"] {
            builder = builder.observe(t, analyte, sim.get(analyte).unwrap()[i]);
        }
    }
    let subject = builder.build().unwrap();
    let start = truth.with("kel", 0.06).unwrap().with("kint", 0.08).unwrap();
    let spec = FitSpec::new(start)
        .estimate(&["kel", "kint"])
        .residual_fixed("ligand", ErrorModel::Proportional { cv: 0.05 })
        .residual_fixed("complex", ErrorModel::Proportional { cv: 0.05 });
    let opts = FitOptions {
        starts: 1,
        solver: SolverOptions::default().with_tolerances(1e-8, 1e-14),
        covariance_solver: accurate,
        ..FitOptions::default()
    };
    let fit = fit_subject(&model, &subject, &spec, &opts).unwrap();
    for (estimate, true_value) in fit.estimates.iter().zip([0.1, 0.05]) {
        let error = (estimate.value / true_value - 1.0).abs();
        assert!(
            error < 1e-3,
            "{}: {} ({error:e})",
            estimate.name,
            estimate.value
        );
    }
}
