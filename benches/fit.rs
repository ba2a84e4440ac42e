//! Speed of individual fits: model 1 to one subject's transgene, and model 2 jointly to
//! one subject's transgene and B cells, with the default options (Levenberg–Marquardt, 4
//! starts, covariance step included), and model 2 by Nelder–Mead for comparison.
//!
//! Run: `cargo bench --bench fit`

use cart_pkpd::cart::{TRIAL_TRANSGENE_DAYS as TRANSGENE_DAYS, trial_design};
use cart_pkpd::fit::{FitOptions, FitSpec, Method, fit_subject};
use cart_pkpd::models::{CarTBCell, CarTBCellParams, CellularKinetics, CellularKineticsParams};
use cart_pkpd::synthetic::{Sampling, simulate_subject};
use cart_pkpd::{Dose, ErrorModel, Model, SolverOptions, Subject};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use std::hint::black_box;

fn subject<M: Model>(model: &M, params: &M::Params, design: &[Sampling]) -> Subject {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    simulate_subject(
        model,
        params,
        "B1",
        &[Dose::bolus(0.0, 10.0)],
        design,
        &SolverOptions::default(),
        &mut rng,
    )
    .unwrap()
}

fn model1(c: &mut Criterion) {
    let truth = CellularKineticsParams::stein_2019();
    let design = [Sampling::new(
        "transgene",
        &TRANSGENE_DAYS,
        ErrorModel::LogAdditive { sd: 0.56 },
        Some(5.0),
    )];
    let s = subject(&CellularKinetics, &truth, &design);
    let spec = FitSpec::new(truth)
        .estimate(&["tmax", "cmax", "foldx", "alpha", "fb", "beta"])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.5 });
    let opts = FitOptions::default();
    let fit = fit_subject(&CellularKinetics, &s, &spec, &opts).unwrap();
    eprintln!("model 1 fit: {} objective evaluations", fit.evaluations);
    c.bench_function("fit_model1_6_params_13_obs", |b| {
        b.iter(|| fit_subject(&CellularKinetics, black_box(&s), &spec, &opts).unwrap())
    });
}

fn model2(c: &mut Criterion) {
    let truth = CarTBCellParams::default();
    let design = trial_design();
    let s = subject(&CarTBCell, &truth, &design);
    let spec = FitSpec::new(truth)
        .estimate(&["rho", "alpha", "beta", "kmax", "kp"])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.3 })
        .residual("b_cells", ErrorModel::LogAdditive { sd: 0.3 });
    let opts = FitOptions::default();
    let fit = fit_subject(&CarTBCell, &s, &spec, &opts).unwrap();
    eprintln!(
        "model 2 joint fit: {} objective evaluations",
        fit.evaluations
    );
    let mut group = c.benchmark_group("fit_model2_joint");
    group.sample_size(10);
    group.bench_function("5_params_2_sds_22_obs", |b| {
        b.iter(|| fit_subject(&CarTBCell, black_box(&s), &spec, &opts).unwrap())
    });
    let nelder_mead = FitOptions {
        method: Method::NelderMead,
        ..opts
    };
    group.bench_function("5_params_2_sds_22_obs_nelder_mead", |b| {
        b.iter(|| fit_subject(&CarTBCell, black_box(&s), &spec, &nelder_mead).unwrap())
    });
    group.finish();
}

criterion_group!(benches, model1, model2);
criterion_main!(benches);
