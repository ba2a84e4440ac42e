//! Median profiles by group (e.g. dose level): observed medians per visit over the model's
//! median and prediction band, on a log axis with the LLOQ.

use super::legend::{self, Glyph};
use super::{GREY, TimeAxis, group_color, plot_error, time_mesh};
use crate::error::{Error, Result};
use crate::summary::TimeSummary;
use plotters::coord::CoordTranslate;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One group's profiles: observed summaries per visit and the model's summaries (median
/// and a two-sided band, the first two quantiles) on a grid of times.
#[derive(Debug, Clone, Copy)]
pub struct GroupProfile<'a> {
    /// Short label for the legend, e.g. `"DL1"`.
    pub label: &'a str,
    /// Observed medians per visit (a median below the LLOQ is drawn open at the LLOQ).
    pub observed: &'a [TimeSummary],
    /// Model medians with their band (`quantiles[0]`, `quantiles[1]`), uncensored.
    pub model: &'a [TimeSummary],
}

/// Title, axes (with units) and scale of a profile panel.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileLabels {
    /// Panel title.
    pub title: String,
    /// y axis with its unit, e.g. `"Transgene (copies/µg)"`.
    pub y: String,
    /// x axis with its unit, e.g. `"Days after infusion"`.
    pub x: String,
    /// The log y axis range (positive, `lo < hi`).
    pub y_range: (f64, f64),
    /// The time axis.
    pub time: TimeAxis,
    /// The LLOQ drawn as a dashed line, in the y unit.
    pub lloq: Option<f64>,
}

const LEGEND: u32 = 250;

/// Median profiles by group as an SVG document of `size` pixels: per group a model median
/// (solid for the first group, dashed for the second, alternating) with its band, and the
/// observed medians (circles, squares, triangles; open at the LLOQ when the median is
/// below it); the first group is drawn on top. A model median that leaves the y axis stops
/// there, marked by a downward triangle. The legend is a column beside the data.
///
/// # Errors
/// [`Error::Plot`] for no groups, a y range that is not positive and increasing, or a
/// drawing failure.
///
/// ```
/// use cart_pkpd::plots::{GroupProfile, ProfileLabels, TimeAxis, profiles_svg};
/// use cart_pkpd::summary::summarize_observations;
/// use cart_pkpd::Subject;
/// let s = Subject::builder("1").observe(7.0, "transgene", 900.0).build()?;
/// let observed = summarize_observations(&[&s], "transgene", &[0.05, 0.95])?;
/// let labels = ProfileLabels {
///     title: "Transgene".into(),
///     y: "Transgene (copies/µg)".into(),
///     x: "Days after infusion".into(),
///     y_range: (1.0, 1e5),
///     time: TimeAxis::split(0.0, 28.0, 365.0, 0.4)?,
///     lloq: Some(5.0),
/// };
/// let group = GroupProfile { label: "DL1", observed: &observed, model: &[] };
/// let svg = profiles_svg(&labels, &[group], (900, 500))?;
/// assert!(svg.contains("DL1 observed median"));
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
pub fn profiles_svg(
    labels: &ProfileLabels,
    groups: &[GroupProfile],
    size: (u32, u32),
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        draw_profiles(&root, labels, groups)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Draws the profile panel with its legend column into `area`.
pub(crate) fn draw_profiles<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: &ProfileLabels,
    groups: &[GroupProfile],
) -> Result<()> {
    let (lo, hi) = labels.y_range;
    if groups.is_empty() || !(lo > 0.0 && lo < hi && hi.is_finite()) {
        return Err(Error::Plot {
            reason: format!(
                "profiles: need at least one group and 0 < y_lo < y_hi (got {} groups, \
                 y range [{lo}, {hi}])",
                groups.len()
            ),
        });
    }
    let (width, _) = area.dim_in_pixel();
    let (plot, side) = area.split_horizontally(width.saturating_sub(LEGEND));
    let mut chart = ChartBuilder::on(&plot)
        .caption(&labels.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(labels.time.clone(), (lo..hi).log_scale())
        .map_err(plot_error)?;
    time_mesh(&mut chart)
        .x_label_formatter(&|t| format!("{t}"))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .x_desc(&labels.x)
        .y_desc(&labels.y)
        .draw()
        .map_err(plot_error)?;
    let t_range = labels.time.range();
    if let Some(s) = labels.time.split_time() {
        // the scale changes here
        chart
            .draw_series(DashedLineSeries::new(
                [(s, lo), (s, hi)],
                2,
                6,
                GREY.mix(0.6).stroke_width(1),
            ))
            .map_err(plot_error)?;
    }
    for (g, group) in groups.iter().enumerate().rev() {
        draw_group(&mut chart, g, group, labels)?;
    }
    if let Some(l) = labels.lloq {
        chart
            .draw_series(DashedLineSeries::new(
                [(t_range.start, l), (t_range.end, l)],
                6,
                4,
                GREY.stroke_width(2),
            ))
            .map_err(plot_error)?;
    }
    legend::draw(&side, "", &legend_entries(groups))
}

/// The band, model median and observed medians of group `g`.
fn draw_group<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    g: usize,
    group: &GroupProfile,
    labels: &ProfileLabels,
) -> Result<()> {
    let (lo, hi) = labels.y_range;
    let clip = |v: f64| v.clamp(lo, hi);
    let color = group_color(g);
    let bound = |r: &TimeSummary, k: usize| {
        clip(r.quantiles.get(k).and_then(|q| q.1.value()).unwrap_or(lo))
    };
    if group.model.iter().all(|r| r.quantiles.len() >= 2) && !group.model.is_empty() {
        let band: Vec<(f64, f64)> = group
            .model
            .iter()
            .map(|r| (r.time, bound(r, 1)))
            .chain(group.model.iter().rev().map(|r| (r.time, bound(r, 0))))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(band, color.mix(0.12))))
            .map_err(plot_error)?;
        // the band's edges, so that overlapping bands stay told apart
        for k in 0..2 {
            let edge = group.model.iter().map(|r| (r.time, bound(r, k)));
            chart
                .draw_series(LineSeries::new(edge, color.mix(0.5).stroke_width(1)))
                .map_err(plot_error)?;
        }
    }
    draw_median(chart, group.model, lo, g)?;
    let size = if g == 0 { 6 } else { 5 };
    for r in group.observed {
        let (v, style) = match r.median.value() {
            Some(v) => (clip(v), color.filled()),
            None => (clip(labels.lloq.unwrap_or(lo)), color.stroke_width(2)),
        };
        draw_marker(chart, g, (r.time, v), size, style)?;
    }
    Ok(())
}

/// Draws the marker of group `g` at `at`: a circle, a square or a triangle.
fn draw_marker<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    g: usize,
    at: (f64, f64),
    size: i32,
    style: ShapeStyle,
) -> Result<()> {
    let square = Rectangle::new([(-size, -size), (size, size)], style);
    match g % 3 {
        0 => chart.draw_series(std::iter::once(Circle::new(at, size, style))),
        1 => chart.draw_series(std::iter::once(EmptyElement::at(at) + square)),
        _ => chart.draw_series(std::iter::once(TriangleMarker::new(at, size + 1, style))),
    }
    .map_err(plot_error)?;
    Ok(())
}

/// A model median: solid for even groups, dashed for odd ones; runs below `floor` are
/// left out, with a downward triangle where the median leaves the axis.
fn draw_median<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    rows: &[TimeSummary],
    floor: f64,
    g: usize,
) -> Result<()> {
    let color = group_color(g);
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    let mut exits = Vec::new();
    for r in rows {
        match r.median.value().filter(|&v| v >= floor) {
            Some(v) => runs.last_mut().expect("a run").push((r.time, v)),
            None if runs.last().is_some_and(|run| !run.is_empty()) => {
                exits.push(r.time);
                runs.push(Vec::new());
            }
            None => {}
        }
    }
    for run in runs.into_iter().filter(|r| r.len() > 1) {
        let style = color.stroke_width(2);
        if g.is_multiple_of(2) {
            chart.draw_series(LineSeries::new(run, style))
        } else {
            chart.draw_series(DashedLineSeries::new(run, 8, 5, style))
        }
        .map_err(plot_error)?;
    }
    chart
        .draw_series(exits.into_iter().map(|t| {
            EmptyElement::at((t, floor))
                + Polygon::new(vec![(-6, -14), (6, -14), (0, -2)], color.filled())
        }))
        .map_err(plot_error)?;
    Ok(())
}

fn legend_entries(groups: &[GroupProfile]) -> Vec<(Glyph, String)> {
    let mut entries = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let color = group_color(g);
        let line = if g.is_multiple_of(2) {
            Glyph::Line(color)
        } else {
            Glyph::Dashed(color)
        };
        let level = group
            .model
            .first()
            .and_then(|r| Some(100.0 * (r.quantiles.get(1)?.0 - r.quantiles.first()?.0)))
            .map_or_else(String::new, |p| format!(", {p:.0}% PI"));
        entries.push((line, format!("{} model median{level}", group.label)));
        let shape = match g % 3 {
            0 => Glyph::Dot(color),
            1 => Glyph::Square(color),
            _ => Glyph::Triangle(color),
        };
        entries.push((shape, format!("{} observed median", group.label)));
    }
    entries.push((Glyph::Open(GREY), "median < LLOQ, at LLOQ".into()));
    entries.push((Glyph::Dashed(GREY), "LLOQ".into()));
    entries.push((Glyph::Down(GREY), "model median below axis".into()));
    entries
}
