//! Individual fits and random effects of a population fit: each subject's observations with
//! its population and individual predictions, and the EBE distributions against their
//! fitted variance and against covariates.

use super::legend::{self, Glyph};
use super::{BLACK, BLUE, GREY, VERMILLION, chart, horizontal, padded, plot_error};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::nlme::{PopulationFit, SubjectEstimates};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Individual fits of one analyte as an SVG document: one panel per subject (up to
/// `max_subjects`, in data order) with the observations (filled; open at the LLOQ when
/// censored), IPRED (solid) and PRED (dashed) at the observation times, log y when `log`.
///
/// # Errors
/// [`Error::Plot`] when no subject observes `analyte`, or on a drawing failure.
pub fn individual_fits_svg(
    fit: &PopulationFit,
    analyte: &str,
    unit: &str,
    time_label: &str,
    log: bool,
    max_subjects: usize,
) -> Result<String> {
    let subjects: Vec<&SubjectEstimates> = fit
        .subjects
        .iter()
        .filter(|s| s.predictions.iter().any(|p| p.analyte == analyte))
        .take(max_subjects)
        .collect();
    if subjects.is_empty() {
        return Err(Error::Plot {
            reason: format!("no subject observes `{analyte}`"),
        });
    }
    let columns = 4.min(subjects.len());
    let rows = subjects.len().div_ceil(columns);
    let (width, height) = (1200u32, 60 + 260 * rows as u32);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (data, side) = root.split_horizontally(width - 260);
        let panels = data.split_evenly((rows, columns));
        for (panel, s) in panels.iter().zip(&subjects) {
            subject_panel(panel, s, analyte, unit, time_label, log)?;
        }
        legend::draw(
            &side,
            &format!("Individual fits, {analyte}"),
            &[
                (Glyph::Dot(BLUE), "observed".into()),
                (Glyph::Dot(GREY), "open: below LLOQ (at LLOQ)".into()),
                (Glyph::Line(VERMILLION), "IPRED".into()),
                (Glyph::Dashed(BLACK), "PRED".into()),
            ],
        )?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

fn subject_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &SubjectEstimates,
    analyte: &str,
    unit: &str,
    time_label: &str,
    log: bool,
) -> Result<()> {
    let rows: Vec<_> = s
        .predictions
        .iter()
        .filter(|p| p.analyte == analyte)
        .collect();
    let values = rows.iter().flat_map(|p| [p.observed, p.pred, p.ipred]);
    let (y0, y1) = padded(values, log).unwrap_or((1.0, 10.0));
    let (x0, x1) = padded(rows.iter().map(|p| p.time), false).unwrap_or((0.0, 1.0));
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&s.subject, ("sans-serif", 14))
        .margin(6)
        .x_label_area_size(28)
        .y_label_area_size(50);
    let observed: Vec<(f64, f64, bool)> = rows
        .iter()
        .map(|p| (p.time, p.observed, p.censored))
        .collect();
    let ipred: Vec<(f64, f64)> = rows.iter().map(|p| (p.time, p.ipred)).collect();
    let pred: Vec<(f64, f64)> = rows.iter().map(|p| (p.time, p.pred)).collect();
    let y_desc = format!("{analyte} ({unit})");
    chart!(
        builder,
        x0..x1,
        false,
        y0..y1,
        log,
        time_label,
        y_desc.as_str(),
        |chart| {
            chart
                .draw_series(LineSeries::new(ipred, VERMILLION.stroke_width(2)))
                .map_err(plot_error)?;
            chart
                .draw_series(DashedLineSeries::new(pred, 5, 3, BLACK.stroke_width(1)))
                .map_err(plot_error)?;
            chart
                .draw_series(observed.iter().map(|&(t, v, c)| {
                    let style = if c {
                        GREY.stroke_width(1)
                    } else {
                        BLUE.filled()
                    };
                    Circle::new((t, v), 3, style)
                }))
                .map_err(plot_error)?;
        }
    );
    Ok(())
}

/// The random effects as an SVG document: one row per η, with its EBEs' histogram against
/// the fitted `N(0, ω²)` density, then one scatter of the EBEs against each covariate in
/// `covariates` (numeric values at each subject's first record, from `data`).
///
/// # Errors
/// [`Error::Plot`] for a fit without random effects, a covariate that is missing or not a
/// number for a subject, or a drawing failure.
pub fn eta_svg(fit: &PopulationFit, data: &Dataset, covariates: &[&str]) -> Result<String> {
    let k = fit.random_effects.len();
    if k == 0 || fit.subjects.is_empty() {
        return Err(Error::Plot {
            reason: "the fit has no random effects".into(),
        });
    }
    let mut values: Vec<Vec<f64>> = Vec::with_capacity(covariates.len());
    for name in covariates {
        let column = fit
            .subjects
            .iter()
            .map(|s| {
                data.subjects()
                    .iter()
                    .find(|d| d.id() == s.subject)
                    .and_then(|d| d.covariate(name))
                    .ok_or_else(|| Error::Plot {
                        reason: format!(
                            "subject `{}` has no numeric covariate `{name}`",
                            s.subject
                        ),
                    })
            })
            .collect::<Result<Vec<f64>>>()?;
        values.push(column);
    }
    let columns = 1 + covariates.len();
    let (width, height) = (300 * columns as u32 + 40, 60 + 240 * k as u32);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let panels = root.margin(10, 10, 10, 10).split_evenly((k, columns));
        for r in 0..k {
            let etas: Vec<f64> = fit.subjects.iter().map(|s| s.eta[r]).collect();
            let name = &fit.random_effects[r];
            let omega = fit
                .omega
                .iter()
                .find(|o| &o.name == name)
                .map_or(1.0, |o| o.value);
            eta_histogram(&panels[r * columns], name, &etas, omega)?;
            for (c, (cov, x)) in covariates.iter().zip(&values).enumerate() {
                eta_scatter(&panels[r * columns + 1 + c], name, cov, x, &etas)?;
            }
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

fn eta_histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    name: &str,
    etas: &[f64],
    omega: f64,
) -> Result<()> {
    let sd = omega.sqrt();
    let bound = etas.iter().fold(3.0 * sd, |m, v| m.max(v.abs())) * 1.05;
    let n_bins = 10;
    let width = 2.0 * bound / n_bins as f64;
    let mut counts = vec![0usize; n_bins];
    for v in etas {
        counts[(((v + bound) / width) as usize).min(n_bins - 1)] += 1;
    }
    let density = |c: usize| c as f64 / (etas.len() as f64 * width);
    let peak = 1.0 / (sd * (2.0 * std::f64::consts::PI).sqrt());
    let top = counts.iter().map(|&c| density(c)).fold(peak, f64::max) * 1.1;
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(format!("η {name}"), ("sans-serif", 14))
        .margin(6)
        .x_label_area_size(28)
        .y_label_area_size(45);
    let x_desc = format!("EBE of η {name}");
    chart!(
        builder,
        -bound..bound,
        false,
        0f64..top,
        false,
        x_desc.as_str(),
        "density",
        |chart| {
            chart
                .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                    let a = -bound + i as f64 * width;
                    Rectangle::new([(a, 0.0), (a + width, density(c))], BLUE.mix(0.45).filled())
                }))
                .map_err(plot_error)?;
            let curve = (0..=100).map(|i| {
                let v = -bound + 2.0 * bound * i as f64 / 100.0;
                (v, peak * (-0.5 * (v / sd).powi(2)).exp())
            });
            chart
                .draw_series(LineSeries::new(curve, VERMILLION.stroke_width(2)))
                .map_err(plot_error)?;
        }
    );
    Ok(())
}

fn eta_scatter<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    name: &str,
    covariate: &str,
    x: &[f64],
    etas: &[f64],
) -> Result<()> {
    let (x0, x1) = padded(x.iter().copied(), false).unwrap_or((0.0, 1.0));
    let bound = etas.iter().fold(0.1f64, |m, v| m.max(v.abs())) * 1.1;
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(format!("η {name} vs {covariate}"), ("sans-serif", 14))
        .margin(6)
        .x_label_area_size(28)
        .y_label_area_size(45);
    let y_desc = format!("EBE of η {name}");
    chart!(
        builder,
        x0..x1,
        false,
        -bound..bound,
        false,
        covariate,
        y_desc.as_str(),
        |chart| {
            horizontal(&mut chart, (x0, x1), 0.0, false)?;
            chart
                .draw_series(
                    x.iter()
                        .zip(etas)
                        .map(|(&a, &b)| Circle::new((a, b), 3, BLUE.filled())),
                )
                .map_err(plot_error)?;
        }
    );
    Ok(())
}
