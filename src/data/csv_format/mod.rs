//! Reading and writing data sets in NONMEM format (CSV).
//!
//! One row per record. Columns are matched by name, case-insensitively, in any order:
//!
//! | column | required | meaning |
//! |---|---|---|
//! | `ID` | yes | subject identifier (any text); a subject's rows are contiguous |
//! | `TIME` | yes | time of the record (the model's time unit; may be negative); non-decreasing within a subject, except after a reset (EVID 3 or 4) |
//! | `DV` | yes | observed value in the analyte's unit; ignored on other records (as is `LLOQ` there, but a censoring flag or `MDV = 0` on a dose, other-type or reset record is an error) |
//! | `EVID` | no | 0 observation, 1 dose, 2 other-type (prediction time, covariate change), 3 reset, 4 reset and dose; without it: a dose where `AMT` ≠ 0, other-type where `MDV` = 1, else an observation |
//! | `MDV` | no | 1 on an observation: predicted, not in the likelihood; must be 1 (or missing) on other records |
//! | `AMT` | no | dose amount (dose units; 10^6 CAR+ T cells for the CAR-T models) |
//! | `RATE` | no | 0 bolus, > 0 infusion rate (amount per time unit), -1 modelled rate, -2 modelled duration |
//! | `ADDL` | no | number of additional doses, one every `II` |
//! | `II` | no | interdose interval of `ADDL` and of a steady-state dose |
//! | `SS` | no | 0, 1 steady state (reset), 2 steady state added to the current amounts |
//! | `CMT` | no | on a dose: the compartment (number = position in the model's states, 1-based, or a state name; 0 = default); on an observation: its analyte, mapped by [`CsvOptions::cmt`] |
//! | `ANALYTE` | no | analyte name on observations; the target state's name on doses without `CMT` |
//! | `CENS` or `BLQ` | no | 1 when the value is below the LLOQ (left-censored), else 0 |
//! | `LLOQ` | no | lower limit of quantification; required on censored rows; a value below it must be flagged censored, and a censored value may not exceed it |
//! | anything else | no | a covariate: numeric, or text (a category) where any value is not a number; may change within a subject |
//!
//! `.` (or an empty field) means missing. On an observation, `AMT`, `RATE`, `ADDL`, `II`
//! and `SS` must be 0 or missing, so files written with `.` or with `0` there read the
//! same. NONMEM data items the library does not implement (`PCMT`, `CALL`, `CONT`, `L1`,
//! `L2`, `XVID1`–`5`, `DATE`, `DAT1`–`3`, `RAW_`, `MRG_`, `RPT_`), `SS = 3`, a negative
//! `ADDL` or `CMT`, and `EVID` > 4 are errors, never covariates or ignored values. Lines
//! starting with `#` are comments. Errors name the file line (the header is line 1), the
//! column and the subject.
//!
//! A covariate's value applies from the record that carries it on; a missing value keeps
//! the previous one, and a subject's first value applies from its first record (see
//! [`CovariateSeries`](crate::data::CovariateSeries)).
//!
//! [`Dataset::write_csv`] writes the same format back
//! (`ID,TIME,DV,AMT,EVID,MDV,CMT,RATE,ADDL,II,SS,ANALYTE,CENS,LLOQ,` then covariates), every
//! record in its order, so a read–write–read round trip gives an equal data set.

mod columns;
mod row;
mod write;

pub use columns::UNSUPPORTED_COLUMNS;

use super::covariate::CovariateValue;
use super::dataset::Dataset;
use super::subject::{OwnedRecord, Subject, col};
use crate::error::{DataErrorKind, Error, Result};
use crate::model::Model;
use columns::Columns;
use row::{Row, parse_record};
use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;

/// How to read a CSV data set.
///
/// [`CsvOptions::for_model`] is the usual start: it accepts the model's outputs and maps
/// its observed compartments. The default accepts any analyte name.
///
/// ```
/// use cart_pkpd::data::CsvOptions;
/// let opts = CsvOptions::default().cmt(2, "cp").cmt(3, "effect").analytes(&["cp", "effect"]);
/// assert_eq!(opts.cmt_analytes[&2], "cp");
/// assert_eq!(opts.known_analytes.unwrap().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CsvOptions {
    /// Name of the analyte column (default `"ANALYTE"`).
    pub analyte_column: String,
    /// Map from an observation's `CMT` number to its analyte.
    pub cmt_analytes: BTreeMap<i64, String>,
    /// Analyte of observations that name none (no analyte, `CMT` missing or 0).
    pub default_analyte: Option<String>,
    /// Analyte names accepted; `None` (the default) accepts any.
    pub known_analytes: Option<Vec<String>>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            analyte_column: col::ANALYTE.to_owned(),
            cmt_analytes: BTreeMap::new(),
            default_analyte: None,
            known_analytes: None,
        }
    }
}

impl CsvOptions {
    /// Options for `model`: its outputs are the accepted analytes, its
    /// [observed compartments](Model::observed_compartments) map `CMT` numbers on
    /// observations, and a model with one output takes observations that name none.
    ///
    /// ```
    /// use cart_pkpd::{data::CsvOptions, models::pk::OneCmtOral};
    /// let opts = CsvOptions::for_model(&OneCmtOral);
    /// assert_eq!(opts.cmt_analytes[&2], "cp");          // NONMEM ADVAN2: CMT 2 is central
    /// assert_eq!(opts.default_analyte.as_deref(), Some("cp"));
    /// ```
    pub fn for_model<M: Model>(model: &M) -> Self {
        let outputs = model.outputs();
        CsvOptions {
            known_analytes: Some(outputs.iter().map(|o| o.name.to_owned()).collect()),
            cmt_analytes: model
                .observed_compartments()
                .into_iter()
                .map(|(c, a)| (i64::from(c), a.to_owned()))
                .collect(),
            default_analyte: (outputs.len() == 1).then(|| outputs[0].name.to_owned()),
            ..Self::default()
        }
    }

    /// Maps a `CMT` number on observations to an analyte name.
    pub fn cmt(mut self, cmt: i64, analyte: &str) -> Self {
        self.cmt_analytes.insert(cmt, analyte.to_owned());
        self
    }

    /// Observations that name no analyte are of this one.
    pub fn default_analyte(mut self, analyte: &str) -> Self {
        self.default_analyte = Some(analyte.to_owned());
        self
    }

    /// Accepts exactly these analyte names: any other is an error naming the subject and
    /// line.
    pub fn analytes(mut self, names: &[&str]) -> Self {
        self.known_analytes = Some(names.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Accepts any analyte name.
    pub fn any_analyte(mut self) -> Self {
        self.known_analytes = None;
        self
    }
}

/// Records of one subject being collected.
struct Pending {
    id: String,
    records: Vec<OwnedRecord>,
    lines: Vec<Option<u64>>,
    /// Covariate changes (raw text), per covariate column.
    changes: Vec<Vec<(usize, CovariateValue)>>,
}

impl Pending {
    fn new(id: &str, n_covariates: usize) -> Self {
        Pending {
            id: id.to_owned(),
            records: Vec::new(),
            lines: Vec::new(),
            changes: vec![Vec::new(); n_covariates],
        }
    }

    /// Notes each covariate's text where it differs from the last value given.
    fn read_covariates(&mut self, row: &Row, cols: &Columns) {
        let position = self.records.len();
        for ((c, _), changes) in cols.covariates.iter().zip(&mut self.changes) {
            let Some(text) = row.text(*c) else { continue };
            let same =
                matches!(changes.last(), Some((_, CovariateValue::Text(last))) if last == text);
            if !same {
                changes.push((position, CovariateValue::Text(text.to_owned())));
            }
        }
    }

    fn finish(self, cols: &Columns) -> Result<Subject> {
        let covariates = cols
            .covariates
            .iter()
            .map(|(_, name)| name.clone())
            .zip(self.changes)
            .filter(|(_, c)| !c.is_empty())
            .collect();
        Subject::from_records(self.id, self.records, &self.lines, covariates)
    }
}

/// Turns every covariate column whose values are all numbers into numbers.
fn type_covariates(subjects: &mut [Subject], cols: &Columns) {
    for (_, name) in &cols.covariates {
        let numeric = subjects.iter().all(|s| {
            s.covariate_series(name)
                .is_none_or(|series| series.reads_as_numbers())
        });
        if numeric {
            for series in subjects
                .iter_mut()
                .filter_map(|s| s.covariate_series_mut(name))
            {
                series.make_numeric();
            }
        }
    }
}

impl Dataset {
    /// Reads a data set from a CSV file (format in the [module docs](self)).
    ///
    /// ```no_run
    /// use cart_pkpd::{data::CsvOptions, Dataset};
    /// let data = Dataset::read_csv("data/cohort.csv", &CsvOptions::default())?;
    /// # Ok::<(), cart_pkpd::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::File`](crate::Error::File) naming the path (cannot open or read, malformed
    /// CSV), [`Error::Data`](crate::Error::Data) naming the line, column and subject of a
    /// bad value.
    pub fn read_csv(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| Error::file(path, e))?;
        Self::from_csv_reader(file, opts).map_err(|e| match e {
            Error::Io(e) => Error::file(path, e),
            Error::Csv(e) => Error::file(path, e),
            other => other,
        })
    }

    /// Reads a data set from any CSV source (format in the [module docs](self)).
    ///
    /// ```
    /// use cart_pkpd::{data::CsvOptions, Dataset};
    /// let csv = "ID,TIME,DV,AMT,EVID,ANALYTE,CENS,LLOQ,DL\n\
    ///            1,0,.,10,1,.,0,.,1\n\
    ///            1,7,21000,.,0,transgene,0,5,1\n\
    ///            1,14,1,.,0,b_cells,1,1,1\n";
    /// let data = Dataset::from_csv_reader(csv.as_bytes(), &CsvOptions::default())?;
    /// let s = &data.subjects()[0];
    /// assert_eq!(s.doses()[0].amount, 10.0);
    /// assert!(s.observations()[1].censored);
    /// assert_eq!(s.covariate("DL"), Some(1.0));
    /// # Ok::<(), cart_pkpd::Error>(())
    /// ```
    pub fn from_csv_reader<R: Read>(reader: R, opts: &CsvOptions) -> Result<Self> {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_reader(reader);
        let header = rdr.headers()?.clone();
        let cols = Columns::from_header(&header, opts)?;
        let mut done: Vec<Subject> = Vec::new();
        let mut seen_ids: HashSet<String> = HashSet::new();
        let mut current: Option<Pending> = None;
        let mut fields = csv::StringRecord::new();
        while rdr.read_record(&mut fields)? {
            let line = fields.position().map_or(0, |p| p.line());
            let id = fields.get(cols.id).unwrap_or("");
            let row = Row {
                fields: &fields,
                header: &header,
                line,
                id,
            };
            if row.text(cols.id).is_none() {
                return Err(row.err(cols.id, DataErrorKind::MissingValue));
            }
            if current.as_ref().is_none_or(|p| p.id != id) {
                if !seen_ids.insert(id.to_owned()) {
                    return Err(row.err(cols.id, DataErrorKind::NonContiguousSubject));
                }
                if let Some(p) = current.take() {
                    done.push(p.finish(&cols)?);
                }
                current = Some(Pending::new(id, cols.covariates.len()));
            }
            let pending = current.as_mut().expect("set above");
            let record = parse_record(&row, &cols, opts)?;
            pending.read_covariates(&row, &cols);
            for (c, _) in &cols.covariates {
                // a covariate that reads as a number must be a finite one
                if let Some(t) = row.text(*c)
                    && t.parse::<f64>().is_ok_and(|v| !v.is_finite())
                {
                    return Err(row.err(*c, DataErrorKind::NonFinite));
                }
            }
            pending.records.push(record);
            pending.lines.push(Some(line));
        }
        if let Some(p) = current {
            done.push(p.finish(&cols)?);
        }
        type_covariates(&mut done, &cols);
        Dataset::new(done)
    }
}
