//! The NPDE plot: histogram against the standard normal density, quantile–quantile plot,
//! and NPDE over time with the 95% limits of `N(0, 1)`.

use super::legend::{self, Glyph};
use super::{BLACK, BLUE, GREY, VERMILLION, chart, horizontal, padded, plot_error};
use crate::diagnostics::Npde;
use crate::error::{Error, Result};
use plotters::coord::Shift;
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
    let bound = x.iter().fold(3.5f64, |m, v| m.max(v.abs())).ceil();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1300, 440)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (data, side) = root.split_horizontally(1000);
        let panels = data.split_evenly((1, 3));
        histogram_panel(&panels[0], &x, bound)?;
        qq_panel(&panels[1], &x, bound)?;
        time_panel(&panels[2], npde, bound, time_label)?;
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

fn builder<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    b.caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(50);
    b
}

/// Histogram (bins of 0.5, as densities) with the `N(0, 1)` density.
fn histogram_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    x: &[f64],
    bound: f64,
) -> Result<()> {
    let width = 0.5;
    let n_bins = (2.0 * bound / width) as usize;
    let mut counts = vec![0usize; n_bins];
    for v in x {
        counts[(((v + bound) / width) as usize).min(n_bins - 1)] += 1;
    }
    let density = |c: usize| c as f64 / (x.len() as f64 * width);
    let top = counts.iter().map(|&c| density(c)).fold(0.45f64, f64::max) * 1.1;
    let mut b = builder(area, "Distribution");
    chart!(
        b,
        -bound..bound,
        false,
        0f64..top,
        false,
        "NPDE",
        "density",
        |chart| {
            chart
                .draw_series(counts.iter().enumerate().map(|(k, &c)| {
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
            chart
                .draw_series(LineSeries::new(curve, VERMILLION.stroke_width(2)))
                .map_err(plot_error)?;
        }
    );
    Ok(())
}

/// Sorted NPDE against the `N(0, 1)` quantiles at `(i + ½)/n`, with the identity line.
fn qq_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    x: &[f64],
    bound: f64,
) -> Result<()> {
    let std = Normal::new(0.0, 1.0).map_err(plot_error)?;
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let qq: Vec<(f64, f64)> = sorted
        .iter()
        .enumerate()
        .map(|(i, &v)| (std.inverse_cdf((i as f64 + 0.5) / n), v))
        .collect();
    let mut b = builder(area, "Quantile-quantile");
    chart!(
        b,
        -bound..bound,
        false,
        -bound..bound,
        false,
        "N(0, 1) quantile",
        "NPDE",
        |chart| {
            chart
                .draw_series(LineSeries::new(
                    [(-bound, -bound), (bound, bound)],
                    VERMILLION.stroke_width(2),
                ))
                .map_err(plot_error)?;
            chart
                .draw_series(qq.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))
                .map_err(plot_error)?;
        }
    );
    Ok(())
}

/// NPDE over time with lines at 0 and ±1.96; imputed ones open.
fn time_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    npde: &Npde,
    bound: f64,
    time_label: &str,
) -> Result<()> {
    let (t0, t1) = padded(npde.rows.iter().map(|r| r.time), false).unwrap_or((0.0, 1.0));
    let mut b = builder(area, "Over time");
    chart!(
        b,
        t0..t1,
        false,
        -bound..bound,
        false,
        time_label,
        "NPDE",
        |chart| {
            horizontal(&mut chart, (t0, t1), 0.0, false)?;
            for limit in [-1.96, 1.96] {
                horizontal(&mut chart, (t0, t1), limit, true)?;
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
        }
    );
    Ok(())
}
