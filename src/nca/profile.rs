//! Summaries of one profile given as times and values: peak, AUC, depletion and
//! reappearance times.

use crate::error::{Error, Result};

/// The peak of a profile.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Peak {
    /// Time of the peak (first time the maximum is reached), in the profile's time unit.
    pub tmax: f64,
    /// Peak value, in the profile's unit.
    pub cmax: f64,
}

/// Checks that a profile is well formed: equal lengths, not empty, finite values, sorted
/// times.
pub(crate) fn check_profile(times: &[f64], values: &[f64]) -> Result<()> {
    let bad = |reason: String| Err(Error::InvalidProfile { reason });
    if times.len() != values.len() {
        return bad(format!("{} times but {} values", times.len(), values.len()));
    }
    if times.is_empty() {
        return bad("the profile is empty".into());
    }
    for i in 0..times.len() {
        if !times[i].is_finite() || !values[i].is_finite() {
            return bad(format!("point #{i} is not finite"));
        }
        if i > 0 && times[i] < times[i - 1] {
            return bad(format!("times are not sorted at point #{i}"));
        }
    }
    Ok(())
}

/// Cmax and Tmax of a profile.
///
/// # Errors
/// [`Error::InvalidProfile`] for lengths that differ, no points, values that are not finite
/// or unsorted times.
///
/// ```
/// use cart_pkpd::nca::peak;
/// let p = peak(&[0.0, 7.0, 14.0, 28.0], &[1.0, 900.0, 900.0, 40.0]).unwrap();
/// assert_eq!((p.tmax, p.cmax), (7.0, 900.0));
/// ```
pub fn peak(times: &[f64], values: &[f64]) -> Result<Peak> {
    check_profile(times, values)?;
    let mut best = Peak {
        tmax: times[0],
        cmax: values[0],
    };
    for (&t, &v) in times.iter().zip(values) {
        if v > best.cmax {
            best = Peak { tmax: t, cmax: v };
        }
    }
    Ok(best)
}

/// First time a value is below `lloq` (the day of depletion), or `None`.
///
/// # Errors
/// As [`peak`].
///
/// ```
/// use cart_pkpd::nca::depletion_time;
/// let t = depletion_time(&[0.0, 7.0, 14.0], &[120.0, 0.4, 0.1], 1.0).unwrap();
/// assert_eq!(t, Some(7.0));
/// ```
pub fn depletion_time(times: &[f64], values: &[f64], lloq: f64) -> Result<Option<f64>> {
    check_profile(times, values)?;
    Ok(times
        .iter()
        .zip(values)
        .find(|&(_, &v)| v < lloq)
        .map(|(&t, _)| t))
}

/// First time a value is at or above `lloq` after the day of depletion (the day of
/// reappearance), or `None` (never depleted, or not back).
///
/// # Errors
/// As [`peak`].
///
/// ```
/// use cart_pkpd::nca::reappearance_time;
/// let t = reappearance_time(&[0.0, 7.0, 90.0, 180.0], &[120.0, 0.2, 0.8, 35.0], 1.0).unwrap();
/// assert_eq!(t, Some(180.0));
/// ```
pub fn reappearance_time(times: &[f64], values: &[f64], lloq: f64) -> Result<Option<f64>> {
    let Some(depleted) = depletion_time(times, values, lloq)? else {
        return Ok(None);
    };
    Ok(times
        .iter()
        .zip(values)
        .find(|&(&t, &v)| t > depleted && v >= lloq)
        .map(|(&t, _)| t))
}

/// The trapezoid rule of an AUC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AucMethod {
    /// Linear trapezoids `(c1 + c2)·Δt/2` throughout.
    Linear,
    /// Linear trapezoids where the level rises or stays, log trapezoids
    /// `(c1 − c2)·Δt / ln(c1/c2)` where it falls and both values are positive. The default.
    #[default]
    LinearUpLogDown,
}

/// Area under the curve from the first time to `t_end` by `method`. A `t_end` between two
/// times is reached by interpolating the same way (log-linear on a falling log piece); a
/// `t_end` before the first time or after the last is `None` (no extrapolation).
///
/// # Errors
/// [`Error::InvalidProfile`] for lengths that differ, no points, values that are not
/// finite or unsorted times.
///
/// ```
/// use cart_pkpd::nca::{auc, AucMethod};
/// let (t, c) = ([0.0, 1.0, 2.0], [0.0, 10.0, 5.0]);
/// let linear = auc(&t, &c, 2.0, AucMethod::Linear)?.unwrap();
/// assert!((linear - 12.5).abs() < 1e-12);
/// let log_down = auc(&t, &c, 2.0, AucMethod::LinearUpLogDown)?.unwrap();
/// assert!((log_down - (5.0 + 5.0 / 2f64.ln())).abs() < 1e-12);
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
pub fn auc(times: &[f64], values: &[f64], t_end: f64, method: AucMethod) -> Result<Option<f64>> {
    check_profile(times, values)?;
    if t_end < times[0] || t_end > times[times.len() - 1] {
        return Ok(None);
    }
    let mut total = 0.0;
    for i in 1..times.len() {
        let (t1, t2, c1, c2) = (times[i - 1], times[i], values[i - 1], values[i]);
        if t1 >= t_end {
            break;
        }
        let log_down = method == AucMethod::LinearUpLogDown && c2 < c1 && c2 > 0.0 && c1 > 0.0;
        // the end of this piece: t2, or t_end inside it
        let (t2, c2) = if t2 > t_end {
            let f = (t_end - t1) / (t2 - t1);
            let c = if log_down {
                c1 * (c2 / c1).powf(f)
            } else {
                c1 + f * (c2 - c1)
            };
            (t_end, c)
        } else {
            (t2, c2)
        };
        let dt = t2 - t1;
        total += if log_down && c2 < c1 {
            (c1 - c2) * dt / (c1 / c2).ln()
        } else {
            0.5 * (c1 + c2) * dt
        };
    }
    Ok(Some(total))
}

/// [`auc`] by linear-up/log-down trapezoids.
///
/// # Errors
/// As [`auc`].
///
/// ```
/// use cart_pkpd::nca::auc_linear_up_log_down;
/// // rising 0 → 10 over 1 d (linear: 5), falling 10 → 5 over 1 d (log: 5/ln 2)
/// let auc = auc_linear_up_log_down(&[0.0, 1.0, 2.0], &[0.0, 10.0, 5.0], 2.0).unwrap().unwrap();
/// assert!((auc - (5.0 + 5.0 / 2f64.ln())).abs() < 1e-12);
/// ```
pub fn auc_linear_up_log_down(times: &[f64], values: &[f64], t_end: f64) -> Result<Option<f64>> {
    auc(times, values, t_end, AucMethod::LinearUpLogDown)
}
