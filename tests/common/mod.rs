//! Shared by the population tests: model 1 on simulated cohorts with the trial's design,
//! tallies of estimates of known parameters across seeded replicates, and the search for
//! an exact likelihood's maximum.

use argmin::core::{CostFunction, Executor};
use argmin::solver::neldermead::NelderMead;
use cart_pkpd::cart::{TRIAL_TRANSGENE_DAYS, bms986353_sle_design};
use cart_pkpd::models::{CellularKinetics, CellularKineticsParams};
use cart_pkpd::nlme::{CovariateModel, PopulationFit, PopulationSpec};
use cart_pkpd::population::PopulationModel;
use cart_pkpd::synthetic::{Sampling, simulate_cohort_dataset};
use cart_pkpd::{Dataset, ErrorModel, Parameters, SolverOptions, Subject};

#[allow(dead_code)]
pub const TYPICAL: [&str; 4] = ["cmax", "alpha", "fb", "beta"];
#[allow(dead_code)]
pub const OMEGA: [(&str, f64); 2] = [("cmax", 0.25), ("alpha", 0.09)];
#[allow(dead_code)]
pub const SIGMA: f64 = 0.4;

/// A 13 + 6 subject cohort with the trial's design (transgene sampling days, LLOQ 5
/// copies/µg) from model 1 with BSV on cmax and alpha and log-additive error.
#[allow(dead_code)]
pub fn cohort(seed: u64) -> Dataset {
    let pop =
        PopulationModel::<CellularKinetics>::diagonal(CellularKineticsParams::stein_2019(), &OMEGA)
            .unwrap();
    let mut design = bms986353_sle_design();
    design.follow_up_days = vec![365.0; 19];
    design.sampling = vec![Sampling::new(
        "transgene",
        &TRIAL_TRANSGENE_DAYS,
        ErrorModel::LogAdditive { sd: SIGMA },
        Some(5.0),
    )];
    design.composition = None;
    simulate_cohort_dataset(
        &CellularKinetics,
        &pop,
        &design,
        &SolverOptions::default(),
        seed,
    )
    .unwrap()
}

/// The population model to fit, from starts away from the truth.
#[allow(dead_code)]
pub fn spec() -> PopulationSpec<CellularKinetics> {
    let start = CellularKineticsParams::stein_2019()
        .with_all(&[("cmax", 15_000.0), ("alpha", 0.2)])
        .unwrap();
    PopulationSpec::new(start)
        .estimate(&TYPICAL)
        .random_diagonal(&[("cmax", 0.1), ("alpha", 0.1)])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.3 })
}

/// A [`cohort`] whose dose-level-2 subjects have their quantified transgene scaled by
/// `factor`: exactly a factor on cmax for model 1 (the level is proportional to cmax at
/// every time).
#[allow(dead_code)]
pub fn dl2_scaled_cohort(seed: u64, factor: f64) -> Dataset {
    let data = cohort(seed);
    let scaled: Vec<Subject> = data
        .subjects()
        .iter()
        .map(|s| {
            let scale = if s.covariate("DL") == Some(2.0) {
                factor
            } else {
                1.0
            };
            let mut b = Subject::builder(s.id())
                .covariate("DL", s.covariate("DL").unwrap())
                .dose(0.0, s.doses()[0].amount);
            for o in s.observations() {
                let mut o = o.clone();
                if !o.censored {
                    o.value *= scale;
                }
                b = b.observation(o);
            }
            b.build().unwrap()
        })
        .collect();
    Dataset::new(scaled).unwrap()
}

/// [`spec`] with a categorical effect of dose level 2 on cmax.
#[allow(dead_code)]
pub fn spec_with_dl2() -> PopulationSpec<CellularKinetics> {
    spec().covariate(CovariateModel::Categorical {
        parameter: "cmax".into(),
        covariate: "DL".into(),
        level: 2.0.into(),
    })
}

/// Mean relative bias and 95% CI coverage per parameter over replicates.
pub struct Tally {
    names: Vec<String>,
    truth: Vec<f64>,
    bias: Vec<f64>,
    covered: Vec<usize>,
    /// Fits with a CI for the parameter (the covariance step can fail).
    with_ci: Vec<usize>,
    fits: usize,
}

impl Tally {
    /// For fits of [`spec`] to [`cohort`]s: the truth of its typical values, Ω variances
    /// and σ.
    #[allow(dead_code)]
    pub fn for_cohort() -> Self {
        let truth = CellularKineticsParams::stein_2019();
        let mut names: Vec<String> = TYPICAL.iter().map(|s| s.to_string()).collect();
        names.extend(OMEGA.iter().map(|o| format!("omega2 {}", o.0)));
        names.push("sigma".into());
        let true_values: Vec<f64> = TYPICAL
            .iter()
            .map(|n| truth.get(n).unwrap())
            .chain(OMEGA.iter().map(|o| o.1))
            .chain([SIGMA])
            .collect();
        Tally::new(names, true_values)
    }

    /// Parameters in the order of a fit's θ, then Ω, then σ.
    pub fn new(names: Vec<String>, truth: Vec<f64>) -> Self {
        let n = names.len();
        Tally {
            names,
            truth,
            bias: vec![0.0; n],
            covered: vec![0; n],
            with_ci: vec![0; n],
            fits: 0,
        }
    }

    /// Adds one fit: relative error of each estimate, and whether its 95% CI (Wald; on the
    /// log scale for Ω variances) holds the truth.
    pub fn record(&mut self, fit: &PopulationFit) {
        let estimates: Vec<(f64, Option<(f64, f64)>)> = fit
            .theta
            .iter()
            .map(|e| (e.value, e.ci95))
            .chain(fit.omega.iter().map(|o| (o.value, o.ci95)))
            .chain(fit.sigma.iter().map(|e| (e.value, e.ci95)))
            .collect();
        assert_eq!(estimates.len(), self.names.len(), "parameter count");
        for (i, (value, ci)) in estimates.into_iter().enumerate() {
            let t = self.truth[i];
            self.bias[i] += value / t - 1.0;
            self.covered[i] += usize::from(ci.is_some_and(|(lo, hi)| lo <= t && t <= hi));
            self.with_ci[i] += usize::from(ci.is_some());
        }
        self.fits += 1;
    }

    /// Mean relative bias of parameter `i`.
    pub fn bias(&self, i: usize) -> f64 {
        self.bias[i] / self.fits as f64
    }

    /// Share of the fits with a CI whose CI holds the truth.
    pub fn coverage(&self, i: usize) -> f64 {
        self.covered[i] as f64 / self.with_ci[i].max(1) as f64
    }

    /// Prints the table and asserts the criteria: |bias| < `typical_limit` for the
    /// first `n_typical` parameters, < `omega_limit` for the next `n_omega`; and CI coverage
    /// of the typical values of at least 75%.
    pub fn check(&self, n_typical: usize, n_omega: usize, typical_limit: f64, omega_limit: f64) {
        for i in 0..self.names.len() {
            eprintln!(
                "{:<14} truth {:>10.4}  mean relative bias {:+.3}  CI coverage {:.2} ({} of {} CIs hold the truth)",
                self.names[i],
                self.truth[i],
                self.bias(i),
                self.coverage(i),
                self.covered[i],
                self.with_ci[i]
            );
        }
        for i in 0..n_typical {
            assert!(
                self.bias(i).abs() < typical_limit,
                "{}: {}",
                self.names[i],
                self.bias(i)
            );
        }
        for i in 0..n_typical {
            // nominal 95%; with 16–20 replicates a share below 75% has probability < 2%
            assert!(
                self.coverage(i) >= 0.75,
                "{}: CI coverage {}",
                self.names[i],
                self.coverage(i)
            );
        }
        for i in n_typical..n_typical + n_omega {
            assert!(
                self.bias(i).abs() < omega_limit,
                "{}: {}",
                self.names[i],
                self.bias(i)
            );
        }
    }
}

/// The minimum of `cost` by argmin's Nelder–Mead from `x0` (simplex edges 0.05), run to a
/// cost SD of `tolerance` or `max_iters` iterations: the point and the cost there.
#[allow(dead_code)]
pub fn nelder_mead_minimum<C>(
    cost: C,
    x0: &[f64],
    tolerance: f64,
    max_iters: u64,
) -> (Vec<f64>, f64)
where
    C: CostFunction<Param = Vec<f64>, Output = f64>,
{
    let mut simplex = vec![x0.to_vec()];
    for i in 0..x0.len() {
        let mut x = x0.to_vec();
        x[i] += 0.05;
        simplex.push(x);
    }
    let solver = NelderMead::new(simplex)
        .with_sd_tolerance(tolerance)
        .unwrap();
    let res = Executor::new(cost, solver)
        .configure(|s| s.max_iters(max_iters))
        .run()
        .unwrap();
    (res.state.best_param.unwrap(), res.state.best_cost)
}
