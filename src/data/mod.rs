//! Subjects and data sets: doses, observations with LLOQ and censoring, covariates.
//!
//! Built in code with [`Subject::builder`] or read from a NONMEM-style CSV file
//! ([`Dataset::read_csv`]; the format is described in [`csv_format`]). Either way, records
//! are validated the same way and every problem is an [`Error::Data`](crate::Error::Data)
//! naming the line, column and subject.

pub mod csv_format;
mod dataset;
mod subject;

pub use csv_format::{CART_ANALYTES, CsvOptions};
pub use dataset::Dataset;
pub use subject::{Observation, Subject, SubjectBuilder};
