//! Speed of population fits, FOCE-I and SAEM: Theophylline (12 subjects, one-compartment
//! oral, IIV on ka and CL, covariance step included) and a 19-subject model 1 cohort with
//! the trial's design (4 typical values, IIV on cmax and alpha, M3 censoring); and model 2
//! on the shipped cohort (`data/cohort.csv`: 19 subjects, transgene and B cells, 5 typical
//! values, IIV on gamma, alpha and kmax, two residual SDs, M3; without the covariance step,
//! and with it as in `figure2`), seconds per fit. SAEM with its default settings, importance sampling
//! (5,000 draws per subject) included. Each benchmark's setup fit (which prints the
//! evaluation count) runs only when the benchmark is selected.
//!
//! Run: `cargo bench --bench population` (`-- model2` for the model 2 fits alone, `-- saem`
//! for SAEM's)

#[allow(dead_code)]
#[path = "../examples/user_model.rs"]
mod user_model;

#[allow(dead_code)]
#[path = "../tests/common/mod.rs"]
mod common;

use cart_pkpd::data::CsvOptions;
use cart_pkpd::models::{CarTBCell, CarTBCellParams, CellularKinetics};
use cart_pkpd::nlme::{
    PopulationFit, PopulationOptions, PopulationSpec, SaemOptions, fit_population,
    fit_population_saem,
};
use cart_pkpd::{Dataset, ErrorModel, SolverOptions};
use criterion::{Criterion, criterion_group, criterion_main};
use user_model::{OneCompartmentOral, OneCompartmentParams};

/// Prints a fit's objective-function evaluation and iteration counts, once per benchmark
/// (criterion calls a benchmark's closure several times).
fn report(name: &str, reported: &mut bool, fit: impl FnOnce() -> cart_pkpd::Result<PopulationFit>) {
    if std::mem::replace(reported, true) {
        return;
    }
    match fit() {
        Ok(fit) => eprintln!(
            "{name}: {} {}, {} iterations, OFV {:.4}",
            fit.evaluations,
            match fit.method {
                cart_pkpd::nlme::EstimationMethod::FoceI => "objective evaluations",
                _ => "model solutions per subject",
            },
            fit.iterations,
            fit.ofv
        ),
        Err(e) => panic!("{name}: {e}"),
    }
}

/// The Theophylline data and model.
fn theophylline() -> (Dataset, PopulationSpec<OneCompartmentOral>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/theoph_nonmem.csv");
    let data = Dataset::read_csv(path, &CsvOptions::for_model(&OneCompartmentOral)).unwrap();
    let spec = PopulationSpec::new(OneCompartmentParams::new(1.5, 0.08, 0.04).unwrap())
        .estimate(&["ka", "ke", "cl"])
        .random_diagonal(&[("ka", 0.3), ("cl", 0.1)])
        .residual("concentration", ErrorModel::Additive { sd: 1.0 });
    (data, spec)
}

/// A model 1 cohort with the trial's design (the recovery tests' cohort, seed 100), and
/// the model.
fn model1_cohort() -> (Dataset, PopulationSpec<CellularKinetics>) {
    (common::cohort(100), common::spec())
}

/// The shipped model 2 cohort and the model of `figure2`.
fn model2_cohort() -> (Dataset, PopulationSpec<CarTBCell>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/cohort.csv");
    let data = Dataset::read_csv(path, &CsvOptions::for_model(&CarTBCell)).unwrap();
    let spec = PopulationSpec::new(CarTBCellParams::default())
        .estimate(&["rho", "alpha", "beta", "kmax", "kp"])
        .random_diagonal(&[("gamma", 0.2), ("alpha", 0.1), ("kmax", 0.1)])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.4 })
        .residual("b_cells", ErrorModel::LogAdditive { sd: 0.3 })
        .ignore(&["naive_b", "memory_b", "dn_b"]);
    (data, spec)
}

/// Benchmarks one population fit, with its counts printed once.
fn bench_fit(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    fit: impl Fn() -> cart_pkpd::Result<PopulationFit>,
) {
    let mut reported = false;
    group.bench_function(name, |b| {
        report(name, &mut reported, &fit);
        b.iter(|| fit().unwrap())
    });
}

fn foce_i(c: &mut Criterion) {
    let opts = PopulationOptions::default();
    let mut group = c.benchmark_group("population_fit");
    group.sample_size(10);
    let (data, spec) = theophylline();
    bench_fit(&mut group, "theophylline_foce_i", || {
        fit_population(&OneCompartmentOral, &data, &spec, &opts)
    });
    let (cohort, spec1) = model1_cohort();
    bench_fit(&mut group, "model1_19_subjects_foce_i", || {
        fit_population(&CellularKinetics, &cohort, &spec1, &opts)
    });
    let (data2, spec2) = model2_cohort();
    let opts2 = PopulationOptions {
        covariance: false,
        solver: SolverOptions::default(),
        ..PopulationOptions::default()
    };
    bench_fit(&mut group, "model2_19_subjects_foce_i", || {
        fit_population(&CarTBCell, &data2, &spec2, &opts2)
    });
    // the main job's fit: with the covariance step
    let with_covariance = PopulationOptions {
        covariance: true,
        ..opts2
    };
    bench_fit(&mut group, "model2_19_subjects_foce_i_covariance", || {
        fit_population(&CarTBCell, &data2, &spec2, &with_covariance)
    });
    group.finish();
}

fn saem(c: &mut Criterion) {
    let opts = SaemOptions::default();
    let saem = |fit: cart_pkpd::Result<cart_pkpd::nlme::SaemFit>| fit.map(|s| s.fit);
    let mut group = c.benchmark_group("population_fit");
    group.sample_size(10);
    let (data, spec) = theophylline();
    bench_fit(&mut group, "theophylline_saem", || {
        saem(fit_population_saem(
            &OneCompartmentOral,
            &data,
            &spec,
            &opts,
        ))
    });
    let (cohort, spec1) = model1_cohort();
    bench_fit(&mut group, "model1_19_subjects_saem", || {
        saem(fit_population_saem(
            &CellularKinetics,
            &cohort,
            &spec1,
            &opts,
        ))
    });
    let (data2, spec2) = model2_cohort();
    let opts2 = SaemOptions {
        covariance: false,
        solver: SolverOptions::default(),
        ..SaemOptions::default()
    };
    bench_fit(&mut group, "model2_19_subjects_saem", || {
        saem(fit_population_saem(&CarTBCell, &data2, &spec2, &opts2))
    });
    group.finish();
}

criterion_group!(benches, foce_i, saem);
criterion_main!(benches);
