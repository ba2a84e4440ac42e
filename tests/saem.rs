//! SAEM on the Theophylline data (12 subjects, one compartment, random effects on ka and
//! CL): its estimates against the exact maximum likelihood (adaptive Gauss–Hermite
//! quadrature maximised by Nelder–Mead here) and FOCE-I's; the importance-sampling −2LL
//! against quadrature; the same numbers on 1 and 2 threads; typed errors.

#[allow(dead_code)]
#[path = "../examples/user_model.rs"]
mod user_model;

#[allow(dead_code)]
mod common;

use argmin::core::CostFunction;
use cart_pkpd::data::CsvOptions;
use cart_pkpd::nlme::{
    Chains, EstimationMethod, EvaluateAt, Exploration, ImportanceOptions, PopulationFit,
    PopulationOptions, PopulationSpec, ProposalKind, QuadratureOptions, SaemFit, SaemOptions,
    StandardErrors, fit_population, fit_population_from, fit_population_saem, importance_sampling,
    importance_sampling_conditional, marginal_likelihood,
};
use cart_pkpd::{Dataset, Error, ErrorModel};
use common::nelder_mead_minimum;
use user_model::{OneCompartmentOral, OneCompartmentParams};

fn theoph() -> Dataset {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/theoph_nonmem.csv");
    Dataset::read_csv(path, &CsvOptions::for_model(&OneCompartmentOral)).unwrap()
}

/// The model at given values: log ka, log ke, log CL, ω²(ka), ω²(CL), log σ.
fn spec_at(x: &[f64]) -> PopulationSpec<OneCompartmentOral> {
    let p = OneCompartmentParams::new(x[0].exp(), x[1].exp(), x[2].exp()).unwrap();
    PopulationSpec::new(p)
        .estimate(&["ka", "ke", "cl"])
        .random_diagonal(&[("ka", x[3]), ("cl", x[4])])
        .residual("concentration", ErrorModel::Additive { sd: x[5].exp() })
}

fn spec() -> PopulationSpec<OneCompartmentOral> {
    spec_at(&[1.5f64.ln(), 0.08f64.ln(), 0.04f64.ln(), 0.3, 0.1, 0.0])
}

fn values(fit: &PopulationFit) -> Vec<f64> {
    fit.theta
        .iter()
        .map(|e| e.value)
        .chain(fit.omega.iter().map(|o| o.value))
        .chain(fit.sigma.iter().map(|e| e.value))
        .collect()
}

fn ses(fit: &PopulationFit) -> Vec<f64> {
    fit.theta
        .iter()
        .map(|e| e.se.unwrap())
        .chain(fit.omega.iter().map(|o| o.se.unwrap()))
        .chain(fit.sigma.iter().map(|e| e.se.unwrap()))
        .collect()
}

/// The exact −2LL by quadrature (15 nodes per random effect) at `x` (as [`spec_at`], with
/// the variances on the log scale so that the search stays in their domain).
struct Exact<'d> {
    data: &'d Dataset,
}

impl CostFunction for Exact<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        let mut v = x.clone();
        v[3] = v[3].exp();
        v[4] = v[4].exp();
        let opts = QuadratureOptions {
            nodes: 15,
            ..QuadratureOptions::default()
        };
        Ok(marginal_likelihood(
            &OneCompartmentOral,
            self.data,
            &spec_at(&v),
            EvaluateAt::Initial,
            &opts,
        )
        .map_or(f64::INFINITY, |m| m.minus_two_ll))
    }
}

/// The maximum-likelihood estimates (natural scale, as [`values`]) and the −2LL there.
fn exact_maximum(data: &Dataset, from: &PopulationFit) -> (Vec<f64>, f64) {
    let x0: Vec<f64> = values(from).iter().map(|v| v.ln()).collect();
    let (x, minimum) = nelder_mead_minimum(Exact { data }, &x0, 1e-9, 3000);
    (x.iter().map(|v| v.exp()).collect(), minimum)
}

fn foce_i(data: &Dataset) -> PopulationFit {
    fit_population(
        &OneCompartmentOral,
        data,
        &spec(),
        &PopulationOptions::default(),
    )
    .unwrap()
}

fn saem(opts: &SaemOptions) -> SaemFit {
    fit_population_saem(&OneCompartmentOral, &theoph(), &spec(), opts).unwrap()
}

/// SAEM maximises the exact likelihood, FOCE-I an approximation of it: with each of three
/// seeds, SAEM's estimates are within 0.35 SE of the exact maximum (its Monte Carlo error:
/// FOCE-I's approximation is within 0.5 SE) and the exact −2LL at SAEM's estimates is
/// within 0.1 of the maximum; the importance-sampling −2LL is within 3 Monte Carlo SEs of
/// quadrature at the same estimates.
#[test]
fn saem_reaches_the_exact_maximum_likelihood() {
    let data = theoph();
    let foce = foce_i(&data);
    let (ml, ml_m2ll) = exact_maximum(&data, &foce);
    let (f, se) = (values(&foce), ses(&foce));
    assert_eq!(foce.standard_errors, Some(StandardErrors::Linearisation));
    for i in 0..6 {
        eprintln!(
            "{i}: exact ML {:.6}  FOCE-I {:.6}  SE {:.6}",
            ml[i], f[i], se[i]
        );
        assert!((f[i] - ml[i]).abs() < 0.5 * se[i], "FOCE-I element {i}");
    }
    let exact_at = |fit: &PopulationFit| {
        let opts = QuadratureOptions {
            nodes: 15,
            ..QuadratureOptions::default()
        };
        marginal_likelihood(
            &OneCompartmentOral,
            &data,
            &spec(),
            EvaluateAt::Estimates(fit),
            &opts,
        )
        .unwrap()
        .minus_two_ll
    };
    eprintln!(
        "-2LL: exact maximum {ml_m2ll:.4}; at FOCE-I: exact {:.4}, FOCE-I {:.4}",
        exact_at(&foce),
        foce.minus_two_ll
    );
    for seed in 1..=3 {
        let fit = saem(&SaemOptions {
            seed,
            ..SaemOptions::default()
        });
        assert_eq!(fit.fit.method, EstimationMethod::Saem);
        let s = values(&fit.fit);
        for i in 0..6 {
            eprintln!(
                "seed {seed}, {i}: SAEM {:.6} ({:+.3} SE)",
                s[i],
                (s[i] - ml[i]) / se[i]
            );
            assert!((s[i] - ml[i]).abs() < 0.35 * se[i], "SAEM element {i}");
        }
        let exact = exact_at(&fit.fit);
        let is = fit.likelihood.as_ref().unwrap();
        eprintln!(
            "seed {seed}: at SAEM: exact {exact:.4}, IS {:.4} ± {:.4}; exploration {} of {} \
             iterations",
            is.minus_two_ll,
            is.standard_error,
            fit.exploration_iterations,
            fit.trace.len()
        );
        assert!(exact - ml_m2ll < 0.1 && exact >= ml_m2ll - 1e-6);
        assert!((is.minus_two_ll - exact).abs() < 3.0 * is.standard_error);
        assert!(is.standard_error < 0.1);
        assert_eq!(fit.fit.minus_two_ll, is.minus_two_ll);
    }
}

/// Importance sampling is unbiased for the likelihood: at FOCE-I's estimates, within 3
/// Monte Carlo SEs of quadrature for each of several seeds, and its SE shrinks as 1/√M.
#[test]
fn importance_sampling_matches_quadrature() {
    let data = theoph();
    let foce = foce_i(&data);
    let exact = marginal_likelihood(
        &OneCompartmentOral,
        &data,
        &spec(),
        EvaluateAt::Estimates(&foce),
        &QuadratureOptions {
            nodes: 25,
            ..QuadratureOptions::default()
        },
    )
    .unwrap();
    let run = |seed: u64, samples: usize| {
        let opts = ImportanceOptions {
            seed,
            samples,
            ..ImportanceOptions::default()
        };
        importance_sampling(
            &OneCompartmentOral,
            &data,
            &spec(),
            EvaluateAt::Estimates(&foce),
            &opts,
        )
        .unwrap()
    };
    for seed in 1..=4 {
        let is = run(seed, 2000);
        eprintln!(
            "seed {seed}: IS {:.4} ± {:.4}, quadrature {:.4}",
            is.minus_two_ll, is.standard_error, exact.minus_two_ll
        );
        assert!((is.minus_two_ll - exact.minus_two_ll).abs() < 3.0 * is.standard_error);
        approx::assert_relative_eq!(
            is.ofv,
            is.minus_two_ll - 132.0 * (2.0 * std::f64::consts::PI).ln(),
            max_relative = 1e-12
        );
        assert!(is.subjects.iter().all(|s| s.effective_samples > 500.0));
    }
    let ratio = run(1, 500).standard_error / run(1, 8000).standard_error;
    assert!((ratio - 4.0).abs() < 0.6, "SE ratio {ratio}");
}

/// Subjects run in parallel, each with its own stream: 1 and 2 threads give the same
/// estimates, likelihood, conditional distributions and Louis' standard errors, to the bit.
#[test]
fn saem_is_the_same_on_one_and_two_threads() {
    let opts = SaemOptions {
        exploration: Exploration::Fixed(40),
        smoothing: 20,
        importance_samples: 200,
        standard_errors: StandardErrors::Louis { iterations: 50 },
        seed: 7,
        ..SaemOptions::default()
    };
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| saem(&opts))
    };
    let (one, two) = (on(1), on(2));
    assert_eq!(values(&one.fit), values(&two.fit));
    assert_eq!(one.trace, two.trace);
    assert_eq!(one.fit.minus_two_ll, two.fit.minus_two_ll);
    assert_eq!(one.conditional, two.conditional);
    assert_eq!(ses(&one.fit), ses(&two.fit));
    let other = saem(&SaemOptions { seed: 8, ..opts });
    assert_ne!(values(&other.fit), values(&one.fit), "the seed matters");
}

#[test]
fn bad_saem_input_is_a_typed_error() {
    let data = theoph();
    let no_random = PopulationSpec::new(OneCompartmentParams::new(1.5, 0.08, 0.04).unwrap())
        .estimate(&["ka", "ke", "cl"])
        .residual("concentration", ErrorModel::Additive { sd: 1.0 });
    let err = fit_population_saem(&OneCompartmentOral, &data, &no_random, &Default::default());
    assert!(
        matches!(err, Err(Error::InvalidFitOptions { .. })),
        "{err:?}"
    );
    for bad in [
        SaemOptions {
            smoothing: 0,
            ..SaemOptions::default()
        },
        SaemOptions {
            exploration: Exploration::Auto { min: 10, max: 5 },
            ..SaemOptions::default()
        },
        SaemOptions {
            annealing: 1.5,
            ..SaemOptions::default()
        },
        SaemOptions {
            importance_samples: 1,
            ..SaemOptions::default()
        },
        SaemOptions {
            standard_errors: StandardErrors::Louis { iterations: 0 },
            ..SaemOptions::default()
        },
        SaemOptions {
            degrees_of_freedom: f64::NAN,
            ..SaemOptions::default()
        },
        SaemOptions {
            chains: Chains::Fixed(0),
            ..SaemOptions::default()
        },
    ] {
        let err = fit_population_saem(&OneCompartmentOral, &data, &spec(), &bad);
        assert!(
            matches!(err, Err(Error::InvalidFitOptions { .. })),
            "{err:?}"
        );
    }
    let opts = ImportanceOptions {
        degrees_of_freedom: 0.0,
        ..ImportanceOptions::default()
    };
    let err = importance_sampling(
        &OneCompartmentOral,
        &data,
        &spec(),
        EvaluateAt::Initial,
        &opts,
    );
    assert!(
        matches!(err, Err(Error::InvalidFitOptions { .. })),
        "{err:?}"
    );
}

/// FOCE-I started from SAEM's estimates (with their covariance step, whose curvature the
/// outer search starts from) reaches FOCE-I's own optimum (OFV within 1e-3, estimates
/// within 0.05 SE); a start from another specification or data is refused.
#[test]
fn foce_i_from_saem_reaches_the_foce_i_optimum() {
    let data = theoph();
    let opts = PopulationOptions::default();
    let direct = foce_i(&data);
    let saem = saem(&SaemOptions {
        importance_samples: 0,
        ..SaemOptions::default()
    });
    let chained =
        fit_population_from(&OneCompartmentOral, &data, &spec(), &saem.fit, &opts).unwrap();
    eprintln!(
        "OFV direct {:.5}, from SAEM {:.5} ({} vs {} iterations)",
        direct.ofv, chained.ofv, direct.iterations, chained.iterations
    );
    assert!((direct.ofv - chained.ofv).abs() < 1e-3);
    let (a, b, se) = (values(&direct), values(&chained), ses(&direct));
    for i in 0..6 {
        assert!((a[i] - b[i]).abs() < 0.05 * se[i], "element {i}");
    }
    let other_spec = spec().random_diagonal(&[("ka", 0.3)]);
    let err = fit_population_from(&OneCompartmentOral, &data, &other_spec, &saem.fit, &opts);
    assert!(
        matches!(err, Err(Error::InvalidFitOptions { .. })),
        "{err:?}"
    );
    let fewer = Dataset::new(data.subjects()[1..].to_vec()).unwrap();
    let err = fit_population_from(&OneCompartmentOral, &fewer, &spec(), &saem.fit, &opts);
    assert!(
        matches!(err, Err(Error::InvalidFitOptions { .. })),
        "{err:?}"
    );
}

/// The convergence plot: one panel per parameter, named as the fit names them, with its
/// trace and the end of exploration; no trace is a typed error.
#[cfg(feature = "plots")]
#[test]
fn the_trace_plot_has_a_panel_per_parameter() {
    let fit = saem(&SaemOptions {
        exploration: Exploration::Fixed(30),
        smoothing: 20,
        importance_samples: 0,
        covariance: false,
        ..SaemOptions::default()
    });
    let svg = cart_pkpd::plots::saem_trace_svg(&fit).unwrap();
    assert_eq!(
        fit.trace_names,
        [
            "ka",
            "ke",
            "cl",
            "omega(ka)",
            "omega(cl)",
            "concentration.sd"
        ]
    );
    for name in &fit.trace_names {
        assert!(svg.contains(&format!("\n{name}\n")), "{name}");
    }
    assert!(svg.contains("exploration iterations 1-30"));
    assert!(svg.matches("<polyline").count() >= fit.trace_names.len());
    let empty = SaemFit {
        trace: Vec::new(),
        ..fit
    };
    assert!(matches!(
        cart_pkpd::plots::saem_trace_svg(&empty),
        Err(Error::Plot { .. })
    ));
}

/// One subject's conditional mean and SD of `η = (η_ka, η_CL)` at a fit's estimates, from
/// a 161 × 161 midpoint grid over ±7 SD of each, with the Bateman function written out.
fn conditional_by_grid(fit: &PopulationFit, data: &Dataset, subject: usize) -> [[f64; 2]; 2] {
    let v = values(fit);
    let (ka, ke, cl, w_ka, w_cl, sigma) = (v[0], v[1], v[2], v[3].sqrt(), v[4].sqrt(), v[5]);
    let s = &data.subjects()[subject];
    let dose = s.doses()[0].amount;
    let (n, half) = (161, 7.0);
    let step = 2.0 * half / n as f64;
    let mut sums = [0.0; 5];
    for i in 0..n {
        let e1 = (-half + (i as f64 + 0.5) * step) * w_ka;
        for j in 0..n {
            let e2 = (-half + (j as f64 + 0.5) * step) * w_cl;
            let (ka_i, cl_i) = (ka * e1.exp(), cl * e2.exp());
            let vol = cl_i / ke;
            let ss: f64 = s
                .observations()
                .iter()
                .map(|o| {
                    let t = o.time;
                    let c =
                        dose * ka_i / (vol * (ka_i - ke)) * ((-ke * t).exp() - (-ka_i * t).exp());
                    (o.value - c).powi(2)
                })
                .sum();
            let prior = (e1 / w_ka).powi(2) + (e2 / w_cl).powi(2);
            let w = (-ss / (2.0 * sigma * sigma) - prior / 2.0).exp();
            for (k, x) in [1.0, e1, e2, e1 * e1, e2 * e2].iter().enumerate() {
                sums[k] += w * x;
            }
        }
    }
    let mean = [sums[1] / sums[0], sums[2] / sums[0]];
    let sd = [
        (sums[3] / sums[0] - mean[0].powi(2)).sqrt(),
        (sums[4] / sums[0] - mean[1].powi(2)).sqrt(),
    ];
    [mean, sd]
}

/// SAEM's conditional means and SDs (its chains over the second half of smoothing) against
/// the grid at its estimates: every mean within 0.3 conditional SD, every SD within 20%;
/// importance sampling from them (SAEM's default) within 3 Monte Carlo SEs of quadrature.
/// Conditional moments that do not fit the data are a typed error.
#[test]
fn conditional_distributions_match_the_grid() {
    let data = theoph();
    let fit = saem(&SaemOptions::default());
    assert_eq!(fit.conditional.len(), 12);
    for (i, c) in fit.conditional.iter().enumerate() {
        let [mean, sd] = conditional_by_grid(&fit.fit, &data, i);
        eprintln!(
            "{}: mean {:.4} {:.4} (grid {:.4} {:.4}); sd {:.4} {:.4} (grid {:.4} {:.4}); {} draws",
            c.id, c.mean[0], c.mean[1], mean[0], mean[1], c.sd[0], c.sd[1], sd[0], sd[1], c.draws
        );
        assert_eq!(c.id, data.subjects()[i].id());
        for r in 0..2 {
            assert!(
                (c.mean[r] - mean[r]).abs() < 0.3 * sd[r],
                "{} mean {r}",
                c.id
            );
            assert!((c.sd[r] / sd[r] - 1.0).abs() < 0.2, "{} sd {r}", c.id);
        }
    }
    let is = fit.likelihood.as_ref().unwrap();
    assert!(
        is.subjects
            .iter()
            .all(|s| s.proposal == ProposalKind::Conditional)
    );
    let exact = marginal_likelihood(
        &OneCompartmentOral,
        &data,
        &spec(),
        EvaluateAt::Estimates(&fit.fit),
        &QuadratureOptions::default(),
    )
    .unwrap();
    assert!((is.minus_two_ll - exact.minus_two_ll).abs() < 3.0 * is.standard_error);
    let at = EvaluateAt::Estimates(&fit.fit);
    let opts = ImportanceOptions::default();
    let run = |c: &[cart_pkpd::nlme::ConditionalDistribution]| {
        importance_sampling_conditional(&OneCompartmentOral, &data, &spec(), at, c, &opts)
    };
    let mut short = fit.conditional.clone();
    short.pop();
    let mut wrong_k = fit.conditional.clone();
    wrong_k[3].mean.push(0.0);
    let mut not_finite = fit.conditional.clone();
    not_finite[5].covariance[0][0] = f64::NAN;
    for bad in [short, wrong_k, not_finite] {
        assert!(matches!(run(&bad), Err(Error::InvalidFitOptions { .. })));
    }
    let mut singular = fit.conditional.clone();
    singular[0].covariance = vec![vec![0.0; 2]; 2];
    let fallback = run(&singular).unwrap();
    assert_eq!(fallback.subjects[0].proposal, ProposalKind::LaplaceFallback);
    assert_eq!(fallback.subjects[1].proposal, ProposalKind::Conditional);
}

/// Standard errors by Louis' principle (the chains run 200 iterations at SAEM's estimates)
/// against the exact observed information: the Hessian of the quadrature −2LL at the same
/// estimates by central differences (step 0.01 on the log scale of every parameter), its
/// covariance mapped to the natural scale by the delta method. Every SE within 10%.
#[test]
fn louis_standard_errors_match_the_exact_information() {
    let data = theoph();
    let fit = saem(&SaemOptions {
        standard_errors: StandardErrors::Louis { iterations: 200 },
        importance_samples: 0,
        ..SaemOptions::default()
    })
    .fit;
    assert!(fit.warnings.is_empty(), "{:?}", fit.warnings);
    let method = StandardErrors::Louis { iterations: 200 };
    assert_eq!(fit.standard_errors, Some(method));
    assert!(
        fit.to_string()
            .contains("standard errors by Louis' principle (200 iterations")
    );
    let natural = values(&fit);
    let x: Vec<f64> = natural.iter().map(|v| v.ln()).collect();
    // Exact takes every parameter on the log scale (ln ω² included)
    let exact = Exact { data: &data };
    let at = |moves: &[(usize, f64)]| {
        let mut y = x.clone();
        for &(i, d) in moves {
            y[i] += d;
        }
        exact.cost(&y).unwrap()
    };
    let (n, h) = (6, 0.01);
    let f0 = at(&[]);
    let mut hessian = nalgebra::DMatrix::zeros(n, n);
    for i in 0..n {
        for j in 0..=i {
            let v = if i == j {
                (at(&[(i, h)]) - 2.0 * f0 + at(&[(i, -h)])) / (h * h)
            } else {
                (at(&[(i, h), (j, h)]) - at(&[(i, h), (j, -h)]) - at(&[(i, -h), (j, h)])
                    + at(&[(i, -h), (j, -h)]))
                    / (4.0 * h * h)
            };
            hessian[(i, j)] = v;
            hessian[(j, i)] = v;
        }
    }
    let covariance = (hessian / 2.0).try_inverse().unwrap();
    for (i, (v, se)) in natural.iter().zip(ses(&fit)).enumerate() {
        let reference = v * covariance[(i, i)].sqrt();
        eprintln!("{i}: Louis SE {se:.6}, exact {reference:.6}");
        assert!((se / reference - 1.0).abs() < 0.1, "element {i}");
    }
}
