//! How the reports print numbers: with a fixed number of decimals where that shows at
//! least 3 significant digits, in scientific notation otherwise — so that an estimate of
//! `2e-9` does not print as `0.000000`, nor one of `4e153` as 154 digits.

/// `v` with `places` decimals when `10^(2 − places) ≤ |v| < 10⁷` (at least 3 significant
/// digits), when it is 0 or when it is not finite; otherwise as `d.ddd…e±x` with `places`
/// decimals in the mantissa.
pub(crate) fn decimals(v: f64, places: usize) -> String {
    let a = v.abs();
    let smallest = 10f64.powi(2 - places as i32);
    if a == 0.0 || !a.is_finite() || (smallest..1e7).contains(&a) {
        format!("{v:.places$}")
    } else {
        format!("{v:.places$e}")
    }
}

/// [`decimals`] of a value that may be missing (`-`).
pub(crate) fn optional(v: Option<f64>, places: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| decimals(v, places))
}

/// An interval `[a, b]` with [`decimals`] for both ends, or `-`.
pub(crate) fn interval(ci: Option<(f64, f64)>, places: usize) -> String {
    ci.map_or_else(
        || "-".to_owned(),
        |(a, b)| format!("[{}, {}]", decimals(a, places), decimals(b, places)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_where_it_shows_three_digits_scientific_elsewhere() {
        // the fixed form of ordinary values, as before
        assert_eq!(decimals(2.780118, 6), "2.780118");
        assert_eq!(decimals(0.00159, 5), "0.00159");
        assert_eq!(decimals(120029.7, 1), "120029.7");
        assert_eq!(decimals(-0.000123, 6), "-0.000123");
        // values the fixed form would reduce to fewer than 3 digits, or blow up
        assert_eq!(decimals(2.0e-9, 6), "2.000000e-9");
        assert_eq!(decimals(-1.234e-5, 6), "-1.234000e-5");
        assert_eq!(decimals(0.0004, 5), "4.00000e-4");
        assert_eq!(decimals(4.285896678e153, 6), "4.285897e153");
        assert_eq!(decimals(12_345_678.9, 4), "1.2346e7");
        // 0 and non-finite values keep their usual form
        assert_eq!(decimals(0.0, 6), "0.000000");
        assert_eq!(decimals(f64::NAN, 6), "NaN");
        assert_eq!(decimals(f64::INFINITY, 6), "inf");
        assert_eq!(optional(None, 5), "-");
        assert_eq!(interval(Some((1e-9, 0.5)), 5), "[1.00000e-9, 0.50000]");
    }
}
