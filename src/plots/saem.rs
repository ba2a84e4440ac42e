//! The convergence plot of a SAEM fit: every estimated parameter against the iteration,
//! with the end of the exploration phase marked, as Monolix users judge convergence.

use super::{BLUE, GREY, chart, padded, plot_error};
use crate::error::{Error, Result};
use crate::nlme::SaemFit;
use plotters::prelude::*;

/// Panels per row.
const COLUMNS: usize = 4;

/// The SAEM trace as an SVG document: one panel per parameter (the names of
/// [`SaemFit::trace_names`]: typical values and residual parameters on their natural
/// scale, coefficients, Ω's elements), its estimate per iteration (in smoothing the
/// running mean the fit reports), and a dashed line where exploration ends.
///
/// # Errors
/// [`Error::Plot`] for a fit without a trace or on a drawing failure.
pub fn saem_trace_svg(fit: &SaemFit) -> Result<String> {
    let n = fit.trace_names.len();
    if fit.trace.is_empty() || n == 0 {
        return Err(Error::Plot {
            reason: "the SAEM fit has no trace to plot".into(),
        });
    }
    let rows = n.div_ceil(COLUMNS);
    let mut svg = String::new();
    {
        let size = (300 * COLUMNS as u32, 230 * rows as u32 + 40);
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let root = root
            .titled(
                &format!(
                    "SAEM: exploration iterations 1-{} (dashed line), smoothing {}-{}",
                    fit.exploration_iterations,
                    fit.exploration_iterations + 1,
                    fit.trace.len()
                ),
                ("sans-serif", 18),
            )
            .map_err(plot_error)?;
        let panels = root.split_evenly((rows, COLUMNS));
        for (j, name) in fit.trace_names.iter().enumerate() {
            trace_panel(&panels[j], fit, j, name)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// One parameter's panel.
fn trace_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    fit: &SaemFit,
    j: usize,
    name: &str,
) -> Result<()> {
    let points: Vec<(f64, f64)> = fit
        .trace
        .iter()
        .filter_map(|t| t.values.get(j).map(|&v| (t.iteration as f64, v)))
        .collect();
    let (lo, hi) = padded(points.iter().map(|p| p.1), false).unwrap_or((0.0, 1.0));
    let last = fit.trace.len() as f64;
    let switch = fit.exploration_iterations as f64 + 0.5;
    let mut b = ChartBuilder::on(area);
    b.caption(name, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(56);
    chart!(
        b,
        0f64..last + 1.0,
        false,
        lo..hi,
        false,
        "iteration",
        "",
        |chart| {
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    BLUE.stroke_width(2),
                ))
                .map_err(plot_error)?;
            chart
                .draw_series(DashedLineSeries::new(
                    [(switch, lo), (switch, hi)],
                    6,
                    4,
                    GREY.stroke_width(2),
                ))
                .map_err(plot_error)?;
        }
    );
    Ok(())
}
