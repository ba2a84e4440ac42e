//! Reproduces Figure 2 of the BMS-986353 (CD19 NEX-T) SLE phase 1 report (ACR Convergence
//! 2025, abstract 1529): (A) median transgene profiles by dose level, (B) peripheral B-cell
//! concentration and phenotype over time.
//!
//! Run: `cargo run --release --example figure2 [--saem | --two-stage] [data.csv]` (default `data/cohort.csv`, a
//! simulated cohort with the trial's design; any file in the library's CSV format with a
//! `DL` covariate works). Writes `out/figure2.svg`, `out/figure2_table.csv` (the medians
//! and bands behind the figure) and `out/figure2_nca.csv` (NCA by dose level).
//!
//! Steps, all library functions: a population for model 2 (transgene + B cells), 1,000
//! virtual subjects per dose level, then `cart::Figure2` for the observed medians per
//! visit (BLQ-aware), the model medians and 90% prediction bands, the phenotype
//! composition, the table and the drawing; NCA per subject and by dose level. The population
//! comes from a FOCE-I population fit of all subjects (M3 for the BLQ data), with `--saem`
//! from a SAEM fit of the same model (and its −2LL by importance sampling), or with
//! `--two-stage` from individual fits by the standard two-stage method (faster, but only
//! subjects whose individual fits identify every parameter enter, and their medians run
//! below the observed ones).

use cart_pkpd::cart::{Figure2, MONTH6_DAY, b_cell_nca, transgene_nca};
use cart_pkpd::data::CsvOptions;
use cart_pkpd::fit::{FitOptions, FitResult, FitSpec, fit_subjects};
use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::nlme::{
    PopulationFit, PopulationOptions, PopulationSpec, SaemOptions, fit_population,
    fit_population_saem,
};
use cart_pkpd::population::{Group, PopulationModel, simulate_cohort};
use cart_pkpd::summary::{TimeSummary, describe};
use cart_pkpd::{Dataset, ErrorModel, SolverOptions, Subject};
use std::error::Error;
use std::fmt::Write as _;

const ESTIMATED: [&str; 5] = ["rho", "alpha", "beta", "kmax", "kp"];
const VIRTUAL_PER_GROUP: usize = 1000;
const BAND: [f64; 2] = [0.05, 0.95];

fn lloq_of(data: &Dataset, analyte: &str) -> Option<f64> {
    data.subjects()
        .iter()
        .flat_map(|s| s.observations_of(analyte))
        .find_map(|o| o.lloq)
}

/// Model output times: daily to day 28, every 3 days after, and every visit day.
fn model_times(visits: &[f64]) -> Vec<f64> {
    let mut t: Vec<f64> = (0..=28).map(f64::from).collect();
    t.extend((1..=112).map(|i| 28.0 + 3.0 * f64::from(i)));
    t.extend_from_slice(visits);
    t.push(365.0);
    t.sort_by(f64::total_cmp);
    t.dedup();
    t
}

/// A dose level: its `DL` value, dose (10^6 CAR+ T cells) and subjects.
type DoseLevel<'a> = (f64, f64, Vec<&'a Subject>);

/// Runs the example; an error is printed as its message.
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "data/cohort.csv".into());
    let data = Dataset::read_csv(&path, &CsvOptions::for_model(&CarTBCell))?;
    let lloq = [
        lloq_of(&data, "transgene").unwrap_or(5.0),
        lloq_of(&data, "b_cells").unwrap_or(1.0),
    ];

    let population = population(&data, &args)?;
    for (k, name) in population.names().iter().enumerate() {
        let omega = population.omega()[(k, k)];
        println!("  BSV {name:<6} {:>5.1}% CV", 100.0 * omega.exp_m1().sqrt());
    }

    // Dose levels from the DL covariate (or the dose amount).
    let mut levels: Vec<DoseLevel> = Vec::new();
    for s in data.subjects() {
        let dose = s.doses().first().map_or(0.0, |d| d.amount);
        let key = s.covariate("DL").unwrap_or(dose);
        match levels.iter_mut().find(|l| l.0 == key) {
            Some(l) => l.2.push(s),
            None => levels.push((key, dose, vec![s])),
        }
    }
    levels.sort_by(|a, b| a.0.total_cmp(&b.0));
    let groups: Vec<Group> = levels
        .iter()
        .map(|(k, dose, _)| Group::infusion(&format!("DL{k}"), *dose, VIRTUAL_PER_GROUP))
        .collect();
    let visits: Vec<f64> = data
        .subjects()
        .iter()
        .flat_map(|s| s.observations().iter().map(|o| o.time))
        .collect();
    let times = model_times(&visits);
    let cohort = simulate_cohort(
        &CarTBCell,
        &population,
        &groups,
        &times,
        &SolverOptions::default(),
        1,
    )?;

    let mut figure = Figure2::new(lloq[0], lloq[1], BAND)?;
    for (g, (key, dose, subjects)) in levels.iter().enumerate() {
        let description = format!("{dose} x 10^6 CAR+ T cells, n = {}", subjects.len());
        figure.add_level(
            &format!("DL{key}"),
            &description,
            subjects,
            &cohort.simulations(g),
        )?;
    }
    print_table(&figure);

    std::fs::create_dir_all("out")?;
    std::fs::write("out/figure2_table.csv", figure.table_csv())?;
    let nca = nca_table(&levels)?;
    std::fs::write("out/figure2_nca.csv", &nca)?;
    let svg = figure.svg(
        "Figure 2 (reproduction): BMS-986353 in SLE - transgene PK and B-cell PD by dose level",
        "Observed points: medians of data simulated from the trial design (the abstract reports \
         no individual data). Lines and bands: model medians and 90% prediction intervals of \
         1,000 virtual subjects per dose level.",
    )?;
    std::fs::write("out/figure2.svg", svg)?;
    println!("wrote out/figure2.svg, out/figure2_table.csv, out/figure2_nca.csv");
    Ok(())
}

/// The population by the standard two-stage method: individual fits of every subject (in
/// parallel) with the residual error fixed at the assays', then the mean and covariance
/// of the estimates of the subjects whose parameters are identified (fits without
/// warnings). Fast (seconds), but biased by which subjects are identified.
fn two_stage_population(data: &Dataset) -> Result<PopulationModel<CarTBCell>, Box<dyn Error>> {
    let spec = FitSpec::new(CarTBCellParams::default())
        .estimate(&ESTIMATED)
        .residual_fixed("transgene", ErrorModel::LogAdditive { sd: 0.4 })
        .residual_fixed("b_cells", ErrorModel::LogAdditive { sd: 0.25 })
        .ignore(&["naive_b", "memory_b", "dn_b"]); // the phenotype is summarised, not fitted
    let all: Vec<&Subject> = data.subjects().iter().collect();
    let fits = fit_subjects(
        &CarTBCell,
        &all,
        &spec,
        &FitOptions {
            starts: 2,
            ..FitOptions::default()
        },
    );
    let mut identified: Vec<&FitResult> = Vec::new();
    for (s, f) in all.iter().zip(&fits) {
        match f {
            Ok(fit) if fit.warnings.is_empty() => identified.push(fit),
            Ok(fit) => println!(
                "subject {}: not used for the population ({})",
                s.id(),
                fit.warnings[0]
            ),
            Err(e) => println!("subject {}: not used for the population ({e})", s.id()),
        }
    }
    let population = PopulationModel::<CarTBCell>::standard_two_stage(
        CarTBCellParams::default(),
        &identified,
        &ESTIMATED,
    )?;
    println!(
        "Individual fits: {} of {} converged, {} identified; two-stage typical values:",
        fits.iter().filter(|f| f.is_ok()).count(),
        fits.len(),
        identified.len()
    );
    for name in ESTIMATED {
        println!(
            "  {name:<6} {:>10.4}",
            cart_pkpd::Parameters::get(population.typical(), name)?
        );
    }
    Ok(population)
}

/// The population by the method the arguments ask for: FOCE-I by default, `--saem`,
/// `--two-stage`.
fn population(
    data: &Dataset,
    args: &[String],
) -> Result<PopulationModel<CarTBCell>, Box<dyn Error>> {
    if args.iter().any(|a| a == "--two-stage") {
        two_stage_population(data)
    } else if args.iter().any(|a| a == "--saem") {
        saem_population(data)
    } else {
        foce_population(data)
    }
}

/// What the population fits estimate: typical values of the same parameters, BSV on
/// gamma, alpha and kmax, residual SDs estimated, below-LLOQ data by M3.
fn population_spec() -> PopulationSpec<CarTBCell> {
    PopulationSpec::new(CarTBCellParams::default())
        .estimate(&ESTIMATED)
        .random_diagonal(&[("gamma", 0.2), ("alpha", 0.1), ("kmax", 0.1)])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.4 })
        .residual("b_cells", ErrorModel::LogAdditive { sd: 0.3 })
        .ignore(&["naive_b", "memory_b", "dn_b"])
}

/// The population by FOCE-I (the default).
fn foce_population(data: &Dataset) -> Result<PopulationModel<CarTBCell>, Box<dyn Error>> {
    let options = PopulationOptions {
        solver: SolverOptions::default(),
        ..PopulationOptions::default()
    };
    let fit = fit_population(&CarTBCell, data, &population_spec(), &options)?;
    println!("{fit}");
    population_of(&fit)
}

/// The population by SAEM (`--saem`), with its importance-sampling −2LL.
fn saem_population(data: &Dataset) -> Result<PopulationModel<CarTBCell>, Box<dyn Error>> {
    let options = SaemOptions {
        solver: SolverOptions::default(),
        ..SaemOptions::default()
    };
    let saem = fit_population_saem(&CarTBCell, data, &population_spec(), &options)?;
    println!("{}", saem.fit);
    if let Some(is) = &saem.likelihood {
        println!(
            "-2LL by importance sampling: {:.3} (Monte Carlo SE {:.3}, {} draws per subject); \
             {} exploration + {} smoothing iterations",
            is.minus_two_ll,
            is.standard_error,
            is.samples,
            saem.exploration_iterations,
            saem.trace.len() - saem.exploration_iterations
        );
    }
    population_of(&saem.fit)
}

/// The fitted population: typical values and a diagonal Ω.
fn population_of(fit: &PopulationFit) -> Result<PopulationModel<CarTBCell>, Box<dyn Error>> {
    let typical: Vec<(&str, f64)> = fit
        .theta
        .iter()
        .map(|e| (e.name.as_str(), e.value))
        .collect();
    let names: Vec<&str> = fit.random_effects.iter().map(String::as_str).collect();
    let k = names.len();
    let omega =
        nalgebra::DMatrix::from_fn(k, k, |r, c| if r == c { fit.omega[r].value } else { 0.0 });
    let typical = cart_pkpd::Parameters::with_all(&CarTBCellParams::default(), &typical)?;
    Ok(PopulationModel::new(typical, &names, omega)?)
}

/// Prints the observed and model medians per visit and dose level.
fn print_table(figure: &Figure2) {
    for level in &figure.levels {
        println!("\n{} ({})", level.label, level.description);
        println!(
            "{:>5} | {:>22} {:>10} | {:>22} {:>10} | {:>7}",
            "day", "transgene obs (n)", "model", "B cells obs (n)", "model", "naive%"
        );
        let profiles = [&level.transgene, &level.b_cells];
        let mut days: Vec<f64> = profiles
            .iter()
            .flat_map(|p| p.observed.iter().map(|r| r.time))
            .collect();
        days.sort_by(f64::total_cmp);
        days.dedup();
        let at = |rows: &[TimeSummary], t: f64| rows.iter().find(|r| r.time == t).cloned();
        for t in days {
            let obs = |i: usize| {
                at(&profiles[i].observed, t)
                    .map_or("-".to_owned(), |r| format!("{} ({})", r.median, r.n))
            };
            let model = |i: usize| {
                at(&profiles[i].model, t).map_or("-".to_owned(), |r| r.median.to_string())
            };
            let naive = level
                .composition
                .iter()
                .find(|c| c.time == t)
                .map_or("-".to_owned(), |c| format!("{:.1}", c.naive_pct));
            println!(
                "{t:>5} | {:>22} {:>10} | {:>22} {:>10} | {naive:>7}",
                obs(0),
                model(0),
                obs(1),
                model(1)
            );
        }
    }
}

/// NCA per subject, summarised by dose level; prints it and returns the CSV.
fn nca_table(levels: &[DoseLevel]) -> Result<String, Box<dyn Error>> {
    let mut csv =
        String::from("dose_level,metric,n,median,min,max,geometric_mean,geometric_cv_percent\n");
    println!("\nNCA by dose level (observed data)");
    println!(
        "{:<6} {:<24} {:>3} {:>10} {:>21} {:>10} {:>7}",
        "level", "metric", "n", "median", "range", "geo mean", "CV%"
    );
    for (key, _, subjects) in levels {
        let pk: Vec<_> = subjects
            .iter()
            .filter_map(|s| transgene_nca(s, 28.0).ok().flatten())
            .collect();
        let pd: Vec<_> = subjects
            .iter()
            .filter_map(|s| b_cell_nca(s, MONTH6_DAY).ok())
            .collect();
        let metrics: Vec<(&str, Vec<f64>)> = vec![
            ("Cmax (copies/ug)", pk.iter().map(|n| n.cmax).collect()),
            ("Tmax (d)", pk.iter().map(|n| n.tmax).collect()),
            (
                "AUC0-28d (copies/ug*d)",
                pk.iter().filter_map(|n| n.auc).collect(),
            ),
            ("Clast (copies/ug)", pk.iter().map(|n| n.clast).collect()),
            ("Tlast (d)", pk.iter().map(|n| n.tlast).collect()),
            (
                "B-cell depletion day",
                pd.iter().filter_map(|n| n.depletion_day).collect(),
            ),
            (
                "B-cell reappearance day",
                pd.iter().filter_map(|n| n.reappearance_day).collect(),
            ),
            (
                "naive % at reappearance",
                pd.iter()
                    .filter_map(|n| n.naive_pct_at_reappearance)
                    .collect(),
            ),
            (
                "naive % at month 6",
                pd.iter().filter_map(|n| n.naive_pct_month6).collect(),
            ),
        ];
        let short = format!("DL{key}");
        for (name, values) in metrics {
            let Some(d) = describe(&values) else {
                println!("{short:<6} {name:<24} {:>3} {:>10}", 0, "-");
                continue;
            };
            let geo = |v: Option<f64>, p: usize| v.map_or("-".to_owned(), |x| format!("{x:.p$}"));
            let with_geo = name.starts_with("Cmax") || name.starts_with("AUC");
            let (gm, cv) = if with_geo {
                (geo(d.geometric_mean, 1), geo(d.geometric_cv_percent, 1))
            } else {
                ("".into(), "".into())
            };
            println!(
                "{short:<6} {name:<24} {:>3} {:>10.1} {:>21} {gm:>10} {cv:>7}",
                d.n,
                d.median,
                format!("{:.1}-{:.1}", d.min, d.max)
            );
            let field = |v: Option<f64>| match v {
                Some(x) if with_geo => x.to_string(),
                _ => String::new(),
            };
            writeln!(
                csv,
                "{short},{name},{},{},{},{},{},{}",
                d.n,
                d.median,
                d.min,
                d.max,
                field(d.geometric_mean),
                field(d.geometric_cv_percent)
            )?;
        }
    }
    Ok(csv)
}
