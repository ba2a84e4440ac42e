//! Building a [`Subject`] in code, record by record.

use super::covariate::CovariateValue;
use super::subject::{EventKind, Observation, OwnedRecord, Subject};
use crate::dose::Dose;
use crate::error::Result;
use std::collections::BTreeMap;

/// Fluent builder for a [`Subject`]; records are kept in the order they are added.
///
/// ```
/// use cart_pkpd::{Dose, Subject};
/// let s = Subject::builder("7")
///     .covariate("WT", 70.0)
///     .covariate("SEX", "F")                               // a category
///     .dose_event(Dose::infusion(0.0, 500.0, 250.0).repeat(6, 12.0))
///     .observe(11.5, "cp", 4.2)
///     .covariate_at(24.0, "WT", 68.5)                      // from 24 h on
///     .observe(47.5, "cp", 5.1)
///     .build()?;
/// assert_eq!(s.n_records(), 4);
/// assert!(s.covariate_series("WT").unwrap().is_time_varying());
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SubjectBuilder {
    id: String,
    records: Vec<OwnedRecord>,
    covariates: BTreeMap<String, Vec<(usize, CovariateValue)>>,
}

impl SubjectBuilder {
    pub(super) fn new(id: String) -> Self {
        SubjectBuilder {
            id,
            records: Vec::new(),
            covariates: BTreeMap::new(),
        }
    }

    /// Adds a bolus dose into the model's default dosing state (10^6 CAR+ T cells for the
    /// CAR-T models).
    pub fn dose(self, time: f64, amount: f64) -> Self {
        self.dose_event(Dose::bolus(time, amount))
    }

    /// Adds any dose record (infusion, repeated, steady state, into a named or numbered
    /// compartment).
    pub fn dose_event(mut self, dose: Dose) -> Self {
        self.records.push(OwnedRecord::Dose(dose));
        self
    }

    /// Adds a quantified observation.
    pub fn observe(self, time: f64, analyte: &str, value: f64) -> Self {
        self.observation(Observation {
            time,
            analyte: analyte.to_owned(),
            value,
            lloq: None,
            censored: false,
            mdv: false,
        })
    }

    /// Adds a quantified observation from an assay with the given LLOQ.
    pub fn observe_with_lloq(self, time: f64, analyte: &str, value: f64, lloq: f64) -> Self {
        self.observation(Observation {
            time,
            analyte: analyte.to_owned(),
            value,
            lloq: Some(lloq),
            censored: false,
            mdv: false,
        })
    }

    /// Adds a below-LLOQ (censored) observation; its value is recorded as the LLOQ.
    pub fn observe_censored(self, time: f64, analyte: &str, lloq: f64) -> Self {
        self.observation(Observation {
            time,
            analyte: analyte.to_owned(),
            value: lloq,
            lloq: Some(lloq),
            censored: true,
            mdv: false,
        })
    }

    /// Adds any observation.
    pub fn observation(mut self, obs: Observation) -> Self {
        self.records.push(OwnedRecord::Observation(obs));
        self
    }

    /// Adds an other-type record (`EVID = 2`): a time to predict at.
    pub fn event(mut self, time: f64) -> Self {
        self.records.push(OwnedRecord::Event {
            time,
            kind: EventKind::Other,
        });
        self
    }

    /// Adds a reset (`EVID = 3`): the system returns to its initial state; records after
    /// it may start again at any time.
    pub fn reset(mut self, time: f64) -> Self {
        self.records.push(OwnedRecord::Event {
            time,
            kind: EventKind::Reset,
        });
        self
    }

    /// Sets a covariate's baseline value (in force from the first record), a number or a
    /// category label (e.g. `"dose_level"` 1, `"SEX"` `"M"`).
    pub fn covariate(mut self, name: &str, value: impl Into<CovariateValue>) -> Self {
        self.covariates
            .entry(name.to_owned())
            .or_default()
            .push((0, value.into()));
        self
    }

    /// Changes a covariate at `time`: adds an other-type record (`EVID = 2`) at `time` that
    /// carries the new value, in force from that record on.
    pub fn covariate_at(mut self, time: f64, name: &str, value: impl Into<CovariateValue>) -> Self {
        let position = self.records.len();
        self = self.event(time);
        self.covariates
            .entry(name.to_owned())
            .or_default()
            .push((position, value.into()));
        self
    }

    /// Validates and builds: times finite and in order (time may go back only at a reset);
    /// dose records complete (amount ≥ 0, a rate > 0, `II` with `ADDL` or steady state);
    /// censored values with an LLOQ > 0; covariates finite; at least one observation or
    /// `EVID = 2` record.
    ///
    /// # Errors
    /// [`Error::Data`](crate::Error::Data) naming the subject, the column and what is wrong.
    pub fn build(self) -> Result<Subject> {
        let lines = vec![None; self.records.len()];
        Subject::from_records(self.id, self.records, &lines, self.covariates)
    }
}
