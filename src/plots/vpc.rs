//! The VPC plot: per stratum, the observed percentiles over the simulated percentiles'
//! intervals, and below them the censored panel (observed and simulated fractions below
//! the LLOQ).

use super::legend::{self, Glyph};
use super::{BLACK, GREY, SKY_BLUE, VERMILLION, chart, padded, plot_error};
use crate::diagnostics::{Vpc, VpcBin};
use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Axis labels (with units) and scale of a VPC plot.
#[derive(Debug, Clone, PartialEq)]
pub struct VpcLabels {
    /// x axis, e.g. `"Time after infusion (d)"`.
    pub x: String,
    /// y axis, e.g. `"Transgene (copies/µg)"`.
    pub y: String,
    /// A log y axis (for log-normal data).
    pub log_y: bool,
}

const WIDTH: u32 = 1100;
const LEGEND: u32 = 300;

/// The VPC as an SVG document: one column per stratum, the percentile panel above the
/// censored panel. Observed percentiles are black lines with markers (a circle for the
/// median, triangles for the others); the simulated percentiles' intervals are bands (blue
/// for the outer percentiles, vermillion for the median) with their medians dashed. A
/// percentile below the LLOQ is not drawn in the upper panel (the lower panel shows the
/// fraction below the LLOQ).
///
/// # Errors
/// [`Error::Plot`] for a VPC without bins or values, or a drawing failure.
pub fn vpc_svg(vpc: &Vpc, labels: &VpcLabels) -> Result<String> {
    let mut strata: Vec<Option<String>> = vpc.bins.iter().map(|b| b.stratum.clone()).collect();
    strata.dedup();
    if strata.is_empty() {
        return Err(Error::Plot {
            reason: "the VPC has no bins".into(),
        });
    }
    let height = 720;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (data, side) = root.split_horizontally(WIDTH - LEGEND);
        let columns = data.split_evenly((1, strata.len()));
        for (column, stratum) in columns.iter().zip(&strata) {
            let bins: Vec<&VpcBin> = vpc.bins.iter().filter(|b| &b.stratum == stratum).collect();
            let (top, bottom) = column.split_vertically((height as f64 * 0.68) as u32);
            let title = match (stratum, &vpc.stratified_by) {
                (Some(s), Some(by)) => format!("{}, {by} = {s}", vpc.analyte),
                (Some(s), None) => format!("{}, {s}", vpc.analyte),
                _ => vpc.analyte.clone(),
            };
            percentile_panel(&top, &bins, labels, &title, vpc.prediction_corrected)?;
            censored_panel(&bottom, &bins, &labels.x)?;
        }
        let pct = |q: f64| format!("{:.0}th", 100.0 * q);
        let mut entries = Vec::new();
        if let Some(b) = vpc.bins.first() {
            for p in &b.percentiles {
                let median = (p.q - 0.5).abs() < 1e-9;
                let glyph = if median {
                    Glyph::Dot(BLACK)
                } else {
                    Glyph::Triangle(BLACK)
                };
                entries.push((glyph, format!("observed {} percentile", pct(p.q))));
            }
        }
        let interval = format!("{:.0}%", 100.0 * vpc.interval);
        entries.push((
            Glyph::Band(SKY_BLUE),
            format!("simulated outer percentiles, {interval} PI"),
        ));
        entries.push((
            Glyph::Band(VERMILLION),
            format!("simulated median, {interval} PI"),
        ));
        entries.push((
            Glyph::Dashed(GREY),
            "median of simulated percentiles".into(),
        ));
        entries.push((
            Glyph::Band(GREY),
            format!("simulated fraction < LLOQ, {interval} PI"),
        ));
        entries.push((Glyph::Line(BLACK), "observed fraction < LLOQ".into()));
        let title = if vpc.prediction_corrected {
            "pcVPC"
        } else {
            "VPC"
        };
        legend::draw(
            &side,
            &format!("{title}, {} replicates", vpc.replicates),
            &entries,
        )?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The bins' plotting times, padded.
fn x_range(bins: &[&VpcBin]) -> (f64, f64) {
    padded(bins.iter().map(|b| b.time), false).unwrap_or((0.0, 1.0))
}

fn percentile_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    bins: &[&VpcBin],
    labels: &VpcLabels,
    title: &str,
    corrected: bool,
) -> Result<()> {
    let values = bins.iter().flat_map(|b| {
        b.percentiles.iter().flat_map(|p| {
            [
                p.observed,
                p.simulated.lower,
                p.simulated.median,
                p.simulated.upper,
            ]
            .into_iter()
            .filter_map(|r| r.value())
        })
    });
    let (y0, y1) = padded(values, labels.log_y).ok_or_else(|| Error::Plot {
        reason: "no percentile of the VPC is above the LLOQ".into(),
    })?;
    let (x0, x1) = x_range(bins);
    let y_label = if corrected {
        format!("{} (prediction-corrected)", labels.y)
    } else {
        labels.y.clone()
    };
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70);
    let n = bins.first().map_or(0, |b| b.percentiles.len());
    chart!(
        builder,
        x0..x1,
        false,
        y0..y1,
        labels.log_y,
        "",
        y_label.as_str(),
        |chart| { draw_percentiles(&mut chart, bins, n) }
    )
}

fn draw_percentiles<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    bins: &[&VpcBin],
    n: usize,
) -> Result<()> {
    for k in 0..n {
        let median = bins
            .first()
            .is_some_and(|b| (b.percentiles[k].q - 0.5).abs() < 1e-9);
        let colour = if median { VERMILLION } else { SKY_BLUE };
        let interval: Vec<(f64, f64, f64)> = bins
            .iter()
            .filter_map(|b| {
                let s = b.percentiles[k].simulated;
                Some((b.time, s.lower.value()?, s.upper.value()?))
            })
            .collect();
        let band: Vec<(f64, f64)> = interval
            .iter()
            .map(|p| (p.0, p.2))
            .chain(interval.iter().rev().map(|p| (p.0, p.1)))
            .collect();
        if band.len() >= 3 {
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band,
                    colour.mix(0.35).filled(),
                )))
                .map_err(plot_error)?;
        }
        let sim_median: Vec<(f64, f64)> = bins
            .iter()
            .filter_map(|b| Some((b.time, b.percentiles[k].simulated.median.value()?)))
            .collect();
        chart
            .draw_series(DashedLineSeries::new(
                sim_median,
                6,
                4,
                GREY.stroke_width(2),
            ))
            .map_err(plot_error)?;
        let observed: Vec<(f64, f64)> = bins
            .iter()
            .filter_map(|b| Some((b.time, b.percentiles[k].observed.value()?)))
            .collect();
        chart
            .draw_series(LineSeries::new(observed.clone(), BLACK.stroke_width(2)))
            .map_err(plot_error)?;
        if median {
            chart
                .draw_series(observed.iter().map(|&p| Circle::new(p, 4, BLACK.filled())))
                .map_err(plot_error)?;
        } else {
            chart
                .draw_series(
                    observed
                        .iter()
                        .map(|&p| TriangleMarker::new(p, 5, BLACK.filled())),
                )
                .map_err(plot_error)?;
        }
    }
    Ok(())
}

fn censored_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    bins: &[&VpcBin],
    x_label: &str,
) -> Result<()> {
    let (x0, x1) = x_range(bins);
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70);
    chart!(
        builder,
        x0..x1,
        false,
        0f64..1f64,
        false,
        x_label,
        "fraction < LLOQ",
        |chart| { draw_censored(&mut chart, bins) }
    )
}

fn draw_censored<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    bins: &[&VpcBin],
) -> Result<()> {
    let band: Vec<(f64, f64)> = bins
        .iter()
        .map(|b| (b.time, b.simulated_blq_fraction[2]))
        .chain(
            bins.iter()
                .rev()
                .map(|b| (b.time, b.simulated_blq_fraction[0])),
        )
        .collect();
    chart
        .draw_series(std::iter::once(Polygon::new(band, GREY.mix(0.35).filled())))
        .map_err(plot_error)?;
    let observed: Vec<(f64, f64)> = bins
        .iter()
        .map(|b| (b.time, b.observed_blq_fraction))
        .collect();
    chart
        .draw_series(LineSeries::new(observed.clone(), BLACK.stroke_width(2)))
        .map_err(plot_error)?;
    chart
        .draw_series(
            observed
                .iter()
                .map(|&p| Cross::new(p, 4, BLACK.stroke_width(2))),
        )
        .map_err(plot_error)?;
    Ok(())
}
