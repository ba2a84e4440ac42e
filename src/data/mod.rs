//! Subjects and data sets: doses, observations with LLOQ and censoring, other-type and
//! reset events, covariates (numbers or categories, constant or time-varying).
//!
//! Built in code with [`Subject::builder`] or read from a NONMEM-format CSV file
//! ([`Dataset::read_csv`]; the format is described in [`csv_format`]). Either way, records
//! are validated the same way and every problem is an [`Error::Data`](crate::Error::Data)
//! naming the line, column and subject.

mod builder;
mod covariate;
pub mod csv_format;
mod dataset;
mod subject;

pub use builder::SubjectBuilder;
pub use covariate::{CovariateInterpolation, CovariateSeries, CovariateValue};
pub use csv_format::CsvOptions;
pub use dataset::Dataset;
pub use subject::{EventKind, Observation, Record, Subject};
pub(crate) use subject::{OwnedRecord, col};
