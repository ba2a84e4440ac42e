//! Simulation from a fit and the fit diagnostics against closed forms.
//!
//! Model 1's transgene is proportional to `cmax`, so with log-normal BSV on `cmax` and a
//! log-additive residual error, `ln y = ln f(t; ĉmax) + η + ε` exactly: simulated data have
//! mean `ln f`, variance `ω² + σ²`, within-subject covariance `ω²`, and a fraction
//! `Φ((ln LLOQ − ln f)/√(ω² + σ²))` below an LLOQ.

use cart_pkpd::models::{CellularKinetics, CellularKineticsParams};
use cart_pkpd::nlme::{
    FittedModel, PopulationFit, PopulationOptions, PopulationSpec, fit_population,
};
use cart_pkpd::normal::normal_cdf;
use cart_pkpd::{Dataset, ErrorModel, Parameters, SolverOptions, Subject};

const DAYS: [f64; 4] = [4.0, 9.0, 14.0, 28.0];
const LLOQ_DAY: f64 = 90.0;

fn data() -> Dataset {
    let truth = CellularKineticsParams::stein_2019();
    let lloq = truth.transgene(LLOQ_DAY);
    let subjects = (0..8)
        .map(|i| {
            let f = [0.7, 1.0, 1.4, 1.1, 0.8, 1.25, 0.95, 1.05][i];
            let w = [1.1, 0.9, 1.05, 0.95, 1.02][i % 5];
            let mut b = Subject::builder(format!("S{i}")).dose(0.0, 10.0);
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

fn spec() -> PopulationSpec<CellularKinetics> {
    PopulationSpec::new(CellularKineticsParams::stein_2019())
        .estimate(&["cmax"])
        .random_diagonal(&[("cmax", 0.1)])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.1 })
}

fn fitted(data: &Dataset) -> PopulationFit {
    fit_population(
        &CellularKinetics,
        data,
        &spec(),
        &PopulationOptions::default(),
    )
    .unwrap()
}

#[test]
fn simulated_data_have_the_fitted_distribution() {
    let data = data();
    let fit = fitted(&data);
    let spec = spec();
    let model = FittedModel::new(&CellularKinetics, &spec, &fit, SolverOptions::default()).unwrap();
    let n = 2000;
    let reps = model.simulate_replicates(&data, n, 11).unwrap();
    let omega2 = fit.omega[0].value;
    let sigma = fit.sigma[0].value;
    let var = omega2 + sigma * sigma;
    let typical = CellularKineticsParams::stein_2019()
        .with("cmax", fit.theta[0].value)
        .unwrap();
    // subject 3, day 9 (index 1) and day 28 (index 3)
    let ln_at = |k: usize| -> Vec<f64> {
        reps.iter()
            .map(|d| d.subjects()[3].observations()[k].value.ln())
            .collect()
    };
    let (a, b) = (ln_at(1), ln_at(3));
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    let (ma, mb) = (mean(&a), mean(&b));
    let nf = n as f64;
    assert!(
        (ma - typical.transgene(9.0).ln()).abs() < 4.0 * (var / nf).sqrt(),
        "{ma}"
    );
    let va = a.iter().map(|x| (x - ma).powi(2)).sum::<f64>() / (nf - 1.0);
    // SE of a sample variance of normal data: var·√(2/(n−1))
    assert!(
        (va - var).abs() < 4.0 * var * (2.0 / (nf - 1.0)).sqrt(),
        "{va} vs {var}"
    );
    let cov = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (nf - 1.0);
    // SE of a sample covariance: √((σ_a²σ_b² + cov²)/(n−1))
    let se_cov = ((var * var + omega2 * omega2) / (nf - 1.0)).sqrt();
    assert!((cov - omega2).abs() < 4.0 * se_cov, "{cov} vs {omega2}");
    // censoring at the LLOQ: the fraction below it, and the value recorded at the LLOQ
    let lloq = data.subjects()[0].observations()[4].lloq.unwrap();
    let p = normal_cdf(((lloq).ln() - typical.transgene(LLOQ_DAY).ln()) / var.sqrt());
    let below = reps
        .iter()
        .filter(|d| d.subjects()[0].observations()[4].censored)
        .count() as f64
        / nf;
    assert!(
        (below - p).abs() < 4.0 * (p * (1.0 - p) / nf).sqrt(),
        "{below} vs {p}"
    );
    for d in &reps {
        let o = &d.subjects()[0].observations()[4];
        assert!(if o.censored {
            o.value == lloq
        } else {
            o.value >= lloq
        });
    }
}

#[test]
fn replicates_are_the_same_on_any_number_of_threads() {
    let data = data();
    let fit = fitted(&data);
    let spec = spec();
    let model = FittedModel::new(&CellularKinetics, &spec, &fit, SolverOptions::default()).unwrap();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| model.simulate_replicates(&data, 16, 5).unwrap());
    let many = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap()
        .install(|| model.simulate_replicates(&data, 16, 5).unwrap());
    assert_eq!(one, many);
    assert_eq!(model.simulate_replicate(&data, 5, 7).unwrap(), one[7]);
    assert_ne!(one[0], one[1]);
    // a fit from another specification is refused, not simulated
    let other = PopulationSpec::new(CellularKineticsParams::stein_2019())
        .estimate(&["cmax", "alpha"])
        .random_diagonal(&[("cmax", 0.1)])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.1 });
    assert!(FittedModel::new(&CellularKinetics, &other, &fit, SolverOptions::default()).is_err());
}
