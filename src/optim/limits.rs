//! Bounds on the settings of an estimation: a step or tolerance beyond them would silently
//! give a wrong answer (a gradient from differences across the whole parameter space, a
//! "converged" start).

use crate::error::{Error, Result};

/// `Err(InvalidFitOptions)` naming the setting unless `0 < value ≤ max`.
pub(crate) fn check_positive(name: &str, value: f64, max: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 && value <= max {
        Ok(())
    } else {
        Err(Error::InvalidFitOptions {
            reason: format!("{name} must be in (0, {max}], got {value}"),
        })
    }
}

/// Largest tolerance on −2LL (a larger one stops at the start).
pub const MAX_TOLERANCE: f64 = 1.0;

/// Largest finite-difference step on the estimation scale.
pub const MAX_STEP: f64 = 1.0;

/// Largest initial simplex edge on the estimation scale.
pub const MAX_SIMPLEX_STEP: f64 = 10.0;
