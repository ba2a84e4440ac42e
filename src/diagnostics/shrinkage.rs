//! Shrinkage as NONMEM reports it (`ETASHRINKSD`, `ETASHRINKVR`, `EPSSHRINKSD`).
//!
//! Under the model, `η ~ N(0, ω²)` and `IWRES ~ N(0, 1)`, so the spread of the EBEs and of
//! the individual weighted residuals is measured about 0 with the `n` divisor (the second
//! moment, not the centred sample variance):
//!
//! - η-shrinkage (SD): `1 − √(Σᵢ η̂ᵢ² / n) / ω`;
//! - η-shrinkage (variance): `1 − (Σᵢ η̂ᵢ² / n) / ω² = 1 − (1 − shrinkage_SD)²`;
//! - ε-shrinkage (SD): `1 − √(Σⱼ IWRESⱼ² / m)` over the `m` quantified observations.
//!
//! All three are fractions (multiply by 100 for %). Shrinkage near 0 means the EBEs (or
//! IWRES) spread as the model says; above 0.2–0.3, individual-level diagnostics (EBE–
//! covariate plots, IWRES) lose their power (Savic & Karlsson, AAPS J 2009). Slightly
//! negative values are sampling noise.

/// `1 − √(Σ η̂² / n) / ω` for the EBEs `etas` of one random effect with variance `omega`;
/// `None` without EBEs or with `omega ≤ 0`.
///
/// ```
/// use cart_pkpd::diagnostics::eta_shrinkage_sd;
/// // Σ η² = 0.30 over 4 subjects: RMS 0.27386; ω = 0.3
/// let s = eta_shrinkage_sd(&[0.3, -0.1, 0.2, -0.4], 0.09).unwrap();
/// assert!((s - (1.0 - 0.075f64.sqrt() / 0.3)).abs() < 1e-12);
/// ```
pub fn eta_shrinkage_sd(etas: &[f64], omega: f64) -> Option<f64> {
    (omega > 0.0).then_some(())?;
    Some(1.0 - root_mean_square(etas)? / omega.sqrt())
}

/// `1 − (Σ η̂² / n) / ω²`: η-shrinkage on the variance scale; `None` as
/// [`eta_shrinkage_sd`].
pub fn eta_shrinkage_var(etas: &[f64], omega: f64) -> Option<f64> {
    let sd = eta_shrinkage_sd(etas, omega)?;
    Some(1.0 - (1.0 - sd).powi(2))
}

/// `1 − √(Σ IWRES² / m)` over quantified observations' IWRES; `None` without any.
///
/// ```
/// use cart_pkpd::diagnostics::epsilon_shrinkage_sd;
/// assert!((epsilon_shrinkage_sd(&[1.0, -1.0, 1.0, -1.0]).unwrap()).abs() < 1e-15);
/// assert!((epsilon_shrinkage_sd(&[0.5, -0.5]).unwrap() - 0.5).abs() < 1e-15);
/// ```
pub fn epsilon_shrinkage_sd(iwres: &[f64]) -> Option<f64> {
    Some(1.0 - root_mean_square(iwres)?)
}

/// `√(Σ x² / n)`, `None` for no values.
fn root_mean_square(x: &[f64]) -> Option<f64> {
    (!x.is_empty()).then(|| (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_centred_n_minus_1_sd_is_not_what_nonmem_reports() {
        // EBEs that spread exactly as ω says (RMS = ω): zero shrinkage, whatever their mean
        let etas = [0.3, -0.3, 0.3, -0.3, 0.3];
        assert!(eta_shrinkage_sd(&etas, 0.09).unwrap().abs() < 1e-12);
        // the centred sample SD with n − 1 would report a negative shrinkage here
        let mean = etas.iter().sum::<f64>() / 5.0;
        let sd = (etas.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / 4.0).sqrt();
        assert!(1.0 - sd / 0.3 < -0.01);
        let v = eta_shrinkage_var(&[0.15, -0.15], 0.09).unwrap();
        assert!((v - 0.75).abs() < 1e-12);
        assert_eq!(eta_shrinkage_sd(&[], 0.09), None);
        assert_eq!(eta_shrinkage_sd(&[0.1], 0.0), None);
    }
}
