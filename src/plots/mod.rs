//! SVG plots of the diagnostics (feature `plots`, on by default; plotters with its SVG
//! backend): VPC and pcVPC with their below-LLOQ panel, NPDE, goodness of fit, individual
//! fits, the random effects against their distribution and covariates, and SAEM's
//! convergence.
//!
//! Every plot returns the SVG document as a string (write it with `std::fs::write`). The
//! conventions: units in the axis labels, log axes where the data are log-normal (a
//! choice in each plot's labels), the Okabe–Ito colour-blind-safe palette with a second
//! cue for every series (line style or marker shape), and legends in a band of their own
//! beside the data, never over it.

mod gof;
mod individual;
pub(crate) mod legend;
mod npde;
mod profiles;
mod saem;
mod time_axis;
mod vpc;

pub use gof::gof_svg;
pub use individual::{eta_svg, individual_fits_svg};
pub use npde::npde_svg;
pub(crate) use profiles::draw_profiles;
pub use profiles::{GroupProfile, ProfileLabels, profiles_svg};
pub use saem::saem_trace_svg;
pub use time_axis::TimeAxis;
pub use vpc::{VpcLabels, vpc_svg};

use crate::error::Error;
use plotters::style::RGBColor;

/// Okabe–Ito colours.
pub(crate) const BLACK: RGBColor = RGBColor(0, 0, 0);
pub(crate) const SKY_BLUE: RGBColor = RGBColor(86, 180, 233);
pub(crate) const BLUE: RGBColor = RGBColor(0, 114, 178);
pub(crate) const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub(crate) const GREY: RGBColor = RGBColor(120, 120, 120);
pub(crate) const BLUISH_GREEN: RGBColor = RGBColor(0, 158, 115);
pub(crate) const REDDISH_PURPLE: RGBColor = RGBColor(204, 121, 167);
pub(crate) const ORANGE: RGBColor = RGBColor(230, 159, 0);

/// The colour of group `g`: Okabe–Ito blue, vermillion, bluish green, reddish purple,
/// orange, then again.
pub(crate) fn group_color(g: usize) -> RGBColor {
    [BLUE, VERMILLION, BLUISH_GREEN, REDDISH_PURPLE, ORANGE][g % 5]
}

/// Tick labels of an axis: powers of ten on a log axis, plain numbers otherwise.
pub(crate) fn tick_label(log: bool) -> impl Fn(&f64) -> String {
    move |v: &f64| {
        if log {
            format!("{v:.0e}")
        } else {
            let rounded = (v * 1e6).round() / 1e6;
            format!("{rounded}")
        }
    }
}

/// Builds a chart on `$builder` over `$x` × `$y` (each range linear, or logarithmic when
/// its flag is set), draws its mesh with the two axis descriptions, and runs `$body` with
/// the chart bound to `$chart`: one body for the four combinations of axis types, which
/// plotters gives different types.
macro_rules! chart {
    ($builder:expr, $x:expr, $log_x:expr, $y:expr, $log_y:expr, $x_desc:expr, $y_desc:expr,
     |$chart:ident| $body:block) => {{
        // not the whole prelude: its colours would shadow the palette's in `$body`
        use plotters::prelude::{IntoLogRange as _, WHITE};
        let (x_fmt, y_fmt) = (
            $crate::plots::tick_label($log_x),
            $crate::plots::tick_label($log_y),
        );
        macro_rules! with_mesh {
            ($built:expr) => {{
                let mut $chart = $built.map_err($crate::plots::plot_error)?;
                $chart
                    .configure_mesh()
                    .light_line_style(WHITE)
                    .x_labels(6)
                    .x_label_formatter(&x_fmt)
                    .y_label_formatter(&y_fmt)
                    .x_desc($x_desc)
                    .y_desc($y_desc)
                    .draw()
                    .map_err($crate::plots::plot_error)?;
                $body
            }};
        }
        let (x, y) = ($x, $y);
        match ($log_x, $log_y) {
            (false, false) => with_mesh!($builder.build_cartesian_2d(x, y)),
            (false, true) => with_mesh!($builder.build_cartesian_2d(x, y.log_scale())),
            (true, false) => with_mesh!($builder.build_cartesian_2d(x.log_scale(), y)),
            (true, true) => with_mesh!($builder.build_cartesian_2d(x.log_scale(), y.log_scale())),
        }
    }};
}
pub(crate) use chart;

/// A horizontal line at `y` across `[x0, x1]`: solid, or dashed.
pub(crate) fn horizontal<DB, CT>(
    chart: &mut plotters::chart::ChartContext<'_, DB, CT>,
    (x0, x1): (f64, f64),
    y: f64,
    dashed: bool,
) -> crate::error::Result<()>
where
    DB: plotters::prelude::DrawingBackend,
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    use plotters::prelude::*;
    if dashed {
        chart
            .draw_series(DashedLineSeries::new(
                [(x0, y), (x1, y)],
                6,
                4,
                GREY.stroke_width(2),
            ))
            .map_err(plot_error)?;
    } else {
        chart
            .draw_series(LineSeries::new(
                [(x0, y), (x1, y)],
                VERMILLION.stroke_width(2),
            ))
            .map_err(plot_error)?;
    }
    Ok(())
}

/// The mesh of the time-axis plots (profiles, Figure 2): no light grid lines, 13-px tick
/// labels and 14-px axis descriptions; the caller adds formatters and draws it.
pub(crate) fn time_mesh<'a, 'b, X, Y, XT, YT, DB>(
    chart: &'b mut plotters::chart::ChartContext<
        'a,
        DB,
        plotters::coord::cartesian::Cartesian2d<X, Y>,
    >,
) -> plotters::chart::MeshStyle<'a, 'b, X, Y, DB>
where
    X: plotters::coord::ranged1d::Ranged<ValueType = XT>
        + plotters::coord::ranged1d::ValueFormatter<XT>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = YT>
        + plotters::coord::ranged1d::ValueFormatter<YT>,
    DB: plotters::prelude::DrawingBackend,
{
    use plotters::prelude::*;
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(WHITE)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14));
    mesh
}

/// Draws `points` as the palette's blue dots, 3 px, 60% opaque.
pub(crate) fn scatter<DB, CT>(
    chart: &mut plotters::chart::ChartContext<'_, DB, CT>,
    points: &[(f64, f64)],
) -> crate::error::Result<()>
where
    DB: plotters::prelude::DrawingBackend,
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    use plotters::prelude::{Circle, Color};
    chart
        .draw_series(
            points
                .iter()
                .map(|&p| Circle::new(p, 3, BLUE.mix(0.6).filled())),
        )
        .map_err(plot_error)?;
    Ok(())
}

/// A plotters failure as a crate error.
pub(crate) fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Plot {
        reason: e.to_string(),
    }
}

/// `[lo, hi]` padded by 5% on each side (on the log scale when `log`), and never empty.
pub(crate) fn padded(values: impl Iterator<Item = f64>, log: bool) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    if log {
        let (a, b) = (lo.ln(), hi.ln());
        let pad = ((b - a) * 0.05).max(0.1);
        Some(((a - pad).exp(), (b + pad).exp()))
    } else {
        let pad = ((hi - lo) * 0.05).max(1e-9 * hi.abs().max(1.0));
        Some((lo - pad, hi + pad))
    }
}
