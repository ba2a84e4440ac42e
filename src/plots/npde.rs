//! The NPDE plot: histogram against the standard normal density, quantile–quantile plot,
//! and NPDE over time with the 95% limits of `N(0, 1)`.

use super::legend::{self, Glyph};
use super::{BLACK, BLUE, GREY, VERMILLION, padded, plot_error};
use crate::diagnostics::Npde;
use crate::error::{Error, Result};
use plotters::prelude::*;
use statrs::distribution::{ContinuousCDF, Normal};

/// The NPDE as an SVG document: a histogram (bins of 0.5) with the `N(0, 1)` density, the
/// quantile–quantile plot against `N(0, 1)` with the identity line, and the NPDE against
/// time (`time_label`, with its unit) with lines at 0 and ±1.96; the summary tests'
/// p-values in the legend band.
///
/// # Errors
/// [`Error::Plot`] without NPDE or on a drawing failure.
pub fn npde_svg(npde: &Npde, time_label: &str) -> Result<String> {
    let x: Vec<f64> = npde.rows.iter().map(|r| r.npde).collect();
    if x.is_empty() {
        return Err(Error::Plot {
            reason: "no NPDE to plot".into(),
        });
    }
    let std = Normal::new(0.0, 1.0).map_err(plot_error)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1300, 440)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (data, side) = root.split_horizontally(1000);
        let panels = data.split_evenly((1, 3));
        let bound = x.iter().fold(3.5f64, |m, v| m.max(v.abs())).ceil();
        // histogram as densities
        let width = 0.5;
        let n_bins = (2.0 * bound / width) as usize;
        let mut counts = vec![0usize; n_bins];
        for v in &x {
            let k = (((v + bound) / width) as usize).min(n_bins - 1);
            counts[k] += 1;
        }
        let density = |c: usize| c as f64 / (x.len() as f64 * width);
        let top = counts.iter().map(|&c| density(c)).fold(0.45f64, f64::max) * 1.1;
        let mut hist = ChartBuilder::on(&panels[0])
            .caption("Distribution", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(50)
            .build_cartesian_2d(-bound..bound, 0f64..top)
            .map_err(plot_error)?;
        hist.configure_mesh()
            .light_line_style(WHITE)
            .x_desc("NPDE")
            .y_desc("density")
            .draw()
            .map_err(plot_error)?;
        hist.draw_series(counts.iter().enumerate().map(|(k, &c)| {
            let a = -bound + k as f64 * width;
            Rectangle::new([(a, 0.0), (a + width, density(c))], BLUE.mix(0.45).filled())
        }))
        .map_err(plot_error)?;
        let curve = (0..=200).map(|i| {
            let v = -bound + 2.0 * bound * i as f64 / 200.0;
            (
                v,
                (-0.5 * v * v).exp() / (2.0 * std::f64::consts::PI).sqrt(),
            )
        });
        hist.draw_series(LineSeries::new(curve, VERMILLION.stroke_width(2)))
            .map_err(plot_error)?;
        // quantile-quantile
        let mut sorted = x.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len() as f64;
        let qq: Vec<(f64, f64)> = sorted
            .iter()
            .enumerate()
            .map(|(i, &v)| (std.inverse_cdf((i as f64 + 0.5) / n), v))
            .collect();
        let mut chart = ChartBuilder::on(&panels[1])
            .caption("Quantile-quantile", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(50)
            .build_cartesian_2d(-bound..bound, -bound..bound)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_desc("N(0, 1) quantile")
            .y_desc("NPDE")
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(LineSeries::new(
                [(-bound, -bound), (bound, bound)],
                VERMILLION.stroke_width(2),
            ))
            .map_err(plot_error)?;
        chart
            .draw_series(qq.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))
            .map_err(plot_error)?;
        // over time
        let times = npde.rows.iter().map(|r| r.time);
        let (t0, t1) = padded(times, false).unwrap_or((0.0, 1.0));
        let mut chart = ChartBuilder::on(&panels[2])
            .caption("Over time", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(50)
            .build_cartesian_2d(t0..t1, -bound..bound)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_labels(6)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .x_desc(time_label)
            .y_desc("NPDE")
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(LineSeries::new(
                [(t0, 0.0), (t1, 0.0)],
                VERMILLION.stroke_width(2),
            ))
            .map_err(plot_error)?;
        for limit in [-1.96, 1.96] {
            chart
                .draw_series(DashedLineSeries::new(
                    [(t0, limit), (t1, limit)],
                    6,
                    4,
                    GREY.stroke_width(2),
                ))
                .map_err(plot_error)?;
        }
        chart
            .draw_series(npde.rows.iter().map(|r| {
                let style = if r.censored {
                    GREY.stroke_width(1)
                } else {
                    BLUE.filled()
                };
                Circle::new((r.time, r.npde), 3, style)
            }))
            .map_err(plot_error)?;
        let s = &npde.summary;
        let p = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
        legend::draw(
            &side,
            &format!("NPDE, n = {}", s.n),
            &[
                (Glyph::Band(BLUE), "observed NPDE".to_owned()),
                (Glyph::Line(VERMILLION), "N(0, 1)".to_owned()),
                (Glyph::Dashed(GREY), "±1.96".to_owned()),
                (Glyph::Dot(GREY), "open: imputed (< LLOQ)".to_owned()),
                (
                    Glyph::Line(BLACK),
                    format!("mean {:.3} (p {})", s.mean, p(Some(s.mean_p_value))),
                ),
                (
                    Glyph::Line(BLACK),
                    format!(
                        "variance {:.3} (p {})",
                        s.variance,
                        p(Some(s.variance_p_value))
                    ),
                ),
                (
                    Glyph::Line(BLACK),
                    format!("Shapiro-Wilk p {}", p(s.normality_p_value)),
                ),
                (
                    Glyph::Line(BLACK),
                    format!("global p {}", p(Some(s.global_p_value))),
                ),
            ],
        )?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}
