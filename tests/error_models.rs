//! The normal log-CDF against 50-digit mpmath values, and the residual error models'
//! likelihoods and sampling against their definitions.

// Reference values are quoted to the 20 digits mpmath printed; f64 keeps what it can.
#![allow(clippy::excessive_precision, clippy::approx_constant)]

use approx::assert_relative_eq;
use cart_pkpd::ErrorModel;
use cart_pkpd::normal::ln_normal_cdf;
use rand::SeedableRng;

#[test]
fn ln_normal_cdf_matches_mpmath_from_the_far_left_tail_to_the_right() {
    // mpmath.log(mpmath.ncdf(x)) at 50 digits
    let reference = [
        (-40.0, -804.608_442_013_753_788_17),
        (-37.5, -707.668_989_317_507_191_07),
        (-30.0, -454.321_243_956_343_197_11),
        (-10.0, -53.231_285_150_512_470_578),
        (-5.0, -15.064_998_393_988_725_736),
        (-1.0, -1.841_021_645_009_263_505_8),
        (0.0, -0.693_147_180_559_945_309_42),
        (1.0, -0.172_753_779_023_449_889_53),
        (3.0, -0.001_350_809_964_748_193_798_8),
        (8.0, -6.220_960_574_271_786_058_5e-16),
        (12.0, -1.776_482_112_077_678_997_8e-33),
    ];
    for (x, want) in reference {
        assert_relative_eq!(ln_normal_cdf(x), want, max_relative = 1e-13);
    }
    // continuous across the switch to the asymptotic series
    assert_relative_eq!(
        ln_normal_cdf(-37.0f64.next_down()),
        ln_normal_cdf(-37.0),
        max_relative = 1e-13
    );
}

#[test]
fn densities_follow_their_definitions() {
    let ln2pi = (2.0 * std::f64::consts::PI).ln();
    let (y, f) = (130.0, 100.0);
    let prop = ErrorModel::Proportional { cv: 0.2 };
    assert_relative_eq!(
        prop.minus_two_ll(y, f),
        ln2pi + 2.0 * 20f64.ln() + 1.5f64.powi(2),
        max_relative = 1e-14
    );
    let comb = ErrorModel::Combined { sd: 15.0, cv: 0.2 };
    assert_relative_eq!(comb.sd(f), 25.0, max_relative = 1e-14);
    assert_relative_eq!(
        comb.minus_two_ll(y, f),
        ln2pi + 2.0 * 25f64.ln() + 1.2f64.powi(2),
        max_relative = 1e-14
    );
    let log = ErrorModel::LogAdditive { sd: 0.56 };
    let r = (1.3f64).ln() / 0.56;
    assert_relative_eq!(
        log.minus_two_ll(y, f),
        ln2pi + 2.0 * 0.56f64.ln() + r * r,
        max_relative = 1e-14
    );
    assert_relative_eq!(log.weighted_residual(y, f), r, max_relative = 1e-14);
    // impossible observations cost +inf rather than NaN
    assert_eq!(log.minus_two_ll(y, 0.0), f64::INFINITY);
    assert_eq!(prop.minus_two_ll(y, 0.0), f64::INFINITY);
}

#[test]
fn censored_contribution_is_minus_two_ln_phi() {
    let add = ErrorModel::Additive { sd: 2.0 };
    // P(y < 10 | f = 12, sd 2) = Φ(−1) = 0.158655253931457
    assert_relative_eq!(
        add.minus_two_ll_censored(10.0, 12.0),
        -2.0 * 0.158_655_253_931_457_05f64.ln(),
        max_relative = 1e-13
    );
    let log = ErrorModel::LogAdditive { sd: 0.5 };
    // ln LLOQ − ln f = −2·0.5 → Φ(−2) = 0.022750131948179195
    let f = 5.0 * 1f64.exp();
    assert_relative_eq!(
        log.minus_two_ll_censored(5.0, f),
        -2.0 * 0.022_750_131_948_179_195f64.ln(),
        max_relative = 1e-12
    );
    // a prediction at zero is surely below a positive LLOQ
    assert_eq!(log.minus_two_ll_censored(5.0, 0.0), 0.0);
}

#[test]
fn draws_have_the_model_mean_and_sd() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let n = 200_000;
    let moments = |m: ErrorModel, rng: &mut rand_chacha::ChaCha8Rng, log: bool| {
        let v: Vec<f64> = (0..n)
            .map(|_| m.sample(100.0, rng))
            .map(|y| if log { y.ln() } else { y })
            .collect();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
        (mean, var.sqrt())
    };
    // standard errors of the mean and SD are sd/√n and sd/√(2n): 4 of them is the bound
    let (m, s) = moments(ErrorModel::Combined { sd: 15.0, cv: 0.2 }, &mut rng, false);
    assert!((m - 100.0).abs() < 4.0 * 25.0 / (n as f64).sqrt(), "{m}");
    assert!(
        (s - 25.0).abs() < 4.0 * 25.0 / (2.0 * n as f64).sqrt(),
        "{s}"
    );
    let (m, s) = moments(ErrorModel::LogAdditive { sd: 0.56 }, &mut rng, true);
    assert!(
        (m - 100f64.ln()).abs() < 4.0 * 0.56 / (n as f64).sqrt(),
        "{m}"
    );
    assert!(
        (s - 0.56).abs() < 4.0 * 0.56 / (2.0 * n as f64).sqrt(),
        "{s}"
    );
}

#[test]
fn error_parameters_must_be_positive() {
    for bad in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        assert!(
            ErrorModel::LogAdditive { sd: bad }.validate().is_err(),
            "{bad}"
        );
    }
    assert!(
        ErrorModel::Combined { sd: 1.0, cv: 0.1 }
            .with_values(&[1.0])
            .is_err()
    );
}
