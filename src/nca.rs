//! Non-compartmental summaries of a profile: peak, depletion and reappearance times.
//!
//! Conventions of `MODEL.md`: Cmax and Tmax are the observed peak and its time (the first
//! time the maximum is reached); the day of depletion is the first time a value falls below
//! the LLOQ; the day of reappearance is the first time at or above the LLOQ after depletion.

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
fn check_profile(times: &[f64], values: &[f64]) -> Result<()> {
    let bad = |reason: String| Err(Error::InvalidTimes { reason });
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
