//! How one optimisation run ended, as a type (argmin's `TerminationReason`, widened by the
//! outcomes this crate's searches add: restarts still improving, an objective that cannot
//! be evaluated, nothing to estimate).

use argmin::core::{State, TerminationReason, TerminationStatus};
use std::fmt;

/// How an optimisation run ended.
///
/// ```
/// use cart_pkpd::fit::Termination;
/// assert!(Termination::Converged.is_converged());
/// let t = Termination::StillImproving { restarts: 6 };
/// assert!(!t.is_converged());
/// assert_eq!(t.to_string(), "still improving after 6 restarts");
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Termination {
    /// The optimiser's convergence criterion was met.
    Converged,
    /// Nothing was estimated: the objective was evaluated once, at the given values.
    NothingToEstimate,
    /// The iteration budget ran out first.
    MaxIterations,
    /// Restarted Nelder–Mead still lowered the objective at its last allowed restart.
    StillImproving {
        /// Restarts run.
        restarts: usize,
    },
    /// The objective is not finite at the start (or, with nothing to estimate, at the given
    /// values): the model cannot be evaluated there.
    NotEvaluable,
    /// The solver stopped without converging, for the reason it gives.
    Stopped {
        /// The solver's reason.
        reason: String,
    },
    /// The optimiser failed with an error.
    Failed {
        /// The error.
        error: String,
    },
}

impl Termination {
    /// Whether the run reached an optimum (or had nothing to estimate).
    pub fn is_converged(&self) -> bool {
        matches!(
            self,
            Termination::Converged | Termination::NothingToEstimate
        )
    }
}

impl From<&TerminationStatus> for Termination {
    fn from(status: &TerminationStatus) -> Self {
        match status {
            TerminationStatus::Terminated(TerminationReason::SolverConverged) => {
                Termination::Converged
            }
            TerminationStatus::Terminated(TerminationReason::MaxItersReached) => {
                Termination::MaxIterations
            }
            TerminationStatus::Terminated(r) => Termination::Stopped {
                reason: r.text().to_owned(),
            },
            TerminationStatus::NotTerminated => Termination::Stopped {
                reason: "not terminated".into(),
            },
        }
    }
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Termination::Converged => write!(f, "converged"),
            Termination::NothingToEstimate => write!(f, "evaluated (nothing to estimate)"),
            Termination::MaxIterations => write!(f, "maximum number of iterations reached"),
            Termination::StillImproving { restarts } => {
                write!(f, "still improving after {restarts} restarts")
            }
            Termination::NotEvaluable => {
                write!(f, "the model cannot be evaluated at the given values")
            }
            Termination::Stopped { reason } => write!(f, "{reason}"),
            Termination::Failed { error } => write!(f, "failed: {error}"),
        }
    }
}

/// What one run of an optimiser reached, on the estimation scale.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StartOutcome {
    /// Where the run started.
    pub initial: Vec<f64>,
    /// The best point reached.
    pub theta: Vec<f64>,
    /// The objective there.
    pub minus_two_ll: f64,
    pub iterations: u64,
    /// Objective evaluations (filled in by the caller, which counts them).
    pub evaluations: u64,
    pub termination: Termination,
}

/// The best point of a solver's run from `initial` (`initial` where it has none).
pub(crate) fn best_point<S: State<Param = Vec<f64>>>(state: &S, initial: &[f64]) -> Vec<f64> {
    state
        .get_best_param()
        .cloned()
        .unwrap_or_else(|| initial.to_vec())
}

impl StartOutcome {
    /// A run that failed before it began (recorded, not propagated, in a multi-start).
    pub fn failed(initial: &[f64], error: impl fmt::Display) -> Self {
        StartOutcome {
            initial: initial.to_vec(),
            theta: initial.to_vec(),
            minus_two_ll: f64::INFINITY,
            iterations: 0,
            evaluations: 0,
            termination: Termination::Failed {
                error: error.to_string(),
            },
        }
    }

    /// Whether the run reached an optimum.
    pub fn converged(&self) -> bool {
        self.termination.is_converged()
    }
}
