//! Speed of simulation: model 2 for one subject-year, model 1 in closed and ODE form.
//!
//! Run: `cargo bench --bench simulate`

use cart_pkpd::models::{CarTBCell, CarTBCellParams, CellularKinetics, CellularKineticsParams};
use cart_pkpd::{Dose, SolverOptions, simulate, simulate_closed_form};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// 20 output times from day 0 to day 365: the trial's visits plus a few between.
const TIMES: [f64; 20] = [
    0.0, 1.0, 4.0, 7.0, 10.0, 14.0, 21.0, 28.0, 45.0, 60.0, 90.0, 120.0, 150.0, 180.0, 210.0,
    240.0, 270.0, 300.0, 330.0, 365.0,
];

fn model2(c: &mut Criterion) {
    let params = CarTBCellParams::default();
    let doses = [Dose::bolus(0.0, 10.0)];
    let mut group = c.benchmark_group("model2_subject_year_20_outputs");
    for (label, opts) in [
        ("rtol_1e-6", SolverOptions::default()),
        ("rtol_1e-10", SolverOptions::accurate()),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| simulate(&CarTBCell, black_box(&params), &doses, &TIMES, &opts).unwrap())
        });
    }
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

criterion_group!(benches, model2, model1);
criterion_main!(benches);
