//! The crate's error type.
//!
//! Every fallible function returns [`Result<T>`](Result). Each variant names what went wrong
//! (which parameter, subject, row, column) and why, so that a user can fix the input without
//! reading the library's source.

use std::fmt;

/// Shorthand for `std::result::Result<T, cart_pkpd::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in `cart-pkpd`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter value lies outside its domain (for example a negative rate constant).
    #[error("parameter `{name}` = {value} is invalid: {reason}")]
    ParameterOutOfDomain {
        /// Parameter name, as in the model's specification.
        name: String,
        /// The offending value.
        value: f64,
        /// Why it is invalid (the domain it must lie in).
        reason: String,
    },

    /// A parameter name that the model does not have.
    #[error("model has no parameter named `{name}` (known: {known})")]
    UnknownParameter {
        /// The name that was asked for.
        name: String,
        /// The model's parameter names, comma-separated.
        known: String,
    },

    /// A vector of parameter values has the wrong length.
    #[error("expected {expected} parameter values, got {got}")]
    ParameterCount {
        /// Number of parameters of the model.
        expected: usize,
        /// Number of values supplied.
        got: usize,
    },

    /// An analyte (model output) that the model or the data set does not know.
    #[error("unknown analyte `{name}`{}: known analytes are {known}", subject_suffix(.subject))]
    UnknownAnalyte {
        /// The analyte name that was asked for.
        name: String,
        /// The subject whose record named it, if any.
        subject: Option<String>,
        /// Known analyte names, comma-separated.
        known: String,
    },

    /// A dose that the model cannot take (unknown target compartment, a negative or
    /// non-finite amount or time, a modelled rate or duration the model does not give, an
    /// incomplete steady-state or repeated-dose record).
    #[error("invalid dose{} at time {time}: {reason}", subject_suffix(.subject))]
    InvalidDose {
        /// The subject whose record it is, where known.
        subject: Option<String>,
        /// Time of the dose record (the model's time unit).
        time: f64,
        /// Why it is invalid.
        reason: String,
    },

    /// A steady state that cannot be computed (not reached within the iteration budget,
    /// a lag not shorter than the dosing interval, SS = 2 on a nonlinear model).
    #[error("steady state of model `{model}` at time {time}: {reason}")]
    SteadyState {
        /// Model name.
        model: String,
        /// Time of the steady-state dose record.
        time: f64,
        /// What went wrong.
        reason: String,
    },

    /// A model whose own description is inconsistent (e.g. a linear system that does not
    /// cover its states).
    #[error("model `{model}` is inconsistent: {reason}")]
    InvalidModel {
        /// Model name.
        model: String,
        /// What is wrong.
        reason: String,
    },

    /// Requested output times that are not finite, negative, or not sorted.
    #[error("invalid output times: {reason}")]
    InvalidTimes {
        /// Why they are invalid.
        reason: String,
    },

    /// A plot could not be drawn (nothing to draw, or the drawing backend failed).
    #[error("cannot draw the plot: {reason}")]
    Plot {
        /// Why.
        reason: String,
    },

    /// No subject of a data set observes an analyte a data-set-wide analysis needs.
    #[error("no subject of the data set has observations of `{analyte}`")]
    AnalyteNotObserved {
        /// The analyte.
        analyte: String,
    },

    /// A profile (times and values) that non-compartmental analysis cannot use: lengths
    /// that differ, no points, values that are not finite, unsorted times.
    #[error("invalid profile: {reason}")]
    InvalidProfile {
        /// Why.
        reason: String,
    },

    /// A quantile that cannot be computed: no values, a level outside `[0, 1]`, values that
    /// are not finite.
    #[error("cannot compute the {q} quantile of {n} values: {reason}")]
    InvalidQuantile {
        /// The level asked for.
        q: f64,
        /// Number of values.
        n: usize,
        /// Why.
        reason: String,
    },

    /// Solver settings that cannot work (tolerances not positive, zero step budget).
    #[error("invalid solver options: {reason}")]
    InvalidOptions {
        /// Why they are invalid.
        reason: String,
    },

    /// The ODE solver gave up (step-size underflow, step budget exhausted, stiffness,
    /// or a non-finite state).
    #[error("ODE solver failed in model `{model}` at time {time}: {reason}")]
    Solver {
        /// Model name.
        model: String,
        /// Time (days) at which the solver stopped.
        time: f64,
        /// What the solver reported.
        reason: String,
    },

    /// Derivatives of the outputs that this simulation cannot give.
    #[error("no sensitivities for model `{model}`: {reason}")]
    NoSensitivities {
        /// Model name.
        model: String,
        /// Why (a parameter at the edge of its domain, or an unsupported kind of dose).
        reason: String,
    },

    /// The model has no closed-form (exact) solution for this simulation.
    #[error("model `{model}` has no closed-form solution here: {reason}")]
    NoClosedForm {
        /// Model name.
        model: String,
        /// Why (no closed form at all, or not for these doses).
        reason: String,
    },

    /// A parameter that cannot be estimated (structural integer or fixed constant).
    #[error("parameter `{name}` cannot be estimated: {reason}")]
    NotEstimable {
        /// Parameter name.
        name: String,
        /// Why.
        reason: String,
    },

    /// The same parameter (or residual error model) is listed twice.
    #[error("{name} is listed more than once")]
    DuplicateEstimate {
        /// What is duplicated.
        name: String,
    },

    /// Observations of an analyte for which no residual error model was given.
    #[error(
        "observations of `{analyte}` need a residual error model (add one, or remove those records)"
    )]
    MissingErrorModel {
        /// Analyte name.
        analyte: String,
    },

    /// A residual error model is given for an analyte the subject has no observation of.
    #[error("subject `{subject}` has no observations of `{analyte}`, which the objective needs")]
    NoObservations {
        /// Subject identifier.
        subject: String,
        /// Analyte name.
        analyte: String,
    },

    /// Every observation entering the likelihood is censored: nothing can be estimated.
    #[error("every observation of subject `{subject}` is censored (below LLOQ): nothing to fit")]
    AllCensored {
        /// Subject identifier.
        subject: String,
    },

    /// A between-subject covariance matrix Ω that cannot be used (wrong size, not
    /// symmetric, not positive definite, or not estimable from the data given).
    #[error("invalid Ω: {reason}")]
    InvalidOmega {
        /// Why.
        reason: String,
    },

    /// A covariate the model needs is missing for a subject.
    #[error(
        "subject `{subject}` has no value of covariate `{covariate}`, which a covariate effect needs"
    )]
    CovariateMissing {
        /// Subject identifier.
        subject: String,
        /// Covariate name.
        covariate: String,
    },

    /// A covariate value that a covariate effect cannot use (a category where a number is
    /// needed, a power of a value ≤ 0).
    #[error("subject `{subject}`, covariate `{covariate}`: {reason}")]
    InvalidCovariate {
        /// Subject identifier.
        subject: String,
        /// Covariate name.
        covariate: String,
        /// Why.
        reason: String,
    },

    /// A study design that cannot be simulated.
    #[error("invalid design: {reason}")]
    InvalidDesign {
        /// Why.
        reason: String,
    },

    /// Fit settings that cannot work.
    #[error("invalid fit options: {reason}")]
    InvalidFitOptions {
        /// Why.
        reason: String,
    },

    /// No start of the optimisation converged; no estimate is reported.
    #[error(
        "fit of subject `{subject}` did not converge from any of {starts} starts (best −2LL {best_minus_two_ll}): {reason}"
    )]
    NotConverged {
        /// Subject identifier.
        subject: String,
        /// Number of starts tried.
        starts: usize,
        /// Lowest −2 log-likelihood reached.
        best_minus_two_ll: f64,
        /// How the best start ended.
        reason: crate::optim::Termination,
    },

    /// The outer optimisation of a population fit did not converge; no estimate is reported.
    #[error(
        "population fit did not converge after {iterations} outer iterations (best −2LL {best_minus_two_ll}): {reason}"
    )]
    PopulationNotConverged {
        /// Outer iterations run.
        iterations: u64,
        /// Lowest −2 log-likelihood reached.
        best_minus_two_ll: f64,
        /// How the optimiser ended.
        reason: crate::optim::Termination,
    },

    /// The optimiser itself failed (argmin refused its settings or its run failed), as
    /// opposed to a model that cannot be evaluated.
    #[error("the optimiser failed: {reason}")]
    OptimizerFailed {
        /// argmin's error.
        reason: String,
    },

    /// A subject's marginal likelihood by quadrature is not finite: the Hessian at its EBE is
    /// not positive definite, or every node's likelihood underflows.
    #[error(
        "subject `{subject}`: the marginal likelihood by quadrature is not finite (no positive definite Hessian at the EBE, or every node's likelihood underflows)"
    )]
    QuadratureNotFinite {
        /// Subject identifier.
        subject: String,
    },

    /// A subject's marginal likelihood by importance sampling is not finite: the Hessian at
    /// its EBE is not positive definite, or every draw's likelihood underflows.
    #[error(
        "subject `{subject}`: the marginal likelihood by importance sampling is not finite (no positive definite Hessian at the EBE, or every draw's likelihood underflows)"
    )]
    SampledLikelihoodNotFinite {
        /// Subject identifier.
        subject: String,
    },

    /// An observation's likelihood is not finite at a subject's current random effects
    /// (its prediction is out of the error model's range, say), so no empirical Bayes
    /// estimate can be linearised there.
    #[error(
        "subject `{subject}`: the likelihood of the {analyte} observation at t = {time} is not finite at the current random effects"
    )]
    LikelihoodNotFinite {
        /// Subject identifier.
        subject: String,
        /// Analyte of the observation.
        analyte: String,
        /// Time of the observation.
        time: f64,
    },

    /// A problem in input data, located as precisely as possible.
    #[error("{location}: {kind}")]
    Data {
        /// Where the problem is (file line, column, subject).
        location: DataLocation,
        /// What the problem is.
        kind: DataErrorKind,
    },

    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// A file could not be opened, created, read or written.
    #[error("file `{path}`: {reason}")]
    File {
        /// The file's path as given.
        path: String,
        /// What went wrong.
        reason: String,
    },

    /// The CSV layer failed (malformed quoting, unequal row lengths).
    #[error("{0}")]
    Csv(#[from] csv::Error),
}

fn subject_suffix(subject: &Option<String>) -> String {
    subject
        .as_ref()
        .map(|s| format!(" in subject `{s}`"))
        .unwrap_or_default()
}

/// Where in the input a data problem was found.
///
/// `line` is the 1-based line of a CSV file (the header is line 1); it is `None` for data
/// built in code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataLocation {
    /// 1-based line in the CSV file (header = line 1), if the data came from a file.
    pub line: Option<u64>,
    /// Column name, if the problem is in one column.
    pub column: Option<String>,
    /// Subject identifier, if known.
    pub subject: Option<String>,
}

impl fmt::Display for DataLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(l) = self.line {
            parts.push(format!("line {l}"));
        }
        if let Some(c) = &self.column {
            parts.push(format!("column `{c}`"));
        }
        if let Some(s) = &self.subject {
            parts.push(format!("subject `{s}`"));
        }
        if parts.is_empty() {
            write!(f, "data")
        } else {
            write!(f, "{}", parts.join(", "))
        }
    }
}

/// The kinds of data problems [`Error::Data`] reports.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DataErrorKind {
    /// A required column is absent from the header.
    #[error("required column is missing")]
    MissingColumn,
    /// A field that must be a number is not.
    #[error("`{0}` is not a number")]
    NonNumeric(String),
    /// A number is NaN or infinite.
    #[error("value is not finite")]
    NonFinite,
    /// A required field is missing (`.` or empty).
    #[error("value is missing")]
    MissingValue,
    /// A dose amount is negative.
    #[error("negative dose amount {0}")]
    NegativeDose(f64),
    /// Records of a subject are not in time order (time may go back only at a reset,
    /// EVID 3 or 4).
    #[error(
        "time {time} comes after {previous}: records must be sorted by time within a subject (or follow a reset)"
    )]
    Unsorted {
        /// The earlier record's time.
        previous: f64,
        /// This record's time.
        time: f64,
    },
    /// An analyte name (or CMT number) that is not known.
    #[error("unknown analyte `{name}` (known: {known})")]
    UnknownAnalyte {
        /// The name or CMT number found.
        name: String,
        /// Known analyte names.
        known: String,
    },
    /// A censored (below-LLOQ) observation without a lower limit of quantification.
    #[error("censored observation has no LLOQ")]
    CensoredWithoutLloq,
    /// An LLOQ that is not positive.
    #[error("LLOQ must be > 0, got {0}")]
    InvalidLloq(f64),
    /// A subject with no observations and no other-type (EVID 2) records.
    #[error("subject has no observations (nor EVID 2 records to predict at)")]
    EmptySubject,
    /// A subject's records are split by another subject's records.
    #[error("records of this subject are not contiguous (the ID appears again after another ID)")]
    NonContiguousSubject,
    /// A field holds a code the reader does not support (e.g. EVID = 5, SS = 3, CENS = −1).
    #[error("unsupported value `{value}`: {reason}")]
    Unsupported {
        /// The value found.
        value: String,
        /// What is supported instead.
        reason: String,
    },
    /// A NONMEM reserved column that the library does not implement (e.g. `PCMT`, `CALL`,
    /// `CONT`, `DATE`): never read as a covariate.
    #[error(
        "NONMEM data item `{0}` is not supported (remove the column, or rename it if it is a covariate)"
    )]
    UnsupportedColumn(String),
    /// Values of one record that contradict each other or the record's kind (e.g. an
    /// amount on an observation row, `MDV = 0` on a dose row).
    #[error("{0}")]
    Inconsistent(String),
    /// The data set has no subjects.
    #[error("data set has no subjects")]
    EmptyDataset,
    /// A quantified observation ≤ 0 under a log-scale residual error model.
    #[error("value {0} must be > 0 for a log-additive residual error model")]
    NonPositiveForLogScale(f64),
    /// Two subjects share an identifier.
    #[error("two subjects share this ID")]
    DuplicateSubject,
    /// A name or label that cannot be written to a data file and read back the same: empty,
    /// `.` (missing), with surrounding whitespace, or a covariate named like a data item.
    #[error("`{0}` cannot be used as a name here: {1}")]
    BadName(String, String),
}

impl Error {
    /// A file error naming the path.
    pub(crate) fn file(path: &std::path::Path, reason: impl fmt::Display) -> Self {
        Error::File {
            path: path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    /// The same error with the subject named, where the variant has room for it.
    pub(crate) fn in_subject(self, id: &str) -> Self {
        match self {
            Error::InvalidDose {
                subject: None,
                time,
                reason,
            } => Error::InvalidDose {
                subject: Some(id.to_owned()),
                time,
                reason,
            },
            Error::Data { mut location, kind } if location.subject.is_none() => {
                location.subject = Some(id.to_owned());
                Error::Data { location, kind }
            }
            other => other,
        }
    }

    /// A data error located in code-built data (no file line).
    pub(crate) fn data(subject: Option<&str>, column: Option<&str>, kind: DataErrorKind) -> Self {
        Error::Data {
            location: DataLocation {
                line: None,
                column: column.map(str::to_owned),
                subject: subject.map(str::to_owned),
            },
            kind,
        }
    }

    /// The [`DataErrorKind`] of a data error, `None` for other errors.
    ///
    /// ```
    /// use cart_pkpd::{DataErrorKind, Subject};
    /// let err = Subject::builder("S1").observe(1.0, "transgene", f64::NAN).build().unwrap_err();
    /// assert_eq!(err.data_kind(), Some(&DataErrorKind::NonFinite));
    /// ```
    pub fn data_kind(&self) -> Option<&DataErrorKind> {
        match self {
            Error::Data { kind, .. } => Some(kind),
            _ => None,
        }
    }
}
