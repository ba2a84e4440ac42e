//! Speed of the fit diagnostics on the 19-subject trial cohort (`data/cohort.csv`, model 2,
//! ODE solutions): a 1,000-replicate VPC of transgene and NPDE from 1,000 replicates. The
//! fit they evaluate is a quick one (typical `gamma` with its BSV): the cost of a VPC is
//! that of simulating the replicates, whatever was estimated.
//!
//! Run: `cargo bench --bench diagnostics`

use cart_pkpd::data::CsvOptions;
use cart_pkpd::diagnostics::{NpdeOptions, VpcOptions, npde, vpc};
use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::nlme::{FittedModel, PopulationOptions, PopulationSpec, fit_population};
use cart_pkpd::{Dataset, ErrorModel, SolverOptions};
use criterion::{Criterion, criterion_group, criterion_main};

fn diagnostics(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/cohort.csv");
    let data = Dataset::read_csv(path, &CsvOptions::for_model(&CarTBCell)).unwrap();
    let spec = PopulationSpec::new(CarTBCellParams::default())
        .estimate(&["gamma"])
        .random_diagonal(&[("gamma", 0.3)])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.4 })
        .residual("b_cells", ErrorModel::LogAdditive { sd: 0.5 })
        .ignore(&["naive_b", "memory_b", "dn_b"]);
    let options = PopulationOptions {
        covariance: false,
        ..PopulationOptions::default()
    };
    let fit = fit_population(&CarTBCell, &data, &spec, &options).unwrap();
    let model = FittedModel::new(&CarTBCell, &spec, &fit, SolverOptions::default()).unwrap();
    eprintln!("threads: {}", rayon::current_num_threads());
    let mut group = c.benchmark_group("diagnostics_cohort_model2");
    group.sample_size(10);
    let opts = VpcOptions {
        replicates: 1000,
        ..VpcOptions::default()
    };
    group.bench_function("vpc_transgene_1000_replicates", |b| {
        b.iter(|| vpc(&model, &data, "transgene", &opts).unwrap())
    });
    let opts = NpdeOptions {
        replicates: 1000,
        seed: 1,
    };
    group.bench_function("npde_1000_replicates", |b| {
        b.iter(|| npde(&model, &data, &opts).unwrap())
    });
    group.finish();
}

criterion_group!(benches, diagnostics);
criterion_main!(benches);
