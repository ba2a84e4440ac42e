//! One subject's records: doses, observations (with LLOQ and censoring) and covariates.

use crate::dose::Dose;
use crate::error::{DataErrorKind, DataLocation, Error, Result};
use std::collections::BTreeMap;

/// One measured value of one analyte.
///
/// A censored observation (below its LLOQ) carries `censored = true` and an `lloq`; its
/// `value` is conventionally the LLOQ itself and is not used as a measurement.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Observation {
    /// Time of the sample (days from infusion; ≥ 0).
    pub time: f64,
    /// Analyte name (a model output, e.g. `"transgene"`, `"b_cells"`).
    pub analyte: String,
    /// Measured value in the analyte's unit.
    pub value: f64,
    /// Lower limit of quantification of the assay, in the analyte's unit.
    pub lloq: Option<f64>,
    /// `true` when the value is below the LLOQ (left-censored).
    pub censored: bool,
}

/// A record in file order, as validated by [`validate_records`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    Dose(Dose),
    Observation(Observation),
}

impl Record {
    fn time(&self) -> f64 {
        match self {
            Record::Dose(d) => d.time,
            Record::Observation(o) => o.time,
        }
    }
}

/// Column names used in messages and in the CSV format.
pub(crate) mod col {
    pub const ID: &str = "ID";
    pub const TIME: &str = "TIME";
    pub const DV: &str = "DV";
    pub const AMT: &str = "AMT";
    pub const LLOQ: &str = "LLOQ";
    pub const ANALYTE: &str = "ANALYTE";
}

/// Checks one subject's records in order; `lines[i]` is the file line of `records[i]`.
///
/// This is the single place where record rules live, used by the builder and the CSV
/// reader alike: finite values, non-negative times and doses, time order, no duplicate
/// events, an LLOQ on every censored value, at least one observation.
pub(crate) fn validate_records(id: &str, records: &[Record], lines: &[Option<u64>]) -> Result<()> {
    let fail = |i: Option<usize>, column: Option<&str>, kind| Error::Data {
        location: DataLocation {
            line: i.and_then(|i| lines.get(i).copied().flatten()),
            column: column.map(str::to_owned),
            subject: Some(id.to_owned()),
        },
        kind,
    };
    let finite = |i: usize, column: &str, v: f64| {
        if v.is_finite() {
            Ok(())
        } else {
            Err(fail(Some(i), Some(column), DataErrorKind::NonFinite))
        }
    };
    let mut previous = f64::NEG_INFINITY;
    for (i, rec) in records.iter().enumerate() {
        let t = rec.time();
        finite(i, col::TIME, t)?;
        if t < 0.0 {
            return Err(fail(
                Some(i),
                Some(col::TIME),
                DataErrorKind::NegativeTime(t),
            ));
        }
        if t < previous {
            let kind = DataErrorKind::Unsorted { previous, time: t };
            return Err(fail(Some(i), Some(col::TIME), kind));
        }
        previous = t;
        match rec {
            Record::Dose(d) => {
                finite(i, col::AMT, d.amount)?;
                if d.amount < 0.0 {
                    return Err(fail(
                        Some(i),
                        Some(col::AMT),
                        DataErrorKind::NegativeDose(d.amount),
                    ));
                }
            }
            Record::Observation(o) => {
                finite(i, col::DV, o.value)?;
                if let Some(l) = o.lloq {
                    if !(l.is_finite() && l > 0.0) {
                        return Err(fail(
                            Some(i),
                            Some(col::LLOQ),
                            DataErrorKind::InvalidLloq(l),
                        ));
                    }
                } else if o.censored {
                    return Err(fail(
                        Some(i),
                        Some(col::LLOQ),
                        DataErrorKind::CensoredWithoutLloq,
                    ));
                }
            }
        }
        let same_event = |other: &Record| match (rec, other) {
            (Record::Dose(a), Record::Dose(b)) => a.time == b.time && a.target == b.target,
            (Record::Observation(a), Record::Observation(b)) => {
                a.time == b.time && a.analyte == b.analyte
            }
            _ => false,
        };
        let earlier_same_time = records[..i].iter().rev().take_while(|r| r.time() == t);
        if earlier_same_time.into_iter().any(same_event) {
            let what = match rec {
                Record::Dose(_) => "dose".to_owned(),
                Record::Observation(o) => format!("analyte `{}`", o.analyte),
            };
            return Err(fail(
                Some(i),
                None,
                DataErrorKind::Duplicate { time: t, what },
            ));
        }
    }
    if !records.iter().any(|r| matches!(r, Record::Observation(_))) {
        return Err(fail(None, None, DataErrorKind::EmptySubject));
    }
    Ok(())
}

/// One subject: identifier, doses, observations and baseline covariates.
///
/// Built with [`Subject::builder`] or read from CSV with [`Dataset`](crate::Dataset); always
/// validated (see [`SubjectBuilder::build`]).
///
/// ```
/// use cart_pkpd::Subject;
/// let s = Subject::builder("P01")
///     .covariate("dose_level", 1.0)
///     .dose(0.0, 10.0)                                   // 10 × 10^6 CAR+ T cells
///     .observe(7.0, "transgene", 15_000.0)               // copies/µg
///     .observe_censored(14.0, "b_cells", 1.0)            // below LLOQ = 1 cell/µL
///     .build()?;
/// assert_eq!(s.observations().len(), 2);
/// assert_eq!(s.covariate("dose_level"), Some(1.0));
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Subject {
    id: String,
    doses: Vec<Dose>,
    observations: Vec<Observation>,
    covariates: BTreeMap<String, f64>,
}

impl Subject {
    /// Starts building a subject with this identifier.
    pub fn builder(id: impl Into<String>) -> SubjectBuilder {
        SubjectBuilder {
            id: id.into(),
            records: Vec::new(),
            covariates: BTreeMap::new(),
        }
    }

    /// Builds from checked parts (used by the CSV reader after validation).
    pub(crate) fn from_records(
        id: String,
        records: Vec<Record>,
        covariates: BTreeMap<String, f64>,
    ) -> Self {
        let (mut doses, mut observations) = (Vec::new(), Vec::new());
        for r in records {
            match r {
                Record::Dose(d) => doses.push(d),
                Record::Observation(o) => observations.push(o),
            }
        }
        Subject {
            id,
            doses,
            observations,
            covariates,
        }
    }

    /// The subject's identifier.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Doses, in time order.
    pub fn doses(&self) -> &[Dose] {
        &self.doses
    }

    /// Observations, in time order.
    pub fn observations(&self) -> &[Observation] {
        &self.observations
    }

    /// Observations of one analyte, in time order.
    pub fn observations_of<'a, 'b>(
        &'a self,
        analyte: &'b str,
    ) -> impl Iterator<Item = &'a Observation> + use<'a, 'b> {
        self.observations
            .iter()
            .filter(move |o| o.analyte == analyte)
    }

    /// Baseline covariates by name.
    pub fn covariates(&self) -> &BTreeMap<String, f64> {
        &self.covariates
    }

    /// One covariate's value, if the subject has it.
    pub fn covariate(&self, name: &str) -> Option<f64> {
        self.covariates.get(name).copied()
    }
}

/// Fluent builder for a [`Subject`]; records are kept in the order they are added.
#[derive(Debug, Clone)]
pub struct SubjectBuilder {
    id: String,
    records: Vec<Record>,
    covariates: BTreeMap<String, f64>,
}

impl SubjectBuilder {
    /// Adds a bolus dose into the model's default dosing state (10^6 CAR+ T cells for the
    /// CAR-T models).
    pub fn dose(self, time: f64, amount: f64) -> Self {
        self.dose_event(Dose::bolus(time, amount))
    }

    /// Adds any dose (for example one into a named state).
    pub fn dose_event(mut self, dose: Dose) -> Self {
        self.records.push(Record::Dose(dose));
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
        })
    }

    /// Adds any observation.
    pub fn observation(mut self, obs: Observation) -> Self {
        self.records.push(Record::Observation(obs));
        self
    }

    /// Sets a baseline covariate (e.g. `"dose_level"`, `"weight"`).
    pub fn covariate(mut self, name: &str, value: f64) -> Self {
        self.covariates.insert(name.to_owned(), value);
        self
    }

    /// Validates and builds: times finite, ≥ 0 and sorted; doses ≥ 0; no duplicate events;
    /// censored values have an LLOQ; covariates finite; at least one observation.
    pub fn build(self) -> Result<Subject> {
        let lines = vec![None; self.records.len()];
        validate_records(&self.id, &self.records, &lines)?;
        if let Some((name, _)) = self.covariates.iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::data(
                Some(&self.id),
                Some(name),
                DataErrorKind::NonFinite,
            ));
        }
        Ok(Subject::from_records(
            self.id,
            self.records,
            self.covariates,
        ))
    }
}
