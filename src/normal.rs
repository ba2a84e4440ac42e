//! The standard normal distribution: log-CDF accurate into the far tails (for M3 censoring),
//! and the quantile used for confidence intervals.

use std::f64::consts::{PI, SQRT_2};

/// `ln 2π`, the constant of each Gaussian term of −2 log-likelihood (NONMEM's OFV leaves it
/// out).
pub const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// The 97.5th percentile of the standard normal, for two-sided 95% intervals.
pub const Z_975: f64 = 1.959_963_984_540_054;

/// `ln Φ(x)`, the log of the standard normal CDF, to about 1e-14 relative for all finite `x`.
///
/// Uses `erfc` (libm) where it does not underflow, `ln_1p` for `x > 0`, and the asymptotic
/// Mills-ratio series below `x = −37`, where `Φ(x)` itself underflows.
///
/// ```
/// use cart_pkpd::normal::ln_normal_cdf;
/// assert!((ln_normal_cdf(0.0) - 0.5f64.ln()).abs() < 1e-15);
/// assert!((ln_normal_cdf(-40.0) + 804.608_442_013_753_8).abs() < 1e-9);
/// ```
pub fn ln_normal_cdf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < -37.0 {
        // Φ(x) = φ(x)/(−x) · (1 − 1/x² + 3/x⁴ − 15/x⁶ + 105/x⁸ − 945/x¹⁰ + …)
        let z = 1.0 / (x * x);
        let series =
            1.0 - z * (1.0 - 3.0 * z * (1.0 - 5.0 * z * (1.0 - 7.0 * z * (1.0 - 9.0 * z))));
        -0.5 * x * x - (-x).ln() - 0.5 * (2.0 * PI).ln() + series.ln()
    } else if x < 0.0 {
        (0.5 * libm::erfc(-x / SQRT_2)).ln()
    } else {
        (-0.5 * libm::erfc(x / SQRT_2)).ln_1p()
    }
}

/// `Φ(x)`, the standard normal CDF.
///
/// ```
/// use cart_pkpd::normal::normal_cdf;
/// assert!((normal_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-15);
/// ```
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / SQRT_2)
}
