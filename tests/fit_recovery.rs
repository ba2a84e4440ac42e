//! Known-parameter recovery: data simulated from known parameters with the library's error
//! model and LLOQ censoring, refitted over many seeded replicates. Measured coverage of the
//! 95% CIs and mean log-bias are printed (`cargo test --release --test fit_recovery --
//! --nocapture`) and checked.

use cart_pkpd::cart::{TRIAL_TRANSGENE_DAYS as TRANSGENE_DAYS, trial_design};
use cart_pkpd::fit::{Censoring, FitOptions, FitSpec, FitWarning, fit_subject};
use cart_pkpd::models::{CarTBCell, CarTBCellParams, CellularKinetics, CellularKineticsParams};
use cart_pkpd::synthetic::{Sampling, simulate_subject};
use cart_pkpd::{Dose, ErrorModel, Model, Parameters, SolverOptions};
use rand::SeedableRng;

struct Recovery {
    names: Vec<String>,
    coverage: Vec<f64>,
    /// Coverage among fits without a `NonSmoothLikelihood` warning for the parameter.
    coverage_smooth: Vec<f64>,
    /// Fits with a `NonSmoothLikelihood` warning for the parameter.
    non_smooth: Vec<usize>,
    mean_ln_bias: Vec<f64>,
    converged: usize,
}

/// Simulates `n` subjects from `truth`, fits each, and summarises coverage and bias.
/// `true_values[i]` is the truth of the i-th estimate (model parameters, then error SDs).
#[allow(clippy::too_many_arguments)]
fn replicate<M: Model>(
    model: &M,
    truth: &M::Params,
    spec: &FitSpec<M>,
    true_values: &[f64],
    design: &[Sampling],
    n: usize,
    seed: u64,
    opts: &FitOptions,
) -> Recovery {
    let k = true_values.len();
    let (mut covered, mut bias, mut converged) = (vec![0usize; k], vec![0.0; k], 0);
    let (mut covered_smooth, mut non_smooth) = (vec![0usize; k], vec![0usize; k]);
    let mut names = Vec::new();
    for rep in 0..n {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed + rep as u64);
        let s = simulate_subject(
            model,
            truth,
            "R",
            &[Dose::bolus(0.0, 10.0)],
            design,
            &SolverOptions::default(),
            &mut rng,
        )
        .unwrap();
        let Ok(fit) = fit_subject(model, &s, spec, opts) else {
            continue;
        };
        converged += 1;
        names = fit.estimates.iter().map(|e| e.name.clone()).collect();
        for (i, e) in fit.estimates.iter().enumerate() {
            let t = true_values[i];
            let hit = usize::from(e.ci95.is_some_and(|(lo, hi)| lo <= t && t <= hi));
            let kink = fit
                .warnings
                .iter()
                .any(|w| matches!(w, FitWarning::NonSmoothLikelihood { name } if name == &e.name));
            covered[i] += hit;
            if kink {
                non_smooth[i] += 1;
            } else {
                covered_smooth[i] += hit;
            }
            bias[i] += (e.value / t).ln();
        }
    }
    let c = converged as f64;
    Recovery {
        names,
        coverage: covered.iter().map(|&x| x as f64 / c).collect(),
        coverage_smooth: (0..k)
            .map(|i| covered_smooth[i] as f64 / (converged - non_smooth[i]) as f64)
            .collect(),
        non_smooth,
        mean_ln_bias: bias.iter().map(|b| b / c).collect(),
        converged,
    }
}

fn report(label: &str, r: &Recovery, n: usize) {
    eprintln!("{label}: {}/{n} converged", r.converged);
    for i in 0..r.names.len() {
        eprintln!(
            "  {:<14} coverage {:.3}  mean ln-bias {:+.3}  non-smooth {:>3}  coverage without them {:.3}",
            r.names[i], r.coverage[i], r.mean_ln_bias[i], r.non_smooth[i], r.coverage_smooth[i]
        );
    }
}

const MODEL1_ESTIMATED: [&str; 5] = ["tmax", "cmax", "alpha", "fb", "beta"];

fn model1_truth_values() -> Vec<f64> {
    let p = CellularKineticsParams::stein_2019();
    let mut v: Vec<f64> = MODEL1_ESTIMATED.iter().map(|n| p.get(n).unwrap()).collect();
    v.push(0.56);
    v
}

fn model1_run(times: &[f64], lloq: f64, censoring: Censoring, n: usize) -> Recovery {
    let truth = CellularKineticsParams::stein_2019();
    let design = [Sampling::new(
        "transgene",
        times,
        ErrorModel::LogAdditive { sd: 0.56 },
        Some(lloq),
    )];
    let spec = FitSpec::new(truth.clone())
        .estimate(&MODEL1_ESTIMATED)
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.5 });
    let opts = FitOptions {
        censoring,
        ..FitOptions::default()
    };
    replicate(
        &CellularKinetics,
        &truth,
        &spec,
        &model1_truth_values(),
        &design,
        n,
        1000,
        &opts,
    )
}

/// Stein 2019 typical values, SD 0.56 on ln transgene, LLOQ 5 copies/µg, the trial's 13
/// sampling days. With 13 points for 6 parameters, Wald intervals undercover (measured
/// 0.70–0.89); "most" replicates must still be covered, and all must converge.
#[test]
fn model1_recovery_at_the_trial_design() {
    let n = 200;
    let r = model1_run(&TRANSGENE_DAYS, 5.0, Censoring::M3, n);
    report("model 1, trial design, LLOQ 5", &r, n);
    assert_eq!(r.converged, n);
    for (name, c) in r.names.iter().zip(&r.coverage) {
        assert!(*c > 0.6, "{name}: coverage {c}");
    }
    // the well-determined parameters are nearly unbiased
    for i in 0..3 {
        assert!(
            r.mean_ln_bias[i].abs() < 0.1,
            "{}: ln-bias {}",
            r.names[i],
            r.mean_ln_bias[i]
        );
    }
}

/// With rich sampling the same machinery must approach nominal coverage: 55 samples.
/// `tmax` is a change point: when its estimate lands on a sampling day −2LL has a kink
/// there, the fit warns `NonSmoothLikelihood` and that interval is not to be trusted; the
/// coverage that must be near nominal is that of the fits without the warning.
#[test]
fn model1_coverage_approaches_nominal_with_rich_sampling() {
    let mut times: Vec<f64> = (0..=30).map(f64::from).collect();
    times.extend((1..=24).map(|i| 30.0 + 14.0 * f64::from(i)));
    let n = 200;
    let r = model1_run(&times, 5.0, Censoring::M3, n);
    report("model 1, 55 samples", &r, n);
    for i in 0..r.names.len() {
        // nominal 0.95; binomial SD over 200 replicates is 0.015
        assert!(
            r.coverage_smooth[i] >= 0.86,
            "{}: coverage {}",
            r.names[i],
            r.coverage_smooth[i]
        );
        if r.names[i] != "tmax" {
            assert_eq!(r.non_smooth[i], 0, "{} flagged non-smooth", r.names[i]);
        }
    }
}

/// With a high LLOQ (100 copies/µg, ~4.5 of 13 samples censored per subject) dropping the
/// censored samples biases the estimates; M3 must have the smaller bias (Bergstrand &
/// Karlsson 2009).
#[test]
fn m3_has_smaller_bias_than_dropping_blq_data() {
    let n = 200;
    let m3 = model1_run(&TRANSGENE_DAYS, 100.0, Censoring::M3, n);
    let dropped = model1_run(&TRANSGENE_DAYS, 100.0, Censoring::Drop, n);
    report("model 1, LLOQ 100, M3", &m3, n);
    report("model 1, LLOQ 100, BLQ dropped", &dropped, n);
    let total = |r: &Recovery| r.mean_ln_bias.iter().map(|b| b.abs()).sum::<f64>();
    assert!(
        total(&m3) < total(&dropped),
        "M3 {} vs drop {}",
        total(&m3),
        total(&dropped)
    );
    // the terminal (persistence) rate is what censoring hides
    let beta = 4;
    assert!(m3.mean_ln_bias[beta].abs() < dropped.mean_ln_bias[beta].abs());
}

/// Model 2 with a realistic subset estimated (expansion, contraction, persistence,
/// killing, marrow renewal) from transgene and B cells jointly, B-cell LLOQ 1 cell/µL.
#[test]
fn model2_joint_recovery_at_the_trial_design() {
    let truth = CarTBCellParams::default();
    let names = ["rho", "alpha", "beta", "kmax", "kp"];
    let mut true_values: Vec<f64> = names.iter().map(|n| truth.get(n).unwrap()).collect();
    true_values.extend([0.4, 0.25]);
    let design = trial_design();
    let spec = FitSpec::new(truth.clone())
        .estimate(&names)
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.3 })
        .residual("b_cells", ErrorModel::LogAdditive { sd: 0.3 });
    let opts = FitOptions {
        starts: 2,
        ..FitOptions::default()
    };
    let n = 40;
    let r = replicate(
        &CarTBCell,
        &truth,
        &spec,
        &true_values,
        &design,
        n,
        2000,
        &opts,
    );
    report("model 2, trial design", &r, n);
    assert_eq!(r.converged, n);
    for (name, c) in r.names.iter().zip(&r.coverage) {
        assert!(*c > 0.6, "{name}: coverage {c}");
    }
    for i in 0..names.len() {
        assert!(
            r.mean_ln_bias[i].abs() < 0.15,
            "{}: ln-bias {}",
            r.names[i],
            r.mean_ln_bias[i]
        );
    }
}
