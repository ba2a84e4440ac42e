//! One subject's records — doses, observations (with LLOQ and censoring), other-type and
//! reset events — in their order, and its covariates.

use super::covariate::{CovariateSeries, CovariateValue};
use crate::dose::Dose;
use crate::error::{DataErrorKind, DataLocation, Error, Result};
use std::collections::BTreeMap;

/// One measured value of one analyte (`EVID = 0`).
///
/// A censored observation (below its LLOQ) carries `censored = true` and an `lloq`; its
/// `value` is conventionally the LLOQ itself and is not used as a measurement. An
/// observation with `mdv = true` (`MDV = 1`) is predicted but left out of the likelihood.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Observation {
    /// Time of the sample (the model's time unit; days from infusion for the CAR-T models).
    pub time: f64,
    /// Analyte name (a model output, e.g. `"transgene"`, `"b_cells"`, `"cp"`).
    pub analyte: String,
    /// Measured value in the analyte's unit (0 when missing on an `MDV = 1` row).
    pub value: f64,
    /// Lower limit of quantification of the assay, in the analyte's unit.
    pub lloq: Option<f64>,
    /// `true` when the value is below the LLOQ (left-censored).
    pub censored: bool,
    /// `true` for `MDV = 1`: predicted, not in the likelihood.
    #[serde(default)]
    pub mdv: bool,
}

/// A record that is neither a dose nor an observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EventKind {
    /// `EVID = 2`: a time to predict at, or where a covariate changes.
    Other,
    /// `EVID = 3`: the system is reset to its initial state (time may start again).
    Reset,
}

/// A record of a subject, as [`Subject::records`] yields it, in order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Record<'a> {
    /// A dose (`EVID` 1, or 4 with [`Dose::reset`]).
    Dose(&'a Dose),
    /// An observation (`EVID` 0).
    Observation(&'a Observation),
    /// An other-type event (`EVID` 2).
    Other {
        /// Its time.
        time: f64,
    },
    /// A reset (`EVID` 3).
    Reset {
        /// Its time.
        time: f64,
    },
}

impl Record<'_> {
    /// The record's time.
    pub fn time(&self) -> f64 {
        match self {
            Record::Dose(d) => d.time,
            Record::Observation(o) => o.time,
            Record::Other { time } | Record::Reset { time } => *time,
        }
    }

    /// Whether the record resets the system (EVID 3, or 4).
    pub fn resets(&self) -> bool {
        match self {
            Record::Dose(d) => d.reset,
            Record::Reset { .. } => true,
            _ => false,
        }
    }
}

/// A record owned, as the builder and the CSV reader collect them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OwnedRecord {
    Dose(Dose),
    Observation(Observation),
    Event { time: f64, kind: EventKind },
}

impl From<Record<'_>> for OwnedRecord {
    fn from(r: Record<'_>) -> Self {
        match r {
            Record::Dose(d) => OwnedRecord::Dose(d.clone()),
            Record::Observation(o) => OwnedRecord::Observation(o.clone()),
            Record::Other { time } => OwnedRecord::Event {
                time,
                kind: EventKind::Other,
            },
            Record::Reset { time } => OwnedRecord::Event {
                time,
                kind: EventKind::Reset,
            },
        }
    }
}

impl OwnedRecord {
    fn as_record(&self) -> Record<'_> {
        match self {
            OwnedRecord::Dose(d) => Record::Dose(d),
            OwnedRecord::Observation(o) => Record::Observation(o),
            OwnedRecord::Event {
                time,
                kind: EventKind::Other,
            } => Record::Other { time: *time },
            OwnedRecord::Event {
                time,
                kind: EventKind::Reset,
            } => Record::Reset { time: *time },
        }
    }
}

/// Which list a record lives in, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum Slot {
    Dose(u32),
    Observation(u32),
    Event(u32),
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
/// This is the single place where record rules live, used by the builder, the CSV reader
/// and deserialisation alike: finite values, time order (time may go back only at a reset),
/// complete dose records, an LLOQ > 0 on every censored value, and at least one observation
/// or EVID 2 record. It takes linear time.
pub(crate) fn validate_records(
    id: &str,
    records: &[OwnedRecord],
    lines: &[Option<u64>],
) -> Result<()> {
    let fail = |i: Option<usize>, column: Option<&str>, kind| Error::Data {
        location: DataLocation {
            line: i.and_then(|i| lines.get(i).copied().flatten()),
            column: column.map(str::to_owned),
            subject: Some(id.to_owned()),
        },
        kind,
    };
    let mut previous = f64::NEG_INFINITY;
    for (i, rec) in records.iter().enumerate() {
        let rec = rec.as_record();
        let t = rec.time();
        if !t.is_finite() {
            return Err(fail(Some(i), Some(col::TIME), DataErrorKind::NonFinite));
        }
        if t < previous && !rec.resets() {
            let kind = DataErrorKind::Unsorted { previous, time: t };
            return Err(fail(Some(i), Some(col::TIME), kind));
        }
        previous = t;
        match rec {
            Record::Dose(d) => {
                if !d.amount.is_finite() {
                    return Err(fail(Some(i), Some(col::AMT), DataErrorKind::NonFinite));
                }
                if d.amount < 0.0 {
                    let kind = DataErrorKind::NegativeDose(d.amount);
                    return Err(fail(Some(i), Some(col::AMT), kind));
                }
                if let Some(reason) = d.problem() {
                    return Err(fail(Some(i), None, DataErrorKind::Inconsistent(reason)));
                }
            }
            Record::Observation(o) => check_observation(o).map_err(|(c, k)| fail(Some(i), c, k))?,
            Record::Other { .. } | Record::Reset { .. } => {}
        }
    }
    let predicts = |r: &OwnedRecord| {
        matches!(
            r,
            OwnedRecord::Observation(_)
                | OwnedRecord::Event {
                    kind: EventKind::Other,
                    ..
                }
        )
    };
    if !records.iter().any(predicts) {
        return Err(fail(None, None, DataErrorKind::EmptySubject));
    }
    Ok(())
}

/// Data items a covariate may not be named after (case-insensitively): a file with such a
/// covariate would read back differently.
const RESERVED: &[&str] = &[
    "ID", "TIME", "DV", "AMT", "EVID", "MDV", "CMT", "RATE", "ADDL", "II", "SS", "ANALYTE", "CENS",
    "BLQ", "LLOQ",
];

/// Why `name` cannot be written and read back the same, if it cannot.
pub(crate) fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name == "." {
        Some("empty or `.` reads back as missing")
    } else if name.trim() != name {
        Some("surrounding whitespace is trimmed on reading")
    } else {
        None
    }
}

/// Why `name` cannot be a covariate's name, if it cannot.
fn covariate_name_problem(name: &str) -> Option<&'static str> {
    let reserved = RESERVED
        .iter()
        .chain(super::csv_format::UNSUPPORTED_COLUMNS)
        .any(|r| r.eq_ignore_ascii_case(name));
    if reserved {
        return Some("it is a data item of the NONMEM format");
    }
    name_problem(name)
}

/// Checks the names and labels of one subject: its ID, analytes, dose targets, covariate
/// names and text values.
fn check_names(
    id: &str,
    records: &[OwnedRecord],
    covariates: &BTreeMap<String, Vec<(usize, CovariateValue)>>,
) -> Result<()> {
    let bad = |column: &str, name: &str, why: &str| {
        Error::data(
            Some(id),
            Some(column),
            DataErrorKind::BadName(name.to_owned(), why.to_owned()),
        )
    };
    if let Some(why) = name_problem(id) {
        return Err(bad(col::ID, id, why));
    }
    for r in records {
        let (column, name) = match r {
            OwnedRecord::Observation(o) => (col::ANALYTE, o.analyte.as_str()),
            OwnedRecord::Dose(Dose {
                target: Some(crate::dose::Compartment::Name(n)),
                ..
            }) => ("CMT", n.as_str()),
            _ => continue,
        };
        if let Some(why) = name_problem(name) {
            return Err(bad(column, name, why));
        }
    }
    for (name, changes) in covariates {
        if let Some(why) = covariate_name_problem(name) {
            return Err(bad(name, name, why));
        }
        for (_, v) in changes {
            if let CovariateValue::Text(t) = v
                && let Some(why) = name_problem(t)
            {
                return Err(bad(name, t, why));
            }
        }
    }
    Ok(())
}

fn check_observation(o: &Observation) -> std::result::Result<(), (Option<&str>, DataErrorKind)> {
    if !o.value.is_finite() {
        return Err((Some(col::DV), DataErrorKind::NonFinite));
    }
    match o.lloq {
        Some(l) if !(l.is_finite() && l > 0.0) => {
            Err((Some(col::LLOQ), DataErrorKind::InvalidLloq(l)))
        }
        None if o.censored => Err((Some(col::LLOQ), DataErrorKind::CensoredWithoutLloq)),
        _ if o.censored && o.mdv => Err((
            Some("MDV"),
            DataErrorKind::Inconsistent("a censored observation with MDV = 1".into()),
        )),
        Some(l) if o.censored && o.value > l => Err((
            Some(col::DV),
            DataErrorKind::Inconsistent(format!(
                "censored (below the LLOQ {l}) but DV = {} is above it",
                o.value
            )),
        )),
        Some(l) if !o.censored && !o.mdv && o.value < l => Err((
            Some(col::DV),
            DataErrorKind::Inconsistent(format!(
                "DV = {} is below the LLOQ {l} but not flagged censored (CENS/BLQ = 1)",
                o.value
            )),
        )),
        _ => Ok(()),
    }
}

/// One subject: identifier, records in order (doses, observations, other-type and reset
/// events) and covariates.
///
/// Built with [`Subject::builder`] or read from CSV with [`Dataset`](crate::Dataset); always
/// validated (see [`SubjectBuilder::build`](super::SubjectBuilder::build)).
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
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Subject {
    id: String,
    doses: Vec<Dose>,
    observations: Vec<Observation>,
    events: Vec<(f64, EventKind)>,
    order: Vec<Slot>,
    covariates: BTreeMap<String, CovariateSeries>,
}

/// The serialised form, validated on the way in.
#[derive(serde::Deserialize)]
struct SubjectData {
    id: String,
    doses: Vec<Dose>,
    observations: Vec<Observation>,
    events: Vec<(f64, EventKind)>,
    order: Vec<Slot>,
    covariates: BTreeMap<String, CovariateSeries>,
}

impl<'de> serde::Deserialize<'de> for Subject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let data = SubjectData::deserialize(d)?;
        let n = data.order.len();
        if n != data.doses.len() + data.observations.len() + data.events.len() {
            return Err(D::Error::custom("record order does not match the records"));
        }
        let mut records = Vec::with_capacity(n);
        for slot in &data.order {
            let rec = match *slot {
                Slot::Dose(i) => data.doses.get(i as usize).cloned().map(OwnedRecord::Dose),
                Slot::Observation(i) => data
                    .observations
                    .get(i as usize)
                    .cloned()
                    .map(OwnedRecord::Observation),
                Slot::Event(i) => data
                    .events
                    .get(i as usize)
                    .map(|&(time, kind)| OwnedRecord::Event { time, kind }),
            };
            records.push(rec.ok_or_else(|| D::Error::custom("record order out of range"))?);
        }
        let covariates = data
            .covariates
            .into_iter()
            .map(|(k, v)| (k, v.changes().to_vec()))
            .collect();
        Subject::from_records(data.id, records, &vec![None; n], covariates)
            .map_err(D::Error::custom)
    }
}

impl Subject {
    /// Starts building a subject with this identifier.
    pub fn builder(id: impl Into<String>) -> super::SubjectBuilder {
        super::SubjectBuilder::new(id.into())
    }

    /// Validates and assembles a subject from records in order (`lines` locate errors)
    /// and covariate changes `(record position, value)`.
    pub(crate) fn from_records(
        id: String,
        records: Vec<OwnedRecord>,
        lines: &[Option<u64>],
        covariates: BTreeMap<String, Vec<(usize, CovariateValue)>>,
    ) -> Result<Self> {
        check_names(&id, &records, &covariates)?;
        validate_records(&id, &records, lines)?;
        let mut s = Subject {
            id,
            doses: Vec::new(),
            observations: Vec::new(),
            events: Vec::new(),
            order: Vec::with_capacity(records.len()),
            covariates: BTreeMap::new(),
        };
        for (name, changes) in covariates {
            for (pos, v) in &changes {
                if matches!(v, CovariateValue::Number(x) if !x.is_finite()) {
                    let line = lines.get(*pos).copied().flatten();
                    return Err(Error::Data {
                        location: DataLocation {
                            line,
                            column: Some(name),
                            subject: Some(s.id),
                        },
                        kind: DataErrorKind::NonFinite,
                    });
                }
            }
            if let Some(series) = CovariateSeries::from_changes(changes) {
                s.covariates.insert(name, series);
            }
        }
        for r in records {
            let slot = match r {
                OwnedRecord::Dose(d) => {
                    s.doses.push(d);
                    Slot::Dose(s.doses.len() as u32 - 1)
                }
                OwnedRecord::Observation(o) => {
                    s.observations.push(o);
                    Slot::Observation(s.observations.len() as u32 - 1)
                }
                OwnedRecord::Event { time, kind } => {
                    s.events.push((time, kind));
                    Slot::Event(s.events.len() as u32 - 1)
                }
            };
            s.order.push(slot);
        }
        Ok(s)
    }

    /// A copy with new observations in place of the old, one for one (same times and
    /// analytes; new values and censoring), as a simulation from the subject's design
    /// makes them.
    ///
    /// # Errors
    /// [`Error::Data`] when the new observations contradict the rules every subject obeys
    /// (a value below its LLOQ not flagged censored, a value that is not finite).
    pub(crate) fn with_observations(&self, observations: Vec<Observation>) -> Result<Subject> {
        debug_assert_eq!(observations.len(), self.observations.len());
        let mut s = self.clone();
        s.observations = observations;
        let records: Vec<OwnedRecord> = s.records().map(OwnedRecord::from).collect();
        validate_records(&s.id, &records, &vec![None; records.len()])?;
        Ok(s)
    }

    /// The subject's identifier.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Doses, in record order.
    pub fn doses(&self) -> &[Dose] {
        &self.doses
    }

    /// Observations, in record order.
    pub fn observations(&self) -> &[Observation] {
        &self.observations
    }

    /// Measured observations of one analyte (those with `MDV = 1` left out), in record
    /// order.
    pub fn observations_of<'a, 'b>(
        &'a self,
        analyte: &'b str,
    ) -> impl Iterator<Item = &'a Observation> + use<'a, 'b> {
        self.observations
            .iter()
            .filter(move |o| o.analyte == analyte && !o.mdv)
    }

    /// Every record, in order.
    pub fn records(&self) -> impl ExactSizeIterator<Item = Record<'_>> + '_ {
        self.order.iter().map(|slot| match *slot {
            Slot::Dose(i) => Record::Dose(&self.doses[i as usize]),
            Slot::Observation(i) => Record::Observation(&self.observations[i as usize]),
            Slot::Event(i) => match self.events[i as usize] {
                (time, EventKind::Other) => Record::Other { time },
                (time, EventKind::Reset) => Record::Reset { time },
            },
        })
    }

    /// Number of records.
    pub fn n_records(&self) -> usize {
        self.order.len()
    }

    /// Names of the subject's covariates, sorted.
    pub fn covariate_names(&self) -> impl Iterator<Item = &str> {
        self.covariates.keys().map(String::as_str)
    }

    /// A covariate's baseline (first-record) value, if it is a number.
    pub fn covariate(&self, name: &str) -> Option<f64> {
        self.covariate_value(name)?.as_number()
    }

    /// A covariate's baseline (first-record) value.
    pub fn covariate_value(&self, name: &str) -> Option<&CovariateValue> {
        self.covariates.get(name).map(CovariateSeries::baseline)
    }

    /// A covariate over the subject's records (its changes), if the subject has it.
    pub fn covariate_series(&self, name: &str) -> Option<&CovariateSeries> {
        self.covariates.get(name)
    }

    pub(crate) fn covariate_series_mut(&mut self, name: &str) -> Option<&mut CovariateSeries> {
        self.covariates.get_mut(name)
    }
}
