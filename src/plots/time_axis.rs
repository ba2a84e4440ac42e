//! A time axis that can give an early phase more room: linear, or split at a time where
//! the scale changes (for CAR-T data, the first 28 days of expansion and contraction
//! drawn wider than the months of persistence after them).

use crate::error::{Error, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use std::ops::Range;

/// A time axis (same unit as the data's times, e.g. days).
///
/// A split axis maps `[start, split]` linearly onto the first `share` of the axis width
/// and `[split, end]` linearly onto the rest: a position at fraction
/// `share · (t − start)/(split − start)` before the split and
/// `share + (1 − share) · (t − split)/(end − split)` after it. The ticks are the times to
/// label (e.g. the visit days); without ticks, six evenly spaced ones are used.
///
/// ```
/// use cart_pkpd::plots::TimeAxis;
/// let axis = TimeAxis::split(0.0, 28.0, 365.0, 0.4)?.ticks(&[0.0, 7.0, 14.0, 28.0, 180.0, 365.0]);
/// assert!((axis.fraction(28.0) - 0.4).abs() < 1e-12);
/// assert!((axis.fraction(196.5) - 0.7).abs() < 1e-12);
/// assert!((axis.time_at(axis.fraction(90.0)) - 90.0).abs() < 1e-9);
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TimeAxis {
    start: f64,
    end: f64,
    /// The split time and the share of the width before it.
    split: Option<(f64, f64)>,
    ticks: Vec<f64>,
}

impl TimeAxis {
    /// A linear axis over `[start, end]`.
    ///
    /// # Errors
    /// [`Error::Plot`] unless `start < end`, both finite.
    pub fn linear(start: f64, end: f64) -> Result<Self> {
        if !(start.is_finite() && end.is_finite() && start < end) {
            return Err(Error::Plot {
                reason: format!("time axis [{start}, {end}]: need finite start < end"),
            });
        }
        Ok(Self {
            start,
            end,
            split: None,
            ticks: Vec::new(),
        })
    }

    /// An axis over `[start, end]` where `[start, split]` takes `share` of the width.
    ///
    /// # Errors
    /// [`Error::Plot`] unless `start < split < end` (finite) and `0 < share < 1`.
    pub fn split(start: f64, split: f64, end: f64, share: f64) -> Result<Self> {
        let mut axis = Self::linear(start, end)?;
        if !(split > start && split < end && share > 0.0 && share < 1.0) {
            return Err(Error::Plot {
                reason: format!(
                    "split time axis: need start {start} < split {split} < end {end} and \
                     0 < share {share} < 1"
                ),
            });
        }
        axis.split = Some((split, share));
        Ok(axis)
    }

    /// The times to label, kept where they lie inside the axis.
    pub fn ticks(mut self, ticks: &[f64]) -> Self {
        self.ticks = ticks
            .iter()
            .copied()
            .filter(|t| (self.start..=self.end).contains(t))
            .collect();
        self
    }

    /// Where `t` lies along the axis, as a fraction of its width (outside `[0, 1]` for
    /// times outside the axis).
    pub fn fraction(&self, t: f64) -> f64 {
        let (a, b) = (self.start, self.end);
        match self.split {
            None => (t - a) / (b - a),
            Some((s, share)) if t <= s => share * (t - a) / (s - a),
            Some((s, share)) => share + (1.0 - share) * (t - s) / (b - s),
        }
    }

    /// The time at fraction `f` of the width: the inverse of [`TimeAxis::fraction`].
    pub fn time_at(&self, f: f64) -> f64 {
        let (a, b) = (self.start, self.end);
        match self.split {
            None => a + f * (b - a),
            Some((s, share)) if f <= share => a + f / share * (s - a),
            Some((s, share)) => s + (f - share) / (1.0 - share) * (b - s),
        }
    }

    /// The axis range.
    pub fn range(&self) -> Range<f64> {
        self.start..self.end
    }

    /// The split time, if any.
    pub fn split_time(&self) -> Option<f64> {
        self.split.map(|(s, _)| s)
    }

    /// The time `pixels` to the right of `t` on an axis `width` pixels wide (left for
    /// negative `pixels`): for marks of a fixed width on a non-linear axis.
    pub(crate) fn offset(&self, t: f64, pixels: f64, width: u32) -> f64 {
        self.time_at(self.fraction(t) + pixels / f64::from(width.max(1)))
    }
}

impl Ranged for TimeAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let width = f64::from(limit.1 - limit.0);
        limit.0 + (width * self.fraction(*value)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // tick marks and labels only: no light grid lines between them
        if hint.weight().allow_light_points() || hint.max_num_points() == 0 {
            return Vec::new();
        }
        if self.ticks.is_empty() {
            return (0..=5)
                .map(|i| self.start + f64::from(i) * (self.end - self.start) / 5.0)
                .collect();
        }
        self.ticks.clone()
    }

    fn range(&self) -> Range<f64> {
        self.start..self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_and_split_positions() {
        let lin = TimeAxis::linear(-10.0, 90.0).unwrap();
        assert!((lin.fraction(40.0) - 0.5).abs() < 1e-12);
        let s = TimeAxis::split(0.0, 28.0, 365.0, 0.5).unwrap();
        // 14 days is a quarter of the width, as far as 28 + 337/2 days is three quarters
        assert!((s.fraction(14.0) - 0.25).abs() < 1e-12);
        assert!((s.fraction(196.5) - 0.75).abs() < 1e-12);
        assert_eq!(s.map(&28.0, (100, 500)), 300);
        for t in [0.0, 3.5, 28.0, 29.0, 365.0] {
            assert!((s.time_at(s.fraction(t)) - t).abs() < 1e-9);
        }
        // 10 pixels on a 400-pixel axis are 2.5% of it: 2.5% of 56 days before the split
        // (28 days on half the width), 2.5% of 674 days after it
        assert!((s.offset(7.0, 10.0, 400) - 8.4).abs() < 1e-9);
        assert!((s.offset(100.0, 10.0, 400) - 116.85).abs() < 1e-9);
    }

    #[test]
    fn invalid_axes_are_errors() {
        assert!(TimeAxis::linear(5.0, 5.0).is_err());
        assert!(TimeAxis::split(0.0, 400.0, 365.0, 0.4).is_err());
        assert!(TimeAxis::split(0.0, 28.0, 365.0, 1.0).is_err());
        assert!(TimeAxis::split(0.0, 28.0, f64::NAN, 0.4).is_err());
    }
}
