//! The scale a parameter is estimated on: log for positive values, logit for fractions.
//!
//! An optimizer works on an unconstrained value `u`; the model sees `x = g(u)`, always
//! inside its domain. Standard errors are carried to the natural scale by the delta method
//! (`SE(x) = |g'(u)|·SE(u)`) and confidence limits by transforming the limits on `u`.

use crate::error::{Error, Result};
use crate::params::Domain;

/// How a parameter is mapped to the unconstrained estimation scale.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Scale {
    /// `u = x` (real parameters).
    Identity,
    /// `u = ln x` (positive parameters).
    Log,
    /// `u = ln(x / (1 − x))` (fractions).
    Logit,
    /// `u = ln(x − bound)` (parameters greater than a bound).
    LogAbove(f64),
}

impl Scale {
    /// The estimation scale for a parameter domain; [`Error::NotEstimable`] for `Integer` and
    /// `Fixed` parameters.
    ///
    /// # Errors
    /// [`Error::NotEstimable`] for `Integer` and `Fixed` parameters.
    ///
    /// ```
    /// use cart_pkpd::{fit::Scale, Domain};
    /// assert_eq!(Scale::for_domain("cmax", Domain::Positive).unwrap(), Scale::Log);
    /// assert!(Scale::for_domain("n_transit", Domain::Integer { min: 0, max: 50 }).is_err());
    /// ```
    pub fn for_domain(name: &str, domain: Domain) -> Result<Self> {
        match domain {
            Domain::Real => Ok(Scale::Identity),
            Domain::Positive | Domain::NonNegative => Ok(Scale::Log),
            Domain::Fraction => Ok(Scale::Logit),
            Domain::GreaterThan(b) => Ok(Scale::LogAbove(b)),
            Domain::Integer { .. } | Domain::Fixed => Err(Error::NotEstimable {
                name: name.to_owned(),
                reason: format!("its domain is {}", domain.describe()),
            }),
        }
    }

    /// `u` from `x`; [`Error::ParameterOutOfDomain`] when `x` is on the boundary or outside
    /// the open set the scale maps (for example a fraction of exactly 1).
    ///
    /// # Errors
    /// [`Error::ParameterOutOfDomain`] when `x` is on the boundary or outside the open set
    /// the scale maps.
    pub fn to_estimation(&self, name: &str, x: f64) -> Result<f64> {
        let u = match *self {
            Scale::Identity => x,
            Scale::Log => x.ln(),
            Scale::Logit => (x / (1.0 - x)).ln(),
            Scale::LogAbove(b) => (x - b).ln(),
        };
        if u.is_finite() {
            Ok(u)
        } else {
            Err(Error::ParameterOutOfDomain {
                name: name.to_owned(),
                value: x,
                reason: format!(
                    "an estimated parameter must start strictly inside its domain ({})",
                    self.describe()
                ),
            })
        }
    }

    /// `x` from `u`.
    pub fn to_natural(&self, u: f64) -> f64 {
        match *self {
            Scale::Identity => u,
            Scale::Log => u.exp(),
            Scale::Logit => 1.0 / (1.0 + (-u).exp()),
            Scale::LogAbove(b) => b + u.exp(),
        }
    }

    /// `dx/du` at `u`, for the delta method.
    pub fn derivative(&self, u: f64) -> f64 {
        match *self {
            Scale::Identity => 1.0,
            Scale::Log | Scale::LogAbove(_) => u.exp(),
            Scale::Logit => {
                let x = self.to_natural(u);
                x * (1.0 - x)
            }
        }
    }

    /// A short description, e.g. `"log"`.
    pub fn describe(&self) -> String {
        match *self {
            Scale::Identity => "identity".into(),
            Scale::Log => "log, x > 0".into(),
            Scale::Logit => "logit, 0 < x < 1".into(),
            Scale::LogAbove(b) => format!("log(x - {b}), x > {b}"),
        }
    }
}
