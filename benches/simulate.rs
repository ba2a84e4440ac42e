//! Speed of simulation: model 2 for one subject-year (by each integrator), its derivatives
//! along 3 parameters (forward sensitivities against central differences of solutions),
//! model 1 in closed and ODE form, and two stiff problems (Robertson's, and TMDD with fast
//! binding).
//!
//! Run: `cargo bench --bench simulate`

#[path = "../tests/stiff_models/mod.rs"]
mod stiff_models;

use cart_pkpd::models::{CarTBCell, CarTBCellParams, CellularKinetics, CellularKineticsParams};
use cart_pkpd::{
    Dose, Integrator, Parameters, SolverOptions, simulate, simulate_closed_form,
    simulate_sensitivities,
};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use stiff_models::{Robertson, RobertsonParams, Tmdd, TmddParams};

/// 20 output times from day 0 to day 365: the trial's visits plus a few between.
const TIMES: [f64; 20] = [
    0.0, 1.0, 4.0, 7.0, 10.0, 14.0, 21.0, 28.0, 45.0, 60.0, 90.0, 120.0, 150.0, 180.0, 210.0,
    240.0, 270.0, 300.0, 330.0, 365.0,
];

fn model2(c: &mut Criterion) {
    let params = CarTBCellParams::default();
    let doses = [Dose::bolus(0.0, 10.0)];
    let mut group = c.benchmark_group("model2_subject_year_20_outputs");
    let dopri5 = SolverOptions::default().with_integrator(Integrator::Dopri5);
    for (label, opts) in [
        ("rtol_1e-6", SolverOptions::default()),
        ("rtol_1e-10", SolverOptions::accurate()),
        (
            "rtol_1e-10_dop853",
            SolverOptions::accurate().with_integrator(Integrator::Dop853),
        ),
        ("rtol_1e-6_dopri5_unwatched", dopri5),
        (
            "rtol_1e-6_dop853",
            dopri5.with_integrator(Integrator::Dop853),
        ),
        (
            "rtol_1e-6_rodasp",
            dopri5.with_integrator(Integrator::Rodasp),
        ),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| simulate(&CarTBCell, black_box(&params), &doses, &TIMES, &opts).unwrap())
        });
    }
    group.finish();
}

/// The derivatives of every output along `gamma`, `alpha` and `kmax` (the random effects of
/// the main job's population fit): one augmented solution, or 6 solutions differenced.
fn model2_derivatives(c: &mut Criterion) {
    let params = CarTBCellParams::default();
    let doses = [Dose::bolus(0.0, 10.0)];
    let opts = SolverOptions::default();
    let names = ["gamma", "alpha", "kmax"];
    let mut group = c.benchmark_group("model2_subject_year_3_derivatives");
    group.bench_function("forward_sensitivities", |b| {
        b.iter(|| {
            simulate_sensitivities(
                &CarTBCell,
                black_box(&params),
                &names,
                &doses,
                &TIMES,
                &opts,
            )
            .unwrap()
        })
    });
    group.bench_function("central_differences", |b| {
        b.iter(|| {
            for name in names {
                let v = params.get(name).unwrap();
                for side in [1.0, -1.0] {
                    let p = params.with(name, v * (1.0 + side * 1e-3)).unwrap();
                    simulate(&CarTBCell, black_box(&p), &doses, &TIMES, &opts).unwrap();
                }
            }
        })
    });
    group.finish();
}

fn model1(c: &mut Criterion) {
    let params = CellularKineticsParams::stein_2019();
    let doses = [Dose::bolus(0.0, 10.0)];
    let mut group = c.benchmark_group("model1_20_outputs");
    group.bench_function("closed_form", |b| {
        b.iter(|| {
            simulate_closed_form(&CellularKinetics, black_box(&params), &doses, &TIMES).unwrap()
        })
    });
    group.bench_function("ode_rtol_1e-6", |b| {
        b.iter(|| {
            simulate(
                &CellularKinetics,
                black_box(&params),
                &doses,
                &TIMES,
                &SolverOptions::default().ode(),
            )
            .unwrap()
        })
    });
    group.finish();
}

/// Robertson's problem to t = 4e5 (7 outputs from 0.4) and the TMDD model over 336 h
/// (bolus, then an infusion; 10 outputs), by Rodasp and by the automatic choice.
fn stiff(c: &mut Criterion) {
    let robertson = RobertsonParams::new().unwrap();
    let robertson_times = [0.0, 0.4, 4.0, 40.0, 400.0, 4e3, 4e4, 4e5];
    let tmdd = TmddParams::new().unwrap();
    let model = Tmdd {
        analytic_jacobian: false,
    };
    let tmdd_doses = [Dose::bolus(0.0, 100.0), Dose::infusion(168.0, 240.0, 10.0)];
    let tmdd_times = [0.5, 2.0, 8.0, 24.0, 72.0, 167.0, 180.0, 192.0, 240.0, 336.0];
    let mut group = c.benchmark_group("stiff");
    for (label, integrator) in [("rodasp", Integrator::Rodasp), ("auto", Integrator::Auto)] {
        for rtol in [1e-6, 1e-8] {
            let opts = SolverOptions::default()
                .with_tolerances(rtol, 1e-14)
                .with_integrator(integrator);
            group.bench_function(format!("robertson_{label}_rtol_{rtol:e}"), |b| {
                b.iter(|| {
                    simulate(
                        &Robertson,
                        black_box(&robertson),
                        &[],
                        &robertson_times,
                        &opts,
                    )
                    .unwrap()
                })
            });
            group.bench_function(format!("tmdd_{label}_rtol_{rtol:e}"), |b| {
                b.iter(|| {
                    simulate(&model, black_box(&tmdd), &tmdd_doses, &tmdd_times, &opts).unwrap()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, model2, model2_derivatives, model1, stiff);
criterion_main!(benches);
