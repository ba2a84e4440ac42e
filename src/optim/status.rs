//! How a fit that ran to the end of its optimiser ended: an interior optimum, or an
//! estimate that is not one (a variance driven to zero, an unbounded likelihood, a
//! parameter the data do not determine).
//!
//! The checks, on the estimation scale (log for variances and positive parameters):
//! - **unbounded**: a residual-error parameter ended below `10⁻⁴` of its initial value —
//!   the model reproduces the data (nearly) exactly and −2LL falls without bound;
//! - **boundary**: a between-subject variance ended below `10⁻⁴` of its initial value, or a
//!   typical value moved by more than a factor `10⁶` from its initial value (a rate to 0 or
//!   ∞, a fraction to 0 or 1);
//! - **not identifiable**: the Hessian of −2LL at the optimum is not positive definite or
//!   is nearly singular (smallest eigenvalue below `10⁻⁸` of the largest); the parameters
//!   named are those that carry the flat directions.

use nalgebra::DMatrix;
use std::fmt;

/// Ratio to the initial value below which a variance (or residual error) counts as zero.
const ZERO_RATIO: f64 = 1e-4;

/// Change of a typical value from its initial value (a factor) beyond which it counts as
/// having gone to a boundary.
const BOUNDARY_FACTOR: f64 = 1e6;

/// Eigenvalue ratio below which the Hessian counts as singular.
const SINGULAR_RATIO: f64 = 1e-8;

/// How a fit ended.
///
/// ```
/// use cart_pkpd::fit::FitStatus;
/// assert!(FitStatus::Converged.is_converged());
/// let s = FitStatus::Unbounded { parameter: "cp.sd".into() };
/// assert!(!s.is_converged());
/// assert!(s.to_string().contains("cp.sd"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FitStatus {
    /// The optimiser converged to an interior optimum (with a positive definite Hessian,
    /// where the covariance step ran).
    Converged,
    /// Nothing was estimated: the objective evaluated at the given values.
    Evaluated,
    /// The likelihood is unbounded: this residual-error parameter went to 0 (the model
    /// reproduces the data exactly).
    Unbounded {
        /// The residual-error parameter.
        parameter: String,
    },
    /// These parameters went to a boundary of their domain (a variance to 0, a rate to 0
    /// or ∞).
    Boundary {
        /// The parameters.
        parameters: Vec<String>,
    },
    /// The data do not determine these parameters: −2LL is flat along directions that they
    /// carry.
    NotIdentifiable {
        /// The parameters.
        parameters: Vec<String>,
    },
}

impl FitStatus {
    /// Whether the estimates are an interior optimum (or a plain evaluation).
    pub fn is_converged(&self) -> bool {
        matches!(self, FitStatus::Converged | FitStatus::Evaluated)
    }
}

impl fmt::Display for FitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitStatus::Converged => write!(f, "converged"),
            FitStatus::Evaluated => write!(f, "evaluated (nothing estimated)"),
            FitStatus::Unbounded { parameter } => write!(
                f,
                "unbounded likelihood: `{parameter}` went to 0 (the model reproduces the data exactly)"
            ),
            FitStatus::Boundary { parameters } => {
                write!(f, "at a boundary: {}", parameters.join(", "))
            }
            FitStatus::NotIdentifiable { parameters } => {
                write!(f, "not identifiable: {}", parameters.join(", "))
            }
        }
    }
}

/// What an estimated parameter is, for the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A residual-error parameter (log scale).
    Residual,
    /// A between-subject variance, given on the log scale of its SD.
    Variance,
    /// A typical value or covariate coefficient.
    Typical,
    /// Not checked for boundaries (e.g. a covariance element).
    Other,
}

/// One estimated parameter: name, kind, initial and final value on the estimation scale.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Checked {
    pub name: String,
    pub kind: Kind,
    pub initial: f64,
    pub last: f64,
}

/// The status of a converged optimisation of `params`, with the Hessian of −2LL on the
/// estimation scale if the covariance step ran (`Some(None)`: it ran and failed).
pub(crate) fn classify(params: &[Checked], hessian: Option<Option<&DMatrix<f64>>>) -> FitStatus {
    if params.is_empty() {
        return FitStatus::Evaluated;
    }
    for p in params.iter().filter(|p| p.kind == Kind::Residual) {
        if p.last - p.initial < ZERO_RATIO.ln() {
            return FitStatus::Unbounded {
                parameter: p.name.clone(),
            };
        }
    }
    let boundary: Vec<String> = params
        .iter()
        .filter(|p| match p.kind {
            // the SD's log: a variance ratio of ZERO_RATIO is half that in log SD
            Kind::Variance => p.last - p.initial < 0.5 * ZERO_RATIO.ln(),
            Kind::Typical => (p.last - p.initial).abs() > BOUNDARY_FACTOR.ln(),
            _ => false,
        })
        .map(|p| p.name.clone())
        .collect();
    if !boundary.is_empty() {
        return FitStatus::Boundary {
            parameters: boundary,
        };
    }
    match hessian {
        Some(Some(h)) => match flat_directions(h) {
            flat if flat.is_empty() => FitStatus::Converged,
            flat => FitStatus::NotIdentifiable {
                parameters: flat.into_iter().map(|i| params[i].name.clone()).collect(),
            },
        },
        Some(None) => FitStatus::NotIdentifiable {
            parameters: params.iter().map(|p| p.name.clone()).collect(),
        },
        None => FitStatus::Converged,
    }
}

/// Indices of the parameters that carry the Hessian's flat or negative directions.
fn flat_directions(h: &DMatrix<f64>) -> Vec<usize> {
    let n = h.nrows();
    if n == 0 || h.iter().any(|v| !v.is_finite()) {
        return (0..n).collect();
    }
    let sym = (h + h.transpose()) * 0.5;
    let eigen = sym.symmetric_eigen();
    let largest = eigen.eigenvalues.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut out = Vec::new();
    for (k, &lambda) in eigen.eigenvalues.iter().enumerate() {
        if lambda > SINGULAR_RATIO * largest {
            continue;
        }
        let v = eigen.eigenvectors.column(k);
        let top = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for i in 0..n {
            if v[i].abs() >= 0.5 * top && !out.contains(&i) {
                out.push(i);
            }
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, kind: Kind, initial: f64, last: f64) -> Checked {
        Checked {
            name: name.into(),
            kind,
            initial,
            last,
        }
    }

    #[test]
    fn each_check_names_its_parameter() {
        let ok = [
            p("cl", Kind::Typical, 0.0, 2.0),
            p("sd", Kind::Residual, 0.0, -3.0),
        ];
        assert_eq!(classify(&ok, None), FitStatus::Converged);
        let unbounded = [
            p("cl", Kind::Typical, 0.0, 2.0),
            p("sd", Kind::Residual, 0.0, -690.0),
        ];
        assert_eq!(
            classify(&unbounded, None),
            FitStatus::Unbounded {
                parameter: "sd".into()
            }
        );
        // ω² from 0.1 to 1e-6: log SD falls by ln(1e5)/2
        let boundary = [p(
            "omega",
            Kind::Variance,
            0.5 * 0.1f64.ln(),
            0.5 * 1e-6f64.ln(),
        )];
        assert_eq!(
            classify(&boundary, None),
            FitStatus::Boundary {
                parameters: vec!["omega".into()]
            }
        );
        let h = DMatrix::from_row_slice(2, 2, &[4.0, 0.0, 0.0, 1e-12]);
        let flat = [
            p("a", Kind::Typical, 0.0, 0.1),
            p("b", Kind::Typical, 0.0, 0.1),
        ];
        assert_eq!(
            classify(&flat, Some(Some(&h))),
            FitStatus::NotIdentifiable {
                parameters: vec!["b".into()]
            }
        );
        assert_eq!(classify(&[], None), FitStatus::Evaluated);
    }
}
