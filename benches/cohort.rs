//! Speed of virtual cohorts: 1,000 subjects of model 2 over 365 days (20 outputs each),
//! BSV on five parameters, simulated in parallel on all cores.
//!
//! Run: `cargo bench --bench cohort`

use cart_pkpd::SolverOptions;
use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::population::{Group, PopulationModel, simulate_cohort};
use criterion::{Criterion, criterion_group, criterion_main};

const TIMES: [f64; 20] = [
    0.0, 1.0, 4.0, 7.0, 10.0, 14.0, 21.0, 28.0, 45.0, 60.0, 90.0, 120.0, 150.0, 180.0, 210.0,
    240.0, 270.0, 300.0, 330.0, 365.0,
];

fn cohort(c: &mut Criterion) {
    let pop = PopulationModel::<CarTBCell>::diagonal(
        CarTBCellParams::default(),
        &[
            ("rho", 0.01),
            ("alpha", 0.09),
            ("beta", 0.09),
            ("kmax", 0.09),
            ("kp", 0.09),
        ],
    )
    .unwrap();
    let groups = [
        Group::infusion("DL1", 10.0, 500),
        Group::infusion("DL2", 25.0, 500),
    ];
    let opts = SolverOptions::default();
    eprintln!("threads: {}", rayon::current_num_threads());
    let mut group = c.benchmark_group("cohort_model2");
    group.sample_size(20);
    group.bench_function("1000_subjects_365_days_20_outputs", |b| {
        b.iter(|| simulate_cohort(&CarTBCell, &pop, &groups, &TIMES, &opts, 1).unwrap())
    });
    group.finish();
}

criterion_group!(benches, cohort);
criterion_main!(benches);
