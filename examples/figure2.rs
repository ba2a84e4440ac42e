//! Reproduces Figure 2 of the BMS-986353 (CD19 NEX-T) SLE phase 1 report (ACR Convergence
//! 2025, abstract 1529): (A) median transgene profiles by dose level, (B) peripheral B-cell
//! concentration and phenotype over time.
//!
//! Run: `cargo run --release --example figure2 [--two-stage] [data.csv]` (default `data/cohort.csv`, a
//! simulated cohort with the trial's design; any file in the library's CSV format with a
//! `DL` covariate works). Writes `out/figure2.svg`, `out/figure2_table.csv` (the medians
//! and bands behind the figure) and `out/figure2_nca.csv` (NCA by dose level).
//!
//! Steps, all library functions: observed medians per visit (BLQ-aware), NCA per subject
//! and by dose level, a population for model 2 (transgene + B cells) and 1,000 virtual
//! subjects per dose level for the model median and 90% prediction band. The population
//! comes from a FOCE-I population fit of all subjects (M3 for the BLQ data), or with
//! `--two-stage` from individual fits by the standard two-stage method (faster, but only
//! subjects whose individual fits identify every parameter enter, and their medians run
//! below the observed ones).

use cart_pkpd::cart::{
    Composition, MONTH6_DAY, b_cell_nca, observed_composition, simulated_composition, transgene_nca,
};
use cart_pkpd::data::CsvOptions;
use cart_pkpd::fit::{FitOptions, FitResult, FitSpec, fit_subjects};
use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::nlme::{PopulationOptions, PopulationSpec, fit_population};
use cart_pkpd::population::{Group, PopulationModel, simulate_cohort};
use cart_pkpd::summary::{
    Reported, TimeSummary, describe, summarize_observations, summarize_simulations,
};
use cart_pkpd::{Dataset, ErrorModel, SolverOptions, Subject};
use plotters::prelude::*;
use std::error::Error;
use std::fmt::Write as _;

const ESTIMATED: [&str; 5] = ["rho", "alpha", "beta", "kmax", "kp"];
const VIRTUAL_PER_GROUP: usize = 1000;
const BAND: [f64; 2] = [0.05, 0.95];
/// Okabe–Ito blue (DL1) and vermillion (DL2), colour-blind safe.
const COLORS: [RGBColor; 2] = [RGBColor(0, 114, 178), RGBColor(213, 94, 0)];
const PHENOTYPE_COLORS: [RGBColor; 3] = [
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];

/// A dose level: label, dose, its subjects, and everything computed for it.
struct Level<'a> {
    label: String,
    subjects: Vec<&'a Subject>,
    observed: [Vec<TimeSummary>; 2],
    model: [Vec<TimeSummary>; 2],
    composition: Vec<Composition>,
    model_composition: Vec<Composition>,
}

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

/// Runs the example; an error is printed as its message.
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let two_stage = args.iter().any(|a| a == "--two-stage");
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
    let analytes = ["transgene", "b_cells"];

    let population = if two_stage {
        two_stage_population(&data)?
    } else {
        foce_population(&data)?
    };
    for (k, name) in population.names().iter().enumerate() {
        let omega = population.omega()[(k, k)];
        println!("  BSV {name:<6} {:>5.1}% CV", 100.0 * omega.exp_m1().sqrt());
    }

    // Dose levels from the DL covariate (or the dose amount).
    let mut levels: Vec<(f64, f64, Vec<&Subject>)> = Vec::new();
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

    let mut built = Vec::new();
    for (g, (key, dose, subjects)) in levels.iter().enumerate() {
        let sims = cohort.simulations(g);
        let summarize = |i: usize| summarize_simulations(&sims, analytes[i], &BAND, Some(lloq[i]));
        let raw = |i: usize| summarize_simulations(&sims, analytes[i], &BAND, None);
        built.push((
            Level {
                label: format!(
                    "DL{key} ({dose} x 10^6 CAR+ T cells, n = {})",
                    subjects.len()
                ),
                subjects: subjects.clone(),
                observed: [
                    summarize_observations(subjects, analytes[0], &BAND)?,
                    summarize_observations(subjects, analytes[1], &BAND)?,
                ],
                model: [summarize(0)?, summarize(1)?],
                composition: observed_composition(subjects),
                model_composition: simulated_composition(&sims, lloq[1])?,
            },
            [raw(0)?, raw(1)?],
        ));
    }

    std::fs::create_dir_all("out")?;
    let table = write_table(&built, &analytes)?;
    std::fs::write("out/figure2_table.csv", &table)?;
    let nca = nca_table(&built)?;
    std::fs::write("out/figure2_nca.csv", &nca)?;
    draw(&built, &lloq, "out/figure2.svg")?;
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

/// The population by FOCE-I (the default): typical values of the same parameters, BSV on
/// gamma, alpha and kmax, residual SDs estimated, below-LLOQ data by M3.
fn foce_population(data: &Dataset) -> Result<PopulationModel<CarTBCell>, Box<dyn Error>> {
    let spec = PopulationSpec::new(CarTBCellParams::default())
        .estimate(&ESTIMATED)
        .random_diagonal(&[("gamma", 0.2), ("alpha", 0.1), ("kmax", 0.1)])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.4 })
        .residual("b_cells", ErrorModel::LogAdditive { sd: 0.3 })
        .ignore(&["naive_b", "memory_b", "dn_b"]);
    let options = PopulationOptions {
        solver: SolverOptions::default(),
        ..PopulationOptions::default()
    };
    let fit = fit_population(&CarTBCell, data, &spec, &options)?;
    println!("{fit}");
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

/// Observed and model medians per visit and dose level; prints them and returns the CSV.
fn write_table(
    levels: &[(Level, [Vec<TimeSummary>; 2])],
    analytes: &[&str; 2],
) -> Result<String, Box<dyn Error>> {
    // numeric columns stay numeric: a value below the LLOQ is an empty field with its flag 1
    let mut csv = String::from(
        "dose_level,analyte,day,source,n,n_below_lloq,median,p05,p95,median_blq,p05_blq,p95_blq\n",
    );
    let num = |r: &Reported| r.value().map_or_else(String::new, |v| v.to_string());
    let blq = |r: &Reported| u8::from(r.value().is_none());
    for (level, _) in levels {
        println!("\n{}", level.label);
        println!(
            "{:>5} | {:>22} {:>10} | {:>22} {:>10} | {:>7}",
            "day", "transgene obs (n)", "model", "B cells obs (n)", "model", "naive%"
        );
        for (i, analyte) in analytes.iter().enumerate() {
            for (source, rows) in [("observed", &level.observed[i]), ("model", &level.model[i])] {
                for r in rows {
                    let (lo, hi) = (&r.quantiles[0].1, &r.quantiles[1].1);
                    writeln!(
                        csv,
                        "{},{analyte},{},{source},{},{},{},{},{},{},{},{}",
                        level.label.split(' ').next().unwrap_or(""),
                        r.time,
                        r.n,
                        r.n_below_lloq,
                        num(&r.median),
                        num(lo),
                        num(hi),
                        blq(&r.median),
                        blq(lo),
                        blq(hi)
                    )?;
                }
            }
        }
        let model_at = |i: usize, t: f64| {
            level.model[i]
                .iter()
                .find(|r| r.time == t)
                .map_or("-".to_owned(), |r| r.median.to_string())
        };
        let mut days: Vec<f64> = level.observed.iter().flatten().map(|r| r.time).collect();
        days.sort_by(f64::total_cmp);
        days.dedup();
        for t in days {
            let obs = |i: usize| {
                level.observed[i]
                    .iter()
                    .find(|r| r.time == t)
                    .map_or("-".to_owned(), |r| format!("{} ({})", r.median, r.n))
            };
            let naive = level
                .composition
                .iter()
                .find(|c| c.time == t)
                .map_or("-".to_owned(), |c| format!("{:.1}", c.naive_pct));
            println!(
                "{t:>5} | {:>22} {:>10} | {:>22} {:>10} | {naive:>7}",
                obs(0),
                model_at(0, t),
                obs(1),
                model_at(1, t)
            );
        }
    }
    Ok(csv)
}

/// NCA per subject, summarised by dose level; prints it and returns the CSV.
fn nca_table(levels: &[(Level, [Vec<TimeSummary>; 2])]) -> Result<String, Box<dyn Error>> {
    let mut csv =
        String::from("dose_level,metric,n,median,min,max,geometric_mean,geometric_cv_percent\n");
    println!("\nNCA by dose level (observed data)");
    println!(
        "{:<6} {:<24} {:>3} {:>10} {:>21} {:>10} {:>7}",
        "level", "metric", "n", "median", "range", "geo mean", "CV%"
    );
    for (level, _) in levels {
        let pk: Vec<_> = level
            .subjects
            .iter()
            .filter_map(|s| transgene_nca(s, 28.0).ok().flatten())
            .collect();
        let pd: Vec<_> = level
            .subjects
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
        let short = level.label.split(' ').next().unwrap_or("");
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

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// Panel A or B: observed medians (DL1 circles over DL2 squares; open at the LLOQ when
/// the median is BLQ), model medians (DL1 solid, DL2 dashed) with their 90% bands, the
/// LLOQ (dotted), log y axis. A model median below the axis stops there, marked by a
/// downward triangle, rather than running along the axis. The legend is a strip below the
/// chart, outside the data.
fn profile_panel(
    area: &Area,
    title: &str,
    unit: &str,
    y_range: (f64, f64),
    lloq: f64,
    which: usize,
    levels: &[(Level, [Vec<TimeSummary>; 2])],
) -> Result<(), Box<dyn Error>> {
    let (_, height) = area.dim_in_pixel();
    let (plot, strip) = area.split_vertically(height - 56);
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..370f64, (y_range.0..y_range.1).log_scale())?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_labels(8)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .x_desc("Days after infusion")
        .y_desc(unit)
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()?;
    let clip = |v: f64| v.clamp(y_range.0, y_range.1);
    // DL2 first, so that DL1's symbols are drawn over it
    for (g, (level, raw)) in levels.iter().enumerate().rev() {
        let color = COLORS[g % 2];
        let band: Vec<(f64, f64)> = raw[which]
            .iter()
            .map(|r| (r.time, clip(r.quantiles[1].1.value().unwrap_or(y_range.0))))
            .chain(
                raw[which]
                    .iter()
                    .rev()
                    .map(|r| (r.time, clip(r.quantiles[0].1.value().unwrap_or(y_range.0)))),
            )
            .collect();
        chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.15))))?;
        draw_median(&mut chart, raw[which].as_slice(), y_range.0, g, color)?;
        let observed: Vec<&TimeSummary> = level.observed[which].iter().collect();
        let size = if g == 0 { 6 } else { 5 };
        for r in &observed {
            let (v, filled) = match r.median.value() {
                Some(v) => (clip(v), true),
                None => (lloq, false),
            };
            let style = if filled {
                color.filled()
            } else {
                color.stroke_width(2)
            };
            if g == 0 {
                chart.draw_series(std::iter::once(Circle::new((r.time, v), size, style)))?;
            } else {
                let square = Rectangle::new([(-size, -size), (size, size)], style);
                chart.draw_series(std::iter::once(EmptyElement::at((r.time, v)) + square))?;
            }
        }
    }
    chart.draw_series(DashedLineSeries::new(
        [(0.0, lloq), (370.0, lloq)],
        2,
        4,
        BLACK.stroke_width(1),
    ))?;
    profile_legend(&strip, levels)?;
    Ok(())
}

/// A model median: solid for DL1, dashed for DL2; runs below the axis floor are left out,
/// with a downward triangle where the median leaves the axis.
fn draw_median<DB: DrawingBackend, CT: plotters::coord::CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    rows: &[TimeSummary],
    floor: f64,
    g: usize,
    color: RGBColor,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    let mut exits = Vec::new();
    for r in rows {
        match r.median.value().filter(|&v| v >= floor) {
            Some(v) => runs.last_mut().expect("a run").push((r.time, v)),
            None => {
                if runs.last().is_some_and(|run| !run.is_empty()) {
                    exits.push(r.time);
                    runs.push(Vec::new());
                }
            }
        }
    }
    for run in runs.into_iter().filter(|r| r.len() > 1) {
        if g == 0 {
            chart.draw_series(LineSeries::new(run, color.stroke_width(2)))?;
        } else {
            chart.draw_series(DashedLineSeries::new(run, 8, 5, color.stroke_width(2)))?;
        }
    }
    for t in exits {
        chart.draw_series(std::iter::once(
            EmptyElement::at((t, floor))
                + Polygon::new(vec![(-6, -14), (6, -14), (0, -2)], color.filled()),
        ))?;
    }
    Ok(())
}

/// The legend strip of panels A and B.
fn profile_legend(
    strip: &Area,
    levels: &[(Level, [Vec<TimeSummary>; 2])],
) -> Result<(), Box<dyn Error>> {
    let font = ("sans-serif", 13).into_font();
    let mut x = 80;
    for (g, (level, _)) in levels.iter().enumerate() {
        let color = COLORS[g % 2];
        let short = level.label.split(' ').next().unwrap_or("");
        if g == 0 {
            strip.draw(&PathElement::new(
                vec![(x, 14), (x + 26, 14)],
                color.stroke_width(2),
            ))?;
            strip.draw(&Circle::new((x + 13, 36), 6, color.filled()))?;
        } else {
            for k in 0..3 {
                let a = x + 10 * k;
                strip.draw(&PathElement::new(
                    vec![(a, 14), (a + 6, 14)],
                    color.stroke_width(2),
                ))?;
            }
            strip.draw(&Rectangle::new([(x + 8, 31), (x + 18, 41)], color.filled()))?;
        }
        strip.draw(&Text::new(
            format!("{short} model median, 90% PI"),
            (x + 34, 8),
            font.clone(),
        ))?;
        strip.draw(&Text::new(
            format!("{short} observed median"),
            (x + 34, 30),
            font.clone(),
        ))?;
        x += 200;
    }
    strip.draw(&Text::new(
        "open: median < LLOQ (dotted line)",
        (x, 8),
        font.clone(),
    ))?;
    strip.draw(&Text::new("▼ model median below the axis", (x, 30), font))?;
    Ok(())
}

/// Stacked bars of the observed phenotype composition per visit, with the model's naive %.
fn composition_panel(area: &Area, level: &Level) -> Result<(), Box<dyn Error>> {
    // every B-cell visit of the dose level; those without a quantifiable subject are shown
    // as all below the LLOQ rather than left out
    let mut days: Vec<f64> = level
        .subjects
        .iter()
        .flat_map(|s| {
            s.observations_of("b_cells")
                .filter(|o| !o.mdv)
                .map(|o| o.time)
        })
        .collect();
    days.sort_by(f64::total_cmp);
    days.dedup();
    let sampled = |t: f64| {
        level
            .subjects
            .iter()
            .filter(|s| s.observations_of("b_cells").any(|o| o.time == t && !o.mdv))
            .count()
    };
    let visits: Vec<Option<&Composition>> = days
        .iter()
        .map(|&t| level.composition.iter().find(|c| c.time == t))
        .collect();
    let n = visits.len().max(1);
    let (_, height) = area.dim_in_pixel();
    let (plot, strip) = area.split_vertically(height - 28);
    let mut chart = ChartBuilder::on(&plot)
        .caption(format!("C  Phenotype, {}", level.label), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..100f64)?;
    let labels: Vec<String> = days
        .iter()
        .zip(&visits)
        .map(|(&t, c)| match c {
            Some(c) => format!("d{t} (n={})", c.n),
            None => format!("d{t} (BLQ, {})", sampled(t)),
        })
        .collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .x_labels(n)
        .x_label_formatter(&|x| labels.get(x.round() as usize).cloned().unwrap_or_default())
        .x_desc("Visit (n: subjects with quantifiable B cells; BLQ: all below the LLOQ)")
        .y_desc("% of CD19+ B cells")
        .draw()?;
    chart.draw_series(
        visits
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_none())
            .map(|(i, _)| {
                let x = i as f64;
                Rectangle::new(
                    [(x - 0.35, 0.0), (x + 0.35, 100.0)],
                    RGBColor(150, 150, 150).stroke_width(1),
                )
            }),
    )?;
    let visits: Vec<&Composition> = visits.iter().flatten().copied().collect();
    let position = |c: &Composition| days.iter().position(|&t| t == c.time).unwrap_or(0) as f64;
    for (k, name) in ["naive", "memory", "double negative"].iter().enumerate() {
        let color = PHENOTYPE_COLORS[k];
        chart.draw_series(visits.iter().map(|c| {
            let shares = [c.naive_pct, c.memory_pct, c.dn_pct];
            let lo: f64 = shares[..k].iter().sum();
            let x = position(c);
            Rectangle::new([(x - 0.35, lo), (x + 0.35, lo + shares[k])], color.filled())
        }))?;
        let x = 80 + 150 * k as i32;
        strip.draw(&Rectangle::new([(x, 6), (x + 14, 18)], color.filled()))?;
        strip.draw(&Text::new(
            *name,
            (x + 20, 5),
            ("sans-serif", 13).into_font(),
        ))?;
    }
    let model: Vec<(f64, f64)> = visits
        .iter()
        .filter_map(|c| {
            level
                .model_composition
                .iter()
                .find(|m| m.time == c.time)
                .map(|m| (position(c), m.naive_pct))
        })
        .collect();
    chart.draw_series(
        model
            .iter()
            .map(|&(x, y)| Cross::new((x, y), 6, BLACK.stroke_width(2))),
    )?;
    strip.draw(&Cross::new((537, 12), 5, BLACK.stroke_width(2)))?;
    strip.draw(&Text::new(
        "model naive % (pooled)",
        (550, 5),
        ("sans-serif", 13).into_font(),
    ))?;
    Ok(())
}

fn draw(
    levels: &[(Level, [Vec<TimeSummary>; 2])],
    lloq: &[f64; 2],
    path: &str,
) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (1500, 1100)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        "Figure 2 (reproduction): BMS-986353 in SLE - transgene PK and B-cell PD by dose level",
        ("sans-serif", 24),
    )?;
    let (_, height) = root.dim_in_pixel();
    let (root, caption) = root.split_vertically(height - 34);
    caption.draw(&Text::new(
        "Observed points: medians of data simulated from the trial design (the abstract reports \
         no individual data). Lines and bands: model medians and 90% prediction intervals of 1,000 \
         virtual subjects per dose level.",
        (20, 8),
        ("sans-serif", 14).into_font(),
    ))?;
    let (top, bottom) = root.split_vertically(560);
    let (a, b) = top.split_horizontally(750);
    profile_panel(
        &a,
        "A  Median transgene (ddPCR)",
        "Transgene, copies/ug gDNA",
        (1.0, 3e5),
        lloq[0],
        0,
        levels,
    )?;
    profile_panel(
        &b,
        "B  Peripheral CD19+ B cells (flow cytometry)",
        "B cells/uL",
        (1e-3, 2e3),
        lloq[1],
        1,
        levels,
    )?;
    let panels = bottom.split_evenly((1, levels.len().max(1)));
    for (area, (level, _)) in panels.iter().zip(levels) {
        composition_panel(area, level)?;
    }
    root.present()?;
    Ok(())
}
