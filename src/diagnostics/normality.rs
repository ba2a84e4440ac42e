//! The Shapiro–Wilk test of normality (statrs, the crate's statistics dependency, has no
//! test of normality; this follows Royston's approximation, AS R94, as R's `shapiro.test`
//! and SciPy's `shapiro` do).
//!
//! With `mᵢ = Φ⁻¹((i − 3/8)/(n + 1/4))`, the coefficients `aᵢ` are `mᵢ/√φ`, the two most
//! extreme corrected by Royston's polynomials in `u = 1/√n`;
//! `W = (Σ aᵢ x₍ᵢ₎)² / Σ (xᵢ − x̄)²`. The p-value is `1 − Φ(z)` for a normalising
//! transformation of `W`: `ln(1 − W)` for `n ≥ 12`, `−ln(γ − ln(1 − W))` for
//! `4 ≤ n ≤ 11`, exact for `n = 3`.

use statrs::distribution::{ContinuousCDF, Normal};

/// The result of a Shapiro–Wilk test.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShapiroWilk {
    /// The statistic `W` (1 for a perfectly normal sample).
    pub w: f64,
    /// The p-value of the null hypothesis that the sample is normal.
    pub p_value: f64,
}

fn poly(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * x + k)
}

/// Shapiro–Wilk test of `x`; `None` for fewer than 3 or more than 5000 values, a value
/// that is not finite, or a sample without spread.
///
/// ```
/// use cart_pkpd::diagnostics::shapiro_wilk;
/// let t = shapiro_wilk(&[148.0, 154.0, 158.0, 160.0, 161.0, 162.0, 166.0, 170.0, 182.0, 195.0, 236.0]).unwrap();
/// assert!(t.w < 0.8 && t.p_value < 0.01);   // the skewed weights of Shapiro & Wilk (1965)
/// ```
pub fn shapiro_wilk(x: &[f64]) -> Option<ShapiroWilk> {
    let n = x.len();
    if !(3..=5000).contains(&n) || x.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let std = Normal::new(0.0, 1.0).ok()?;
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let ss: f64 = sorted.iter().map(|v| (v - mean).powi(2)).sum();
    if ss <= 0.0 {
        return None;
    }
    let nf = n as f64;
    let a = coefficients(n, &std);
    let b: f64 = a.iter().zip(&sorted).map(|(a, x)| a * x).sum();
    let w = (b * b / ss).min(1.0);
    let p_value = if n == 3 {
        (6.0 / std::f64::consts::PI * (w.sqrt().asin() - 0.75f64.sqrt().asin())).max(0.0)
    } else if n <= 11 {
        let gamma = poly(&[-2.273, 0.459], nf);
        let mu = poly(&[0.544, -0.39978, 0.025054, -6.714e-4], nf);
        let sigma = poly(&[1.3822, -0.77857, 0.062767, -0.0020322], nf).exp();
        let z = (-(gamma - (1.0 - w).ln()).ln() - mu) / sigma;
        1.0 - std.cdf(z)
    } else {
        let ln_n = nf.ln();
        let mu = poly(&[-1.5861, -0.31082, -0.083751, 0.0038915], ln_n);
        let sigma = poly(&[-0.4803, -0.082676, 0.0030302], ln_n).exp();
        1.0 - std.cdf(((1.0 - w).ln() - mu) / sigma)
    };
    Some(ShapiroWilk {
        w,
        p_value: p_value.clamp(0.0, 1.0),
    })
}

/// Royston's coefficients `a₁ … aₙ` (antisymmetric).
fn coefficients(n: usize, std: &Normal) -> Vec<f64> {
    let nf = n as f64;
    if n == 3 {
        let r = std::f64::consts::FRAC_1_SQRT_2;
        return vec![-r, 0.0, r];
    }
    let m: Vec<f64> = (1..=n)
        .map(|i| std.inverse_cdf((i as f64 - 0.375) / (nf + 0.25)))
        .collect();
    let mm: f64 = m.iter().map(|v| v * v).sum();
    let u = 1.0 / nf.sqrt();
    let an = m[n - 1] / mm.sqrt()
        + poly(
            &[0.0, 0.221157, -0.147981, -2.07119, 4.434685, -2.706056],
            u,
        );
    let mut a = vec![0.0; n];
    if n > 5 {
        let an1 = m[n - 2] / mm.sqrt()
            + poly(
                &[0.0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633],
                u,
            );
        let phi = (mm - 2.0 * m[n - 1].powi(2) - 2.0 * m[n - 2].powi(2))
            / (1.0 - 2.0 * an * an - 2.0 * an1 * an1);
        for i in 2..n - 2 {
            a[i] = m[i] / phi.sqrt();
        }
        a[n - 2] = an1;
        a[1] = -an1;
    } else {
        let phi = (mm - 2.0 * m[n - 1].powi(2)) / (1.0 - 2.0 * an * an);
        for i in 1..n - 1 {
            a[i] = m[i] / phi.sqrt();
        }
    }
    a[n - 1] = an;
    a[0] = -an;
    a
}
