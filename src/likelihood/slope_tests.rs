//! Checks of the closed-form slope of an observation's −2 ln L term
//! ([`Obs::constant_variance_slope`]) against a central difference of the term.

use super::Obs;
use crate::error_model::ErrorModel;

fn obs(value: f64, censored: bool) -> Obs {
    Obs {
        time: 1.0,
        observation: 0,
        output: 0,
        error: 0,
        value,
        lloq: censored.then_some(value),
        censored,
    }
}

#[test]
fn constant_variance_slopes_match_differences_of_the_term() {
    for m in [
        ErrorModel::Additive { sd: 0.7 },
        ErrorModel::LogAdditive { sd: 0.3 },
    ] {
        let errors = [m];
        for (value, pred) in [(2.0, 1.5), (350.0, 420.0), (0.01, 0.02)] {
            let o = obs(value, false);
            let q = m.transform(pred);
            let t = |q: f64| o.term(&errors, if m.is_log_scale() { q.exp() } else { q });
            let h = 1e-4 * (1.0 + q.abs());
            let difference = (t(q + h) - t(q - h)) / (2.0 * h);
            let slope = o
                .constant_variance_slope(&errors, q)
                .expect("a closed form");
            assert!(
                (slope - difference).abs() <= 1e-7 * (1.0 + difference.abs()),
                "{m:?}, {value} at {pred}: {slope} vs {difference}"
            );
        }
    }
    // none where the SD moves with the prediction, or for a censored observation
    let proportional = [ErrorModel::Proportional { cv: 0.2 }];
    assert_eq!(
        obs(2.0, false).constant_variance_slope(&proportional, 1.5),
        None
    );
    let additive = [ErrorModel::Additive { sd: 0.7 }];
    assert_eq!(obs(2.0, true).constant_variance_slope(&additive, 1.5), None);
}
