//! FOCE-I on the Theophylline data (12 subjects, Pinheiro & Bates 2000): against nlme's
//! published fit of the same model, and its objective against the exact marginal
//! likelihood computed by quadrature.

#[allow(dead_code)]
#[path = "../examples/user_model.rs"]
mod user_model;

use cart_pkpd::data::CsvOptions;
use cart_pkpd::nlme::{
    EvaluateAt, OuterMethod, PopulationFit, PopulationOptions, PopulationSpec, QuadratureOptions,
    fit_population, marginal_likelihood,
};
use cart_pkpd::{Dataset, ErrorModel};
use user_model::{OneCompartmentOral, OneCompartmentParams};

fn theoph() -> Dataset {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/theoph_nonmem.csv");
    Dataset::read_csv(path, &CsvOptions::for_model(&OneCompartmentOral)).unwrap()
}

fn spec() -> PopulationSpec<OneCompartmentOral> {
    PopulationSpec::new(OneCompartmentParams::new(1.5, 0.08, 0.04).unwrap())
        .estimate(&["ka", "ke", "cl"])
        .random_diagonal(&[("ka", 0.3), ("cl", 0.1)])
        .residual("concentration", ErrorModel::Additive { sd: 1.0 })
}

fn fit_with(opts: &PopulationOptions) -> PopulationFit {
    fit_population(&OneCompartmentOral, &theoph(), &spec(), opts).unwrap()
}

fn fit() -> PopulationFit {
    fit_with(&PopulationOptions::default())
}

/// BFGS on gradients from the subjects' linearisations and derivative-free Nelder–Mead
/// share nothing but the objective: they must find the same minimum.
#[test]
fn both_outer_optimisers_reach_the_same_minimum() {
    let bfgs = fit();
    let simplex = fit_with(&PopulationOptions {
        method: OuterMethod::NelderMead,
        covariance: false,
        ..PopulationOptions::default()
    });
    eprintln!(
        "OFV: BFGS {:.5} ({} evaluations), Nelder–Mead {:.5} ({} evaluations)",
        bfgs.ofv, bfgs.evaluations, simplex.ofv, simplex.evaluations
    );
    assert!(
        (bfgs.ofv - simplex.ofv).abs() < 1e-3,
        "OFV {} vs {}",
        bfgs.ofv,
        simplex.ofv
    );
    for (a, b) in bfgs.theta.iter().zip(&simplex.theta) {
        assert!((a.value / b.value - 1.0).abs() < 2e-3, "{a:?} vs {b:?}");
    }
    for (a, b) in bfgs.omega.iter().zip(&simplex.omega) {
        assert!((a.value / b.value - 1.0).abs() < 1e-2, "{a:?} vs {b:?}");
    }
}

fn theta(fit: &PopulationFit, name: &str) -> f64 {
    fit.theta.iter().find(|e| e.name == name).unwrap().value
}

/// nlme (Lindstrom–Bates), `fm3Theo.nlme` = IIV on lKa and lCl, diagonal: fixed effects
/// lKe −2.454704, lKa 0.465734, lCl −3.227223; random-effect SDs and residual SD of the
/// same data with IIV also on lKe (`fm2Theo.nlme`, whose lKe variance is ~0): lKa 0.6439,
/// lCl 0.1669, residual 0.7092. FOCE-I and Lindstrom–Bates are different approximations;
/// the fixed effects must agree to well within one standard error.
#[test]
fn theophylline_agrees_with_the_published_nlme_fit() {
    let fit = fit();
    eprintln!("{fit}");
    let se = |name: &str| {
        fit.theta
            .iter()
            .find(|e| e.name == name)
            .unwrap()
            .se
            .unwrap()
    };
    for (name, nlme) in [("ke", -2.454704), ("ka", 0.465734), ("cl", -3.227223)] {
        let ours = theta(&fit, name).ln();
        let se_log = se(name) / theta(&fit, name);
        eprintln!(
            "l{name}: ours {ours:.6}, nlme {nlme:.6}, difference {:.3} SE",
            (ours - nlme) / se_log
        );
        assert!(
            (ours - nlme).abs() < 0.25 * se_log,
            "l{name}: {ours} vs {nlme}"
        );
    }
    let sd = |name: &str| {
        fit.omega
            .iter()
            .find(|o| o.name == name)
            .unwrap()
            .value
            .sqrt()
    };
    assert!(
        (sd("ka") / 0.6439 - 1.0).abs() < 0.05,
        "SD(lKa) {}",
        sd("ka")
    );
    assert!(
        (sd("cl") / 0.1669 - 1.0).abs() < 0.05,
        "SD(lCl) {}",
        sd("cl")
    );
    assert!(
        (fit.sigma[0].value / 0.7092 - 1.0).abs() < 0.02,
        "residual SD {}",
        fit.sigma[0].value
    );
    // the NONMEM OFV drops n·ln 2π from −2LL
    let n = 132.0;
    approx::assert_relative_eq!(
        fit.ofv,
        fit.minus_two_ll - n * (2.0 * std::f64::consts::PI).ln(),
        max_relative = 1e-12
    );
    assert!(fit.warnings.is_empty(), "{:?}", fit.warnings);
}

/// The exact −2 log-likelihood of each subject at the FOCE-I estimates, integrating
/// p(y_i | η) p(η) over η ∈ ±7 SD with a 241 × 241 midpoint grid, with the model's closed
/// form written out here.
fn exact_by_grid(fit: &PopulationFit, data: &Dataset) -> Vec<f64> {
    let (ka, ke, cl) = (theta(fit, "ka"), theta(fit, "ke"), theta(fit, "cl"));
    let var = |name: &str| fit.omega.iter().find(|o| o.name == name).unwrap().value;
    let (w_ka, w_cl, sigma) = (var("ka"), var("cl"), fit.sigma[0].value);
    let n_grid = 241;
    let half = 7.0;
    let step = 2.0 * half / n_grid as f64;
    let mut exact = Vec::new();
    for s in data.subjects() {
        let dose = s.doses()[0].amount;
        let obs: Vec<(f64, f64)> = s.observations().iter().map(|o| (o.time, o.value)).collect();
        let mut integral = 0.0;
        for i in 0..n_grid {
            let z1 = -half + (i as f64 + 0.5) * step;
            for j in 0..n_grid {
                let z2 = -half + (j as f64 + 0.5) * step;
                let (ka_i, cl_i) = (ka * (z1 * w_ka.sqrt()).exp(), cl * (z2 * w_cl.sqrt()).exp());
                let v = cl_i / ke;
                let ss: f64 = obs
                    .iter()
                    .map(|&(t, y)| {
                        let c =
                            dose * ka_i / (v * (ka_i - ke)) * ((-ke * t).exp() - (-ka_i * t).exp());
                        (y - c).powi(2)
                    })
                    .sum();
                // standard-normal z: the density of η is folded into the measure
                let log_lik =
                    -0.5 * obs.len() as f64 * (2.0 * std::f64::consts::PI * sigma * sigma).ln()
                        - ss / (2.0 * sigma * sigma);
                let phi = (-(z1 * z1 + z2 * z2) / 2.0).exp() / (2.0 * std::f64::consts::PI);
                integral += log_lik.exp() * phi * step * step;
            }
        }
        exact.push(-2.0 * integral.ln());
    }
    exact
}

/// The exact −2LL at the FOCE-I estimates must be close to the FOCE-I value.
#[test]
fn foce_i_objective_is_close_to_the_exact_marginal_likelihood() {
    let fit = fit();
    let exact: f64 = exact_by_grid(&fit, &theoph()).iter().sum();
    eprintln!(
        "−2LL: FOCE-I {:.4}, exact (quadrature) {exact:.4}",
        fit.minus_two_ll
    );
    assert!(
        (fit.minus_two_ll - exact).abs() < 2.0,
        "FOCE-I {} vs exact {exact}",
        fit.minus_two_ll
    );
}

/// The library's adaptive Gauss–Hermite quadrature against the grid, subject by subject:
/// 25 nodes per random effect within 1e-6 (11 nodes leave 4e-4 on subject 9, whose
/// posterior is the least normal: Laplace is 0.1 off there); one node is the Laplace
/// approximation with the exact Hessian, which the grid shows to be off by more than 1e-3.
#[test]
fn adaptive_quadrature_matches_the_grid() {
    let fit = fit();
    let data = theoph();
    let grid = exact_by_grid(&fit, &data);
    let at = |nodes: usize| {
        let opts = QuadratureOptions {
            nodes,
            ..QuadratureOptions::default()
        };
        marginal_likelihood(
            &OneCompartmentOral,
            &data,
            &spec(),
            EvaluateAt::Estimates(&fit),
            &opts,
        )
        .unwrap()
    };
    let (laplace, aghq) = (at(1), at(25));
    let mut worst_laplace: f64 = 0.0;
    for ((g, a), l) in grid.iter().zip(&aghq.subjects).zip(&laplace.subjects) {
        eprintln!(
            "{}: grid {g:.8}, AGHQ {:.8}, Laplace {:.8}",
            a.id, a.minus_two_ll, l.minus_two_ll
        );
        assert!(
            (a.minus_two_ll - g).abs() < 1e-6,
            "{}: {} vs {g}",
            a.id,
            a.minus_two_ll
        );
        worst_laplace = worst_laplace.max((l.minus_two_ll - g).abs());
    }
    assert!(
        worst_laplace > 1e-3,
        "Laplace within {worst_laplace} of the grid"
    );
    assert!((aghq.minus_two_ll - grid.iter().sum::<f64>()).abs() < 1e-5);
    approx::assert_relative_eq!(
        aghq.ofv,
        aghq.minus_two_ll - 132.0 * (2.0 * std::f64::consts::PI).ln(),
        max_relative = 1e-12
    );
}

#[test]
fn diagnostics_follow_their_definitions() {
    let fit = fit();
    // shrinkage as NONMEM's ETASHRINKSD: 1 − √(Σ η̂²/n)/ω over the n subjects
    for (k, o) in fit.omega.iter().enumerate() {
        let etas: Vec<f64> = fit.subjects.iter().map(|s| s.eta[k]).collect();
        let sd = (etas.iter().map(|e| e * e).sum::<f64>() / etas.len() as f64).sqrt();
        approx::assert_relative_eq!(
            o.shrinkage_percent.unwrap(),
            100.0 * (1.0 - sd / o.value.sqrt()),
            max_relative = 1e-9
        );
        // the variance's CI is Wald on ln ω²: symmetric about ln ω² with half-width
        // 1.96·SE(ω²)/ω² (delta method)
        let (lo, hi) = o.ci95.unwrap();
        let half = 1.96 * o.se.unwrap() / o.value;
        approx::assert_relative_eq!(hi.ln() - o.value.ln(), half, max_relative = 1e-9);
        approx::assert_relative_eq!(o.value.ln() - lo.ln(), half, max_relative = 1e-9);
    }
    // IPRED is the model at the individual parameters, PRED at the typical ones
    let s = &fit.subjects[0];
    let p = |name: &str| s.params.iter().find(|x| x.0 == name).unwrap().1;
    let (ka, ke, cl) = (p("ka"), p("ke"), p("cl"));
    approx::assert_relative_eq!(ka, theta(&fit, "ka") * s.eta[0].exp(), max_relative = 1e-12);
    approx::assert_relative_eq!(ke, theta(&fit, "ke"), max_relative = 1e-12);
    let dose = theoph().subjects()[0].doses()[0].amount;
    for r in &s.predictions {
        let c = |ka: f64, cl: f64| {
            dose * ka / (cl / ke * (ka - ke)) * ((-ke * r.time).exp() - (-ka * r.time).exp())
        };
        approx::assert_relative_eq!(r.ipred, c(ka, cl), max_relative = 1e-9, epsilon = 1e-12);
        approx::assert_relative_eq!(
            r.pred,
            c(theta(&fit, "ka"), theta(&fit, "cl")),
            max_relative = 1e-9,
            epsilon = 1e-12
        );
        approx::assert_relative_eq!(
            r.iwres,
            (r.observed - r.ipred) / fit.sigma[0].value,
            max_relative = 1e-9,
            epsilon = 1e-12
        );
        assert!(r.cwres.is_some_and(f64::is_finite));
    }
    // CWRES of a correct model are roughly standard normal over all 132 observations
    let all: Vec<f64> = fit
        .subjects
        .iter()
        .flat_map(|s| s.predictions.iter().filter_map(|r| r.cwres))
        .collect();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let sd = (all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / all.len() as f64).sqrt();
    assert!(
        mean.abs() < 0.3 && (sd - 1.0).abs() < 0.3,
        "CWRES mean {mean}, SD {sd}"
    );
}

#[test]
fn tables_are_numeric_and_reproduce_the_fit() {
    let fit = fit();
    let mut buf = Vec::new();
    cart_pkpd::diagnostics::write_sdtab(&fit, None, &mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "ID,TIME,DVID,DV,PRED,IPRED,IWRES,CWRES,NPDE,CENS"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), fit.n_observations);
    let all: Vec<_> = fit
        .subjects
        .iter()
        .flat_map(|s| s.predictions.iter().map(move |p| (s, p)))
        .collect();
    for (row, (s, p)) in rows.iter().zip(&all) {
        assert_eq!(row[0], s.subject);
        // every other field is a number (or empty where CWRES is missing)
        for field in &row[1..] {
            assert!(field.is_empty() || field.parse::<f64>().is_ok(), "{field}");
        }
        assert_eq!(row[3].parse::<f64>().unwrap(), p.observed);
        assert_eq!(row[5].parse::<f64>().unwrap(), p.ipred);
        assert_eq!(row[7].parse::<f64>().ok(), p.cwres);
    }
    let mut buf = Vec::new();
    cart_pkpd::diagnostics::write_patab(&fit, &mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    assert_eq!(header[0], "ID");
    assert_eq!(&header[header.len() - 2..], ["ETA1", "ETA2"]);
    assert_eq!(text.lines().count(), fit.subjects.len() + 1);
    // ε-shrinkage as NONMEM: 1 − √(mean IWRES²) over quantified observations
    let iwres: Vec<f64> = all
        .iter()
        .filter(|(_, p)| !p.censored)
        .map(|(_, p)| p.iwres)
        .collect();
    let rms = (iwres.iter().map(|v| v * v).sum::<f64>() / iwres.len() as f64).sqrt();
    approx::assert_relative_eq!(
        fit.epsilon_shrinkage[0].percent.unwrap(),
        100.0 * (1.0 - rms),
        max_relative = 1e-12
    );
}

/// The Theophylline doses as steady-state records (`SS = 1`, `II = 24`) for the built-in
/// one-compartment oral model: the fit by the ODE (its `∂f/∂η` from forward sensitivities
/// through the steady state) against the fit by the exact solution. Measured: OFV 1.4e-5
/// apart, estimates within 6e-7 relative, SEs within 2e-5. With `∂f/∂η` by differences of
/// ODE solutions, as before the sensitivities covered steady states, ka's SE was 13% off
/// and the fit took twice as long.
#[test]
fn steady_state_records_fit_by_the_ode_as_by_the_exact_solution() {
    use cart_pkpd::SolverOptions;
    use cart_pkpd::models::pk::{OneCmtOral, OneCmtOralParams};
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/theoph_nonmem.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (evid, ii, ss, analyte) = (
        column("EVID"),
        column("II"),
        column("SS"),
        column("ANALYTE"),
    );
    let mut csv = header.join(",") + "\n";
    for line in lines {
        let mut fields: Vec<&str> = line.split(',').collect();
        if fields[evid] == "1" {
            (fields[ii], fields[ss]) = ("24", "1");
        } else if fields[analyte] == "concentration" {
            fields[analyte] = "cp";
        }
        csv += &(fields.join(",") + "\n");
    }
    let data =
        Dataset::from_csv_reader(csv.as_bytes(), &CsvOptions::for_model(&OneCmtOral)).unwrap();
    let spec = PopulationSpec::new(OneCmtOralParams::new(1.5, 0.04, 0.5).unwrap())
        .estimate(&["ka", "cl", "v"])
        .random_diagonal(&[("ka", 0.3), ("cl", 0.1)])
        .residual("cp", ErrorModel::Additive { sd: 1.0 });
    let fit = |solver: SolverOptions| {
        let opts = PopulationOptions {
            solver,
            ..PopulationOptions::default()
        };
        fit_population(&OneCmtOral, &data, &spec, &opts).unwrap()
    };
    let exact = fit(PopulationOptions::default().solver);
    let ode = fit(PopulationOptions::default().solver.ode());
    assert!(
        (exact.ofv - ode.ofv).abs() < 1e-3,
        "{} {}",
        exact.ofv,
        ode.ofv
    );
    for (a, b) in exact.theta.iter().zip(&ode.theta) {
        let (se_a, se_b) = (a.se.unwrap(), b.se.unwrap());
        assert!(
            (a.value - b.value).abs() < 0.01 * se_a,
            "{}: {a:?} {b:?}",
            a.name
        );
        assert!(
            (se_a - se_b).abs() < 1e-3 * se_a,
            "{}: {se_a} {se_b}",
            a.name
        );
    }
}

/// Without random effects FOCE-I is the naive pooled fit: with additive error the
/// objective is `RSS/σ² + N·ln σ²` exactly (no Laplace term), and at its minimum
/// `σ̂² = RSS/N`. (A fit without random effects panicked before: an empty `η` matched the
/// EBE search's cache of predictions before any were made.)
#[test]
fn without_random_effects_it_is_the_pooled_least_squares_fit() {
    let spec = PopulationSpec::new(OneCompartmentParams::new(1.5, 0.08, 0.04).unwrap())
        .estimate(&["ka", "ke", "cl"])
        .residual("concentration", ErrorModel::Additive { sd: 1.0 });
    let fit = fit_population(
        &OneCompartmentOral,
        &theoph(),
        &spec,
        &PopulationOptions::default(),
    )
    .unwrap();
    let residuals: Vec<f64> = (fit.subjects.iter())
        .flat_map(|s| s.predictions.iter().map(|p| p.observed - p.pred))
        .collect();
    let n = residuals.len() as f64;
    let rss: f64 = residuals.iter().map(|r| r * r).sum();
    let variance = fit.sigma[0].value.powi(2);
    let ofv = rss / variance + n * variance.ln();
    assert!(
        (fit.ofv - ofv).abs() < 1e-8 * ofv.abs(),
        "{} vs {ofv}",
        fit.ofv
    );
    assert!(
        (variance / (rss / n) - 1.0).abs() < 1e-3,
        "{variance} vs {}",
        rss / n
    );
}

/// The fit is the same number for number on one thread and on four: every subject's part
/// of the objective and of the implicit gradient is summed in subject order.
#[test]
fn one_thread_and_four_give_the_same_fit() {
    let data = theoph();
    let ode = cart_pkpd::SolverOptions::default()
        .ode()
        .with_tolerances(1e-8, 1e-11);
    for solver in [cart_pkpd::SolverOptions::default(), ode] {
        let opts = PopulationOptions {
            solver,
            ..PopulationOptions::default()
        };
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| fit_population(&OneCompartmentOral, &data, &spec(), &opts).unwrap())
        };
        let (one, four) = (on(1), on(4));
        assert_eq!(one.ofv.to_bits(), four.ofv.to_bits(), "{solver:?}");
        assert_eq!(one.evaluations, four.evaluations);
        for (a, b) in one.theta.iter().zip(&four.theta) {
            assert_eq!(a.value.to_bits(), b.value.to_bits());
            assert_eq!(a.se.map(f64::to_bits), b.se.map(f64::to_bits));
        }
    }
}
