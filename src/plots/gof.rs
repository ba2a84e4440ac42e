//! Goodness-of-fit panels of a population fit: observations against population and
//! individual predictions, and CWRES against time and population predictions.

use super::legend::{self, Glyph};
use super::{BLUE, GREY, VERMILLION, chart, horizontal, padded, plot_error, scatter};
use crate::error::{Error, Result};
use crate::nlme::{PopulationFit, PopulationPrediction};
use plotters::coord::Shift;
use plotters::prelude::*;

/// The goodness-of-fit plot of one analyte as an SVG document, four panels: DV against
/// PRED and against IPRED (log–log when `log`, with the identity line), CWRES against time
/// and against PRED (with lines at 0 and ±2). Censored observations are left out (they
/// have no residual); `unit` labels the analyte's axes and `time_label` the time axis.
///
/// # Errors
/// [`Error::Plot`] when the fit has no quantified observation of `analyte`, or on a
/// drawing failure.
pub fn gof_svg(
    fit: &PopulationFit,
    analyte: &str,
    unit: &str,
    time_label: &str,
    log: bool,
) -> Result<String> {
    let rows: Vec<&PopulationPrediction> = fit
        .subjects
        .iter()
        .flat_map(|s| &s.predictions)
        .filter(|p| p.analyte == analyte && !p.censored)
        .collect();
    if rows.is_empty() {
        return Err(Error::Plot {
            reason: format!("no quantified observation of `{analyte}` to plot"),
        });
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1200, 900)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (data, side) = root.split_horizontally(920);
        let panels = data.split_evenly((2, 2));
        let dv = |p: &&PopulationPrediction| p.observed;
        let label = |what: &str| format!("{what} {analyte} ({unit})");
        identity_panel(
            &panels[0],
            &rows,
            |p| p.pred,
            dv,
            &label("PRED"),
            &label("observed"),
            log,
        )?;
        identity_panel(
            &panels[1],
            &rows,
            |p| p.ipred,
            dv,
            &label("IPRED"),
            &label("observed"),
            log,
        )?;
        residual_panel(&panels[2], &rows, |p| p.time, time_label, false)?;
        residual_panel(&panels[3], &rows, |p| p.pred, &label("PRED"), log)?;
        legend::draw(
            &side,
            &format!("{} fit, {analyte}", fit.method),
            &[
                (Glyph::Dot(BLUE), "observation".to_owned()),
                (Glyph::Line(VERMILLION), "identity / zero".to_owned()),
                (Glyph::Dashed(GREY), "CWRES ±2".to_owned()),
            ],
        )?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// A chart builder with the margins of the goodness-of-fit panels.
fn panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> ChartBuilder<'_, '_, DB> {
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70);
    builder
}

fn identity_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rows: &[&PopulationPrediction],
    x: impl Fn(&&PopulationPrediction) -> f64,
    y: impl Fn(&&PopulationPrediction) -> f64,
    x_label: &str,
    y_label: &str,
    log: bool,
) -> Result<()> {
    let points: Vec<(f64, f64)> = rows
        .iter()
        .map(|p| (x(p), y(p)))
        .filter(|(a, b)| !log || (*a > 0.0 && *b > 0.0))
        .collect();
    let (lo, hi) =
        padded(points.iter().flat_map(|p| [p.0, p.1]), log).ok_or_else(|| Error::Plot {
            reason: "no positive values for log axes".into(),
        })?;
    let mut builder = panel(area);
    let identity = [(lo, lo), (hi, hi)];
    chart!(
        builder,
        lo..hi,
        log,
        lo..hi,
        log,
        x_label,
        y_label,
        |chart| {
            scatter(&mut chart, &points)?;
            chart
                .draw_series(LineSeries::new(identity, VERMILLION.stroke_width(2)))
                .map_err(plot_error)?;
        }
    );
    Ok(())
}

fn residual_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rows: &[&PopulationPrediction],
    x: impl Fn(&&PopulationPrediction) -> f64,
    x_label: &str,
    log: bool,
) -> Result<()> {
    let points: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|p| Some((x(p), p.cwres?)))
        .filter(|p| !log || p.0 > 0.0)
        .collect();
    let (x0, x1) = padded(points.iter().map(|p| p.0), log).unwrap_or((1.0, 10.0));
    let bound = points.iter().fold(3.0f64, |m, p| m.max(p.1.abs())).ceil();
    let mut builder = panel(area);
    chart!(
        builder,
        x0..x1,
        log,
        -bound..bound,
        false,
        x_label,
        "CWRES",
        |chart| {
            horizontal(&mut chart, (x0, x1), 0.0, false)?;
            for limit in [-2.0, 2.0] {
                horizontal(&mut chart, (x0, x1), limit, true)?;
            }
            scatter(&mut chart, &points)?;
        }
    );
    Ok(())
}
