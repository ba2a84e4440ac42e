//! SVG plots of the diagnostics (feature `plots`, on by default; plotters with its SVG
//! backend): VPC and pcVPC with their below-LLOQ panel, NPDE, goodness of fit, individual
//! fits, and the random effects against their distribution and covariates.
//!
//! Every plot returns the SVG document as a string (write it with `std::fs::write`). The
//! conventions: units in the axis labels, log axes where the data are log-normal (a
//! choice in each plot's labels), the Okabe–Ito colour-blind-safe palette with a second
//! cue for every series (line style or marker shape), and legends in a band of their own
//! beside the data, never over it.

mod gof;
mod individual;
mod legend;
mod npde;
mod vpc;

pub use gof::gof_svg;
pub use individual::{eta_svg, individual_fits_svg};
pub use npde::npde_svg;
pub use vpc::{VpcLabels, vpc_svg};

use crate::error::Error;
use plotters::style::RGBColor;

/// Okabe–Ito colours.
pub(crate) const BLACK: RGBColor = RGBColor(0, 0, 0);
pub(crate) const SKY_BLUE: RGBColor = RGBColor(86, 180, 233);
pub(crate) const BLUE: RGBColor = RGBColor(0, 114, 178);
pub(crate) const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub(crate) const GREY: RGBColor = RGBColor(120, 120, 120);

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
