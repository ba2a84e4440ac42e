//! An estimated parameter on its natural scale, with its standard error and confidence
//! interval carried from the estimation scale.
//!
//! With `u` the estimate on the estimation scale, `x = g(u)` ([`Scale::to_natural`]) and
//! `SE(u)` from the covariance step: `SE(x) = |g'(u)|·SE(u)` (delta method),
//! `RSE = 100·SE(x)/|x|` (%), and the 95% interval `[g(u − z·SE(u)), g(u + z·SE(u))]` with
//! `z = Φ⁻¹(0.975)`, which stays inside the parameter's domain.

use super::scale::Scale;
use crate::normal::Z_975;

/// One estimated parameter on its natural scale.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    /// Parameter name (`analyte.sd` / `analyte.cv` for residual error parameters).
    pub name: String,
    /// Unit.
    pub unit: String,
    /// Estimate.
    pub value: f64,
    /// Standard error (delta method from the estimation scale); `None` without a covariance.
    pub se: Option<f64>,
    /// Relative standard error, `100·SE/|value|` (%).
    pub rse_percent: Option<f64>,
    /// 95% confidence interval: the limits on the estimation scale, transformed back (so it
    /// stays inside the parameter's domain and is asymmetric for log-scale parameters).
    pub ci95: Option<(f64, f64)>,
    /// Scale the parameter was estimated on.
    pub scale: Scale,
}

impl Estimate {
    /// The estimate `g(u)` of a parameter estimated as `u` on `scale`, with the standard
    /// error of `u` where the covariance step gave one.
    pub(crate) fn from_estimation_scale(
        name: String,
        unit: String,
        u: f64,
        se_u: Option<f64>,
        scale: Scale,
    ) -> Estimate {
        let value = scale.to_natural(u);
        let se = se_u.map(|s| s * scale.derivative(u).abs());
        Estimate {
            name,
            unit,
            value,
            se,
            rse_percent: se.map(|s| 100.0 * s / value.abs()),
            ci95: se_u.map(|s| {
                (
                    scale.to_natural(u - Z_975 * s),
                    scale.to_natural(u + Z_975 * s),
                )
            }),
            scale,
        }
    }
}
