//! A model-1 population (log-normal BSV on `cmax`, log-additive residual error) with a
//! below-LLOQ sample, and its FOCE-I fit: shared by the diagnostics and plot tests.

#![allow(dead_code)] // each test binary uses its part

use cart_pkpd::models::{CellularKinetics, CellularKineticsParams};
use cart_pkpd::nlme::{PopulationFit, PopulationOptions, PopulationSpec, fit_population};
use cart_pkpd::{Dataset, ErrorModel, Subject};

/// Sampling days with quantified transgene.
pub const DAYS: [f64; 4] = [4.0, 9.0, 14.0, 28.0];
/// The day of the last sample, whose LLOQ is the typical value then.
pub const LLOQ_DAY: f64 = 90.0;

/// Eight subjects.
pub fn data() -> Dataset {
    data_n(8)
}

/// `n` subjects: eight individual levels, in turn.
pub fn data_n(n: usize) -> Dataset {
    let truth = CellularKineticsParams::stein_2019();
    let lloq = truth.transgene(LLOQ_DAY);
    let subjects = (0..n)
        .map(|i| {
            let f = [0.7, 1.0, 1.4, 1.1, 0.8, 1.25, 0.95, 1.05][i % 8];
            let w = [1.1, 0.9, 1.05, 0.95, 1.02][i % 5];
            let mut b = Subject::builder(format!("S{i}"))
                .covariate("GRP", (i % 2) as f64)
                .dose(0.0, 10.0);
            for (k, t) in DAYS.iter().enumerate() {
                let noise = if k % 2 == 0 { w } else { 1.0 / w };
                b = b.observe(*t, "transgene", f * noise * truth.transgene(*t));
            }
            let y = f * w * truth.transgene(LLOQ_DAY);
            b = if y < lloq {
                b.observe_censored(LLOQ_DAY, "transgene", lloq)
            } else {
                b.observe_with_lloq(LLOQ_DAY, "transgene", y, lloq)
            };
            b.build().unwrap()
        })
        .collect();
    Dataset::new(subjects).unwrap()
}

/// `cmax` estimated with BSV; log-additive residual error.
pub fn spec() -> PopulationSpec<CellularKinetics> {
    PopulationSpec::new(CellularKineticsParams::stein_2019())
        .estimate(&["cmax"])
        .random_diagonal(&[("cmax", 0.1)])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.1 })
}

/// The FOCE-I fit of [`spec`] to `data`.
pub fn fitted(data: &Dataset) -> PopulationFit {
    fit_population(
        &CellularKinetics,
        data,
        &spec(),
        &PopulationOptions::default(),
    )
    .unwrap()
}
