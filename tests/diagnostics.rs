//! Simulation from a fit and the fit diagnostics against closed forms.
//!
//! Model 1's transgene is proportional to `cmax`, so with log-normal BSV on `cmax` and a
//! log-additive residual error, `ln y = ln f(t; ĉmax) + η + ε` exactly: simulated data have
//! mean `ln f`, variance `ω² + σ²`, within-subject covariance `ω²`, and a fraction
//! `Φ((ln LLOQ − ln f)/√(ω² + σ²))` below an LLOQ.

use cart_pkpd::models::{CellularKinetics, CellularKineticsParams};
use cart_pkpd::nlme::{FittedModel, PopulationOptions, PopulationSpec, fit_population};
use cart_pkpd::normal::normal_cdf;
use cart_pkpd::{Dataset, ErrorModel, Parameters, SolverOptions, Subject};

mod model1_fit;

use model1_fit::{LLOQ_DAY, data, data_n, fitted, spec};

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

/// Type-7 quantile of sorted numbers (the definition, written out for the test).
fn type7(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[test]
fn pcvpc_corrects_by_the_bins_median_pred() {
    use cart_pkpd::diagnostics::{Binning, VpcOptions, vpc};
    let data = data();
    let fit = fitted(&data);
    let spec = spec();
    let model = FittedModel::new(&CellularKinetics, &spec, &fit, SolverOptions::default()).unwrap();
    let opts = VpcOptions {
        binning: Binning::Edges(vec![4.0, 10.0, 100.0]),
        prediction_corrected: true,
        replicates: 50,
        ..VpcOptions::default()
    };
    let v = vpc(&model, &data, "transgene", &opts).unwrap();
    assert_eq!(v.bins.len(), 2);
    let (first, second) = (&v.bins[0], &v.bins[1]);
    assert_eq!((first.n, second.n), (16, 24));
    // bin [4, 10): PRED is f(4) or f(9), 8 of each; the bin's median PRED is their mean
    let typical = CellularKineticsParams::stein_2019()
        .with("cmax", fit.theta[0].value)
        .unwrap();
    let (p4, p9) = (typical.transgene(4.0), typical.transgene(9.0));
    let pred_bin = 0.5 * (p4 + p9);
    let mut corrected: Vec<f64> = data
        .subjects()
        .iter()
        .flat_map(|s| s.observations()[..2].iter())
        .map(|o| o.value * pred_bin / typical.transgene(o.time))
        .collect();
    corrected.sort_by(f64::total_cmp);
    for p in &first.percentiles {
        let got = p.observed.value().unwrap();
        approx::assert_relative_eq!(got, type7(&corrected, p.q), max_relative = 1e-6);
    }
    // the censored panel: the day-90 values below the LLOQ over the 24 in [10, 100]
    let blq = data
        .subjects()
        .iter()
        .filter(|s| s.observations()[4].censored)
        .count();
    assert!(blq > 0);
    approx::assert_relative_eq!(second.observed_blq_fraction, blq as f64 / 24.0);
    // simulated intervals are ordered and the CSV has a row per bin and percentile
    for b in &v.bins {
        for p in &b.percentiles {
            let (lo, hi) = (p.simulated.lower.value(), p.simulated.upper.value());
            if let (Some(lo), Some(hi)) = (lo, hi) {
                assert!(lo <= hi);
            }
        }
    }
    let mut buf = Vec::new();
    v.write_csv(&mut buf).unwrap();
    assert_eq!(String::from_utf8(buf).unwrap().lines().count(), 1 + 2 * 3);
}

/// The share of a VPC's observed percentiles inside their simulated intervals.
fn coverage(v: &cart_pkpd::diagnostics::Vpc) -> (usize, usize) {
    use cart_pkpd::summary::Reported;
    let (mut inside, mut total) = (0, 0);
    for b in &v.bins {
        for p in &b.percentiles {
            let s = p.simulated;
            let ok = match (p.observed, s.lower, s.upper) {
                (Reported::Value(o), lo, Reported::Value(hi)) => {
                    o <= hi && lo.value().is_none_or(|lo| o >= lo)
                }
                (Reported::BelowLloq, Reported::BelowLloq, _) => true,
                _ => false,
            };
            inside += usize::from(ok);
            total += 1;
        }
    }
    (inside, total)
}

#[test]
fn observed_percentiles_fall_in_the_simulated_intervals_at_the_nominal_rate() {
    use cart_pkpd::diagnostics::{VpcOptions, vpc};
    let data = data_n(24);
    let base = fitted(&data);
    let spec = spec();
    let truth =
        FittedModel::new(&CellularKinetics, &spec, &base, SolverOptions::default()).unwrap();
    let (mut known, mut refitted, mut total) = (0, 0, 0);
    for d in 0..30 {
        let sim = truth.simulate_replicate(&data, 99, d).unwrap();
        let opts = VpcOptions {
            replicates: 200,
            seed: d,
            ..VpcOptions::default()
        };
        let (k, n) = coverage(&vpc(&truth, &sim, "transgene", &opts).unwrap());
        let refit = fitted(&sim);
        let model =
            FittedModel::new(&CellularKinetics, &spec, &refit, SolverOptions::default()).unwrap();
        let (r, _) = coverage(&vpc(&model, &sim, "transgene", &opts).unwrap());
        known += k;
        refitted += r;
        total += n;
    }
    let (known, refitted) = (known as f64 / total as f64, refitted as f64 / total as f64);
    eprintln!(
        "VPC coverage of 90% intervals over {total}: true model {known:.3}, refitted {refitted:.3}"
    );
    // with the model that generated the data, the nominal rate (Monte Carlo error of the
    // 200-replicate intervals and of 450 correlated checks: ±0.05)
    assert!((0.85..=0.95).contains(&known), "{known}");
    // a model refitted to the same data follows their location: at or above nominal
    assert!(refitted >= known - 0.02 && refitted <= 1.0, "{refitted}");
}

#[test]
fn strata_bins_and_bad_options() {
    use cart_pkpd::Error;
    use cart_pkpd::diagnostics::{Binning, VpcOptions, vpc};
    let data = data();
    let fit = fitted(&data);
    let spec = spec();
    let model = FittedModel::new(&CellularKinetics, &spec, &fit, SolverOptions::default()).unwrap();
    let base = VpcOptions {
        replicates: 20,
        ..VpcOptions::default()
    };
    // nominal bins: one per visit; two strata double them, each with half the subjects
    let v = vpc(&model, &data, "transgene", &base).unwrap();
    assert_eq!(v.bins.len(), 5);
    assert!(v.bins.iter().all(|b| b.n == 8 && b.start == b.end));
    let by_group = VpcOptions {
        stratify: Some("GRP".into()),
        ..base.clone()
    };
    let v = vpc(&model, &data, "transgene", &by_group).unwrap();
    assert_eq!(v.bins.len(), 10);
    assert!(v.bins.iter().all(|b| b.n == 4));
    assert_eq!(v.bins[0].stratum.as_deref(), Some("0"));
    // quantile bins hold equal numbers of observations
    let quantiles = VpcOptions {
        binning: Binning::Quantiles(2),
        ..base.clone()
    };
    let v = vpc(&model, &data, "transgene", &quantiles).unwrap();
    assert_eq!(v.bins.iter().map(|b| b.n).collect::<Vec<_>>(), vec![16, 24]);
    // what cannot work is an error, not a picture
    for bad in [
        VpcOptions {
            percentiles: vec![0.5, 1.0],
            ..base.clone()
        },
        VpcOptions {
            interval: 0.0,
            ..base.clone()
        },
        VpcOptions {
            replicates: 0,
            ..base.clone()
        },
        VpcOptions {
            binning: Binning::Edges(vec![10.0, 4.0]),
            ..base.clone()
        },
        VpcOptions {
            binning: Binning::Quantiles(0),
            ..base.clone()
        },
    ] {
        assert!(matches!(
            vpc(&model, &data, "transgene", &bad),
            Err(Error::InvalidOptions { .. })
        ));
    }
    assert!(matches!(
        vpc(&model, &data, "b_cells", &base),
        Err(Error::AnalyteNotObserved { .. })
    ));
    let missing = VpcOptions {
        stratify: Some("WT".into()),
        ..base
    };
    assert!(matches!(
        vpc(&model, &data, "transgene", &missing),
        Err(Error::CovariateMissing { .. })
    ));
}

/// Reference values computed once with SciPy 1.17.1 (`scipy.stats.shapiro`,
/// `ttest_1samp`, `chi2.cdf`, `skew`, `kurtosis`), an independent implementation.
#[test]
fn normality_and_summary_tests_match_scipy() {
    use cart_pkpd::diagnostics::{shapiro_wilk, summarize};
    let cases: [(&[f64], f64, f64); 5] = [
        (
            &[
                148.0, 154.0, 158.0, 160.0, 161.0, 162.0, 166.0, 170.0, 182.0, 195.0, 236.0,
            ],
            0.788_814_694_863_171_6,
            0.006_703_814_061_898_823,
        ),
        (
            &[1.0, 2.0, 4.0, 7.0],
            0.945_630_482_855_650_3,
            0.688_936_438_488_198_9,
        ),
        (
            &[2.1, 3.3, 0.4, 5.6, 4.4],
            0.990_040_856_000_774_8,
            0.979_837_443_791_798,
        ),
        (
            &[1.0, 2.0, 4.0],
            0.964_285_714_285_714_2,
            0.636_886_845_028_968_9,
        ),
        (&X20, 0.974_085_719_462_769_7, 0.837_677_884_758_009_2),
    ];
    for (x, w, p) in cases {
        let t = shapiro_wilk(x).unwrap();
        approx::assert_abs_diff_eq!(t.w, w, epsilon = 1e-5);
        approx::assert_abs_diff_eq!(t.p_value, p, epsilon = 1e-4);
    }
    assert!(shapiro_wilk(&[1.0, 2.0]).is_none());
    assert!(shapiro_wilk(&[1.0, 1.0, 1.0]).is_none());
    let s = summarize(&X20).unwrap();
    approx::assert_relative_eq!(
        s.mean_p_value,
        0.398_826_605_357_140_65,
        max_relative = 1e-6
    );
    approx::assert_relative_eq!(
        s.variance_p_value,
        0.078_361_892_812_635_95,
        max_relative = 1e-6
    );
    approx::assert_relative_eq!(s.skewness, 0.559_070_482_021_151_4, max_relative = 1e-9);
    approx::assert_relative_eq!(s.kurtosis, 0.643_657_954_884_741_6, max_relative = 1e-9);
    approx::assert_relative_eq!(
        s.global_p_value,
        3.0 * 0.078_361_892_812_635_95,
        max_relative = 1e-6
    );
}

const X20: [f64; 20] = [
    0.12, -1.3, 0.85, 2.1, -0.44, 0.3, -0.9, 1.7, -2.2, 0.05, 0.66, -0.15, 1.1, -0.7, 0.4, -1.05,
    0.95, -0.25, 0.2, 3.5,
];

#[test]
fn npde_of_data_from_the_model_are_standard_normal_and_of_other_data_are_not() {
    use cart_pkpd::diagnostics::{NpdeOptions, npde, summarize};
    let data = data_n(24);
    let base = fitted(&data);
    let spec = spec();
    let truth =
        FittedModel::new(&CellularKinetics, &spec, &base, SolverOptions::default()).unwrap();
    let opts = NpdeOptions {
        replicates: 500,
        seed: 3,
    };
    let mut pooled = Vec::new();
    let mut rejected = 0;
    for d in 0..10 {
        let sim = truth.simulate_replicate(&data, 77, d).unwrap();
        let result = npde(&truth, &sim, &opts).unwrap();
        assert_eq!(result.rows.len(), 24 * 5);
        for r in result.rows.iter().filter(|r| r.censored) {
            // an imputed value lies below its LLOQ
            assert!(r.value < data.subjects()[0].observations()[4].lloq.unwrap());
        }
        rejected += usize::from(result.summary.global_p_value < 0.05);
        pooled.extend(result.rows.iter().map(|r| r.npde));
    }
    let s = summarize(&pooled).unwrap();
    let n = pooled.len() as f64;
    eprintln!(
        "pooled NPDE: mean {:.3} variance {:.3}, {rejected}/10 rejected",
        s.mean, s.variance
    );
    assert!(s.mean.abs() < 4.0 / n.sqrt(), "{}", s.mean);
    assert!(
        (s.variance - 1.0).abs() < 4.0 * (2.0 / n).sqrt(),
        "{}",
        s.variance
    );
    assert!(rejected <= 3, "{rejected}");
    // data three times higher than the model predicts: the mean test rejects
    let shifted = Dataset::new(
        data.subjects()
            .iter()
            .map(|s| {
                let mut b = Subject::builder(s.id()).dose(0.0, 10.0);
                for o in s.observations().iter().filter(|o| !o.censored) {
                    b = b.observe(o.time, "transgene", 3.0 * o.value);
                }
                b.build().unwrap()
            })
            .collect(),
    )
    .unwrap();
    let off = npde(&truth, &shifted, &opts).unwrap();
    assert!(
        off.summary.mean > 1.0 && off.summary.mean_p_value < 1e-6,
        "{:?}",
        off.summary
    );
}

#[test]
fn parameter_uncertainty_adds_the_estimates_sampling_variance() {
    let data = data_n(24);
    let fit = fitted(&data);
    let spec = spec();
    let plain = FittedModel::new(&CellularKinetics, &spec, &fit, SolverOptions::default()).unwrap();
    let uncertain = FittedModel::new(&CellularKinetics, &spec, &fit, SolverOptions::default())
        .unwrap()
        .with_parameter_uncertainty()
        .unwrap();
    // the variance over replicates of the replicate's mean ln y at day 9 over 24 subjects:
    // (ω² + σ²)/24 at the estimates; plus Var(ln ĉmax) = (SE/ĉmax)² with uncertainty
    let spread = |m: &FittedModel<'_, CellularKinetics>| {
        let means: Vec<f64> = m
            .simulate_replicates(&data, 2000, 4)
            .unwrap()
            .iter()
            .map(|d| {
                d.subjects()
                    .iter()
                    .map(|s| s.observations()[1].value.ln())
                    .sum::<f64>()
                    / 24.0
            })
            .collect();
        let mean = means.iter().sum::<f64>() / means.len() as f64;
        means.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (means.len() as f64 - 1.0)
    };
    let within = (fit.omega[0].value + fit.sigma[0].value.powi(2)) / 24.0;
    let se_ln_cmax = fit.theta[0].se.unwrap() / fit.theta[0].value;
    let (a, b) = (spread(&plain), spread(&uncertain));
    eprintln!(
        "replicate-mean variance: {a:.3e} (expected {within:.3e}), with uncertainty {b:.3e} (expected {:.3e})",
        within + se_ln_cmax.powi(2)
    );
    // 2000 replicates: a sample variance within ±15% (≈ 4.7 SE of √(2/1999))
    approx::assert_relative_eq!(a, within, max_relative = 0.15);
    approx::assert_relative_eq!(b, within + se_ln_cmax.powi(2), max_relative = 0.15);
    // without a covariance step there is no uncertainty to draw
    let opts = PopulationOptions {
        covariance: false,
        ..PopulationOptions::default()
    };
    let bare = fit_population(&CellularKinetics, &data, &spec, &opts).unwrap();
    let model =
        FittedModel::new(&CellularKinetics, &spec, &bare, SolverOptions::default()).unwrap();
    assert!(model.with_parameter_uncertainty().is_err());
}

#[test]
fn individual_fits_simulate_their_residual_error_and_uncertainty() {
    use cart_pkpd::fit::{FitOptions, FitSimulation, FitSpec, fit_subject, simulate_from_fit};
    let subject = &data().subjects()[2].clone();
    let sd = 0.15;
    let spec = FitSpec::new(CellularKineticsParams::stein_2019())
        .estimate(&["cmax"])
        .residual_fixed("transgene", ErrorModel::LogAdditive { sd });
    let fit = fit_subject(&CellularKinetics, subject, &spec, &FitOptions::default()).unwrap();
    let ipred = fit.predictions[1].ipred; // day 9
    let ln_at = |opts: &FitSimulation| -> (f64, f64) {
        let copies = simulate_from_fit(&CellularKinetics, subject, &spec, &fit, opts).unwrap();
        let v: Vec<f64> = copies
            .iter()
            .map(|s| s.observations()[1].value.ln())
            .collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0);
        (mean, var)
    };
    let n = 4000;
    let plain = FitSimulation {
        replicates: n,
        ..FitSimulation::default()
    };
    let (mean, var) = ln_at(&plain);
    assert!(
        (mean - ipred.ln()).abs() < 4.0 * sd / (n as f64).sqrt(),
        "{mean}"
    );
    approx::assert_relative_eq!(var, sd * sd, max_relative = 0.1);
    // with uncertainty: ln y = ln f(t; ĉmax) + δ + ε, δ ~ N(0, SE(ln ĉmax)²)
    let se = fit.estimates[0].se.unwrap() / fit.estimates[0].value;
    let (_, var) = ln_at(&FitSimulation {
        parameter_uncertainty: true,
        ..plain
    });
    approx::assert_relative_eq!(var, sd * sd + se * se, max_relative = 0.1);
    // another specification is refused
    let other = FitSpec::new(CellularKineticsParams::stein_2019())
        .estimate(&["alpha"])
        .residual_fixed("transgene", ErrorModel::LogAdditive { sd });
    assert!(simulate_from_fit(&CellularKinetics, subject, &other, &fit, &plain).is_err());
}
