//! Residual error models and their likelihood, with M3 censoring.
//!
//! With prediction `f` and observation `y` of one analyte:
//!
//! | model | `y =` | SD of the residual |
//! |---|---|---|
//! | [`Additive`](ErrorModel::Additive) | `f + ε` | `sd` (analyte unit) |
//! | [`Proportional`](ErrorModel::Proportional) | `f·(1 + ε)` | `cv·f` |
//! | [`Combined`](ErrorModel::Combined) | `f + ε` | `√(sd² + (cv·f)²)` (variances add, Monolix "combined2") |
//! | [`LogAdditive`](ErrorModel::LogAdditive) | `f·exp(ε)` | `sd` on the ln scale (Stein 2019: 0.56 for transgene) |
//!
//! A quantified observation contributes `−2 ln L = ln(2π) + 2 ln s + ((y − f)/s)²` (for
//! the log-additive model on the ln scale: `y → ln y`, `f → ln f`, no Jacobian, as NONMEM
//! with a log-transformed DV). A censored one (below its LLOQ) contributes, by the M3
//! method of Beal (2001), `−2 ln Φ((LLOQ − f)/s)`, or `−2 ln Φ((ln LLOQ − ln f)/s)`.

use crate::error::{Error, Result};
use crate::normal::ln_normal_cdf;
use rand::Rng;
use rand_distr::StandardNormal;

use crate::normal::LN_2PI;

/// A residual error model for one analyte. Parameters are > 0.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ErrorModel {
    /// Constant SD `sd`, in the analyte's unit.
    Additive {
        /// Residual SD (analyte unit).
        sd: f64,
    },
    /// SD proportional to the prediction: `cv·f` (`cv` as a fraction, 0.2 = 20%).
    Proportional {
        /// Coefficient of variation (fraction).
        cv: f64,
    },
    /// SD `√(sd² + (cv·f)²)`.
    Combined {
        /// Additive SD (analyte unit).
        sd: f64,
        /// Proportional CV (fraction).
        cv: f64,
    },
    /// Normal on the ln scale with SD `sd`.
    LogAdditive {
        /// Residual SD on the ln scale.
        sd: f64,
    },
}

impl ErrorModel {
    /// Names of the model's parameters, in [`values`](ErrorModel::values) order.
    pub fn param_names(&self) -> &'static [&'static str] {
        match self {
            ErrorModel::Additive { .. } | ErrorModel::LogAdditive { .. } => &["sd"],
            ErrorModel::Proportional { .. } => &["cv"],
            ErrorModel::Combined { .. } => &["sd", "cv"],
        }
    }

    /// Parameter values, in [`param_names`](ErrorModel::param_names) order.
    pub fn values(&self) -> Vec<f64> {
        match *self {
            ErrorModel::Additive { sd } | ErrorModel::LogAdditive { sd } => vec![sd],
            ErrorModel::Proportional { cv } => vec![cv],
            ErrorModel::Combined { sd, cv } => vec![sd, cv],
        }
    }

    /// The same kind of model with new parameter values, validated (> 0, finite).
    ///
    /// # Errors
    /// [`Error::ParameterCount`] for the wrong number of values, [`Error::ParameterOutOfDomain`] for a value that is not
    /// finite and > 0.
    ///
    /// ```
    /// use cart_pkpd::ErrorModel;
    /// let m = ErrorModel::Combined { sd: 1.0, cv: 0.1 }.with_values(&[2.0, 0.2]).unwrap();
    /// assert_eq!(m, ErrorModel::Combined { sd: 2.0, cv: 0.2 });
    /// assert!(ErrorModel::Additive { sd: 1.0 }.with_values(&[-1.0]).is_err());
    /// ```
    pub fn with_values(&self, v: &[f64]) -> Result<Self> {
        let names = self.param_names();
        if v.len() != names.len() {
            return Err(Error::ParameterCount {
                expected: names.len(),
                got: v.len(),
            });
        }
        for (name, &x) in names.iter().zip(v) {
            if !(x.is_finite() && x > 0.0) {
                return Err(Error::ParameterOutOfDomain {
                    name: (*name).to_owned(),
                    value: x,
                    reason: "residual error parameters must be finite and > 0".into(),
                });
            }
        }
        Ok(match self {
            ErrorModel::Additive { .. } => ErrorModel::Additive { sd: v[0] },
            ErrorModel::Proportional { .. } => ErrorModel::Proportional { cv: v[0] },
            ErrorModel::Combined { .. } => ErrorModel::Combined { sd: v[0], cv: v[1] },
            ErrorModel::LogAdditive { .. } => ErrorModel::LogAdditive { sd: v[0] },
        })
    }

    /// Checks the parameters (finite, > 0).
    ///
    /// # Errors
    /// [`Error::ParameterOutOfDomain`] for a parameter that is not finite and > 0.
    pub fn validate(&self) -> Result<()> {
        self.with_values(&self.values()).map(|_| ())
    }

    /// Whether the model works on the ln scale (needs positive observations and predictions).
    pub fn is_log_scale(&self) -> bool {
        matches!(self, ErrorModel::LogAdditive { .. })
    }

    /// Maps a value to the scale the residual is normal on (ln for log-additive).
    pub fn transform(&self, v: f64) -> f64 {
        if self.is_log_scale() { v.ln() } else { v }
    }

    /// The inverse of [`transform`](Self::transform).
    pub(crate) fn untransform(&self, q: f64) -> f64 {
        if self.is_log_scale() { q.exp() } else { q }
    }

    /// SD of the residual at prediction `pred`, on the model's scale.
    pub fn sd(&self, pred: f64) -> f64 {
        match *self {
            ErrorModel::Additive { sd } | ErrorModel::LogAdditive { sd } => sd,
            ErrorModel::Proportional { cv } => cv * pred.abs(),
            ErrorModel::Combined { sd, cv } => sd.hypot(cv * pred),
        }
    }

    /// `−2 ln` of the density of a quantified observation `obs` given `pred` (includes
    /// `ln 2π`). Infinite when the observation is impossible under the model (for example a
    /// prediction of 0 with a proportional or log model).
    ///
    /// ```
    /// use cart_pkpd::ErrorModel;
    /// let m = ErrorModel::Additive { sd: 2.0 };
    /// let expected = (2.0 * std::f64::consts::PI).ln() + 2.0 * 2f64.ln() + 1.0;
    /// assert!((m.minus_two_ll(12.0, 10.0) - expected).abs() < 1e-14);
    /// ```
    pub fn minus_two_ll(&self, obs: f64, pred: f64) -> f64 {
        let s = self.sd(pred);
        let r = self.transform(obs) - self.transform(pred);
        if !(s > 0.0 && r.is_finite()) {
            return f64::INFINITY;
        }
        LN_2PI + 2.0 * s.ln() + (r / s) * (r / s)
    }

    /// The least `−2 ln` density a quantified observation `obs` can have at any prediction
    /// (with `ln 2π`): `2 ln sd` for the additive and log-additive models, `2 ln sd` as a
    /// bound for the combined one (its SD is at least `sd`), and for the proportional one
    /// `2 ln(cv·|obs|) − 2 ln u + (u − 1)²/cv²` at the best ratio `u = obs/f =
    /// (1 + √(1 + 4cv²))/2` (`−∞` for `obs = 0`, which a prediction near 0 fits without
    /// bound).
    pub(crate) fn minus_two_ll_floor(&self, obs: f64) -> f64 {
        match *self {
            ErrorModel::Additive { sd }
            | ErrorModel::LogAdditive { sd }
            | ErrorModel::Combined { sd, .. } => LN_2PI + 2.0 * sd.ln(),
            ErrorModel::Proportional { cv } if obs != 0.0 => {
                let u = 0.5 * (1.0 + (1.0 + 4.0 * cv * cv).sqrt());
                LN_2PI + 2.0 * (cv * obs.abs()).ln() - 2.0 * u.ln() + (u - 1.0).powi(2) / (cv * cv)
            }
            ErrorModel::Proportional { .. } => f64::NEG_INFINITY,
        }
    }

    /// `−2 ln P(y < lloq)` given `pred`: the M3 contribution of a censored observation.
    ///
    /// ```
    /// use cart_pkpd::ErrorModel;
    /// // a prediction exactly at the LLOQ: P = 1/2
    /// let m = ErrorModel::LogAdditive { sd: 0.56 };
    /// assert!((m.minus_two_ll_censored(5.0, 5.0) - 2.0 * 2f64.ln()).abs() < 1e-14);
    /// ```
    pub fn minus_two_ll_censored(&self, lloq: f64, pred: f64) -> f64 {
        let s = self.sd(pred);
        if self.is_log_scale() && pred <= 0.0 {
            return 0.0; // the prediction is at zero: certainly below any positive LLOQ
        }
        if s.is_nan() || s <= 0.0 {
            return if pred < lloq { 0.0 } else { f64::INFINITY };
        }
        -2.0 * ln_normal_cdf((self.transform(lloq) - self.transform(pred)) / s)
    }

    /// Individual weighted residual `(y − f)/s` on the model's scale (IWRES).
    pub fn weighted_residual(&self, obs: f64, pred: f64) -> f64 {
        (self.transform(obs) - self.transform(pred)) / self.sd(pred)
    }

    /// Draws an observation around `pred` from this error model.
    pub fn sample<R: Rng + ?Sized>(&self, pred: f64, rng: &mut R) -> f64 {
        let z: f64 = rng.sample(StandardNormal);
        match self {
            ErrorModel::LogAdditive { sd } => pred * (sd * z).exp(),
            _ => pred + self.sd(pred) * z,
        }
    }
}
