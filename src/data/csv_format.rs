//! Reading and writing data sets in a NONMEM-style long CSV format.
//!
//! One row per event. Columns (names matched case-insensitively, any order):
//!
//! | column | required | meaning |
//! |---|---|---|
//! | `ID` | yes | subject identifier (any text); a subject's rows are contiguous |
//! | `TIME` | yes | days from infusion, ≥ 0, non-decreasing within a subject |
//! | `DV` | yes | observed value in the analyte's unit; `.` on dose rows |
//! | `AMT` | no | dose amount (10^6 CAR+ T cells for the CAR-T models); `.` on observation rows |
//! | `EVID` | no | 0 observation, 1 dose; without it, a row with `AMT` > 0 is a dose |
//! | `MDV` | no | 1 on dose rows; an observation row with `MDV` = 1 is rejected |
//! | `ANALYTE` | one of these | analyte name on observation rows, target state (or `.`) on dose rows |
//! | `CMT` | one of these | compartment number, mapped to an analyte name by [`CsvOptions::cmt`] |
//! | `CENS` or `BLQ` | no | 1 when the value is below the LLOQ (left-censored), else 0 |
//! | `LLOQ` | no | lower limit of quantification; required on censored rows |
//! | anything else | no | a baseline covariate: numeric, constant within a subject |
//!
//! `.` (or an empty field) means missing, as in NONMEM files. Errors name the file line
//! (the header is line 1), the column and the subject. [`Dataset::write_csv`] writes the
//! same format back (`ID,TIME,DV,AMT,EVID,MDV,ANALYTE,CENS,LLOQ,` then covariates), so a
//! read–write–read round trip gives an equal data set.

use super::dataset::Dataset;
use super::subject::{Observation, Record, Subject, col, validate_records};
use crate::dose::Dose;
use crate::error::{DataErrorKind, DataLocation, Error, Result};
use crate::model::Model;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;

/// Analytes of the built-in CAR-T models, accepted by [`CsvOptions::default`].
pub const CART_ANALYTES: &[&str] = &[
    "transgene",
    "b_cells",
    "naive_b",
    "memory_b",
    "dn_b",
    "naive_pct",
    "memory_pct",
    "dn_pct",
];

/// How to read a CSV data set.
///
/// ```
/// use cart_pkpd::data::CsvOptions;
/// let opts = CsvOptions::default().cmt(1, "transgene").cmt(2, "b_cells");
/// assert_eq!(opts.cmt_analytes[&2], "b_cells");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CsvOptions {
    /// Name of the analyte column (default `"ANALYTE"`).
    pub analyte_column: String,
    /// Map from `CMT` number to analyte name, used when there is no analyte column.
    pub cmt_analytes: BTreeMap<i64, String>,
    /// Analyte of every observation when the file has neither an analyte nor a CMT column.
    pub default_analyte: Option<String>,
    /// Analyte names accepted; `None` accepts any. Default: [`CART_ANALYTES`].
    pub known_analytes: Option<Vec<String>>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            analyte_column: col::ANALYTE.to_owned(),
            cmt_analytes: BTreeMap::new(),
            default_analyte: None,
            known_analytes: Some(CART_ANALYTES.iter().map(|s| s.to_string()).collect()),
        }
    }
}

impl CsvOptions {
    /// Options accepting exactly the outputs of `model`.
    pub fn for_model<M: Model>(model: &M) -> Self {
        CsvOptions {
            known_analytes: Some(model.outputs().iter().map(|o| o.name.to_owned()).collect()),
            ..Self::default()
        }
    }

    /// Maps a `CMT` number to an analyte name.
    pub fn cmt(mut self, cmt: i64, analyte: &str) -> Self {
        self.cmt_analytes.insert(cmt, analyte.to_owned());
        self
    }

    /// Every observation is of this analyte (files with no analyte or CMT column).
    pub fn default_analyte(mut self, analyte: &str) -> Self {
        self.default_analyte = Some(analyte.to_owned());
        self
    }

    /// Accepts any analyte name.
    pub fn any_analyte(mut self) -> Self {
        self.known_analytes = None;
        self
    }
}

/// Column positions found in the header.
struct Columns {
    id: usize,
    time: usize,
    dv: usize,
    amt: Option<usize>,
    evid: Option<usize>,
    mdv: Option<usize>,
    analyte: Option<usize>,
    cmt: Option<usize>,
    cens: Option<(usize, &'static str)>,
    lloq: Option<usize>,
    covariates: Vec<(usize, String)>,
}

impl Columns {
    fn from_header(header: &csv::StringRecord, opts: &CsvOptions) -> Result<Self> {
        let find = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
        let require = |name: &str| {
            find(name).ok_or_else(|| Error::Data {
                location: DataLocation {
                    line: Some(1),
                    column: Some(name.to_owned()),
                    subject: None,
                },
                kind: DataErrorKind::MissingColumn,
            })
        };
        let cols = Columns {
            id: require(col::ID)?,
            time: require(col::TIME)?,
            dv: require(col::DV)?,
            amt: find(col::AMT),
            evid: find("EVID"),
            mdv: find("MDV"),
            analyte: find(&opts.analyte_column),
            cmt: find("CMT"),
            cens: find("CENS")
                .map(|i| (i, "CENS"))
                .or_else(|| find("BLQ").map(|i| (i, "BLQ"))),
            lloq: find(col::LLOQ),
            covariates: Vec::new(),
        };
        if cols.analyte.is_none() && cols.cmt.is_none() && opts.default_analyte.is_none() {
            return Err(Error::Data {
                location: DataLocation {
                    line: Some(1),
                    column: Some(opts.analyte_column.clone()),
                    subject: None,
                },
                kind: DataErrorKind::MissingColumn,
            });
        }
        let known: BTreeSet<usize> = [cols.id, cols.time, cols.dv]
            .into_iter()
            .chain(
                [
                    cols.amt,
                    cols.evid,
                    cols.mdv,
                    cols.analyte,
                    cols.cmt,
                    cols.lloq,
                ]
                .into_iter()
                .flatten(),
            )
            .chain(cols.cens.map(|c| c.0))
            .chain(find("BLQ"))
            .collect();
        let covariates = header
            .iter()
            .enumerate()
            .filter(|(i, _)| !known.contains(i))
            .map(|(i, h)| (i, h.to_owned()))
            .collect();
        Ok(Columns { covariates, ..cols })
    }
}

/// One CSV row being parsed, with what is needed to locate an error.
struct Row<'a> {
    fields: &'a csv::StringRecord,
    header: &'a csv::StringRecord,
    line: u64,
    id: &'a str,
}

impl Row<'_> {
    fn err(&self, column: usize, kind: DataErrorKind) -> Error {
        Error::Data {
            location: DataLocation {
                line: Some(self.line),
                column: self.header.get(column).map(str::to_owned),
                subject: Some(self.id.to_owned()),
            },
            kind,
        }
    }

    fn text(&self, column: usize) -> Option<&str> {
        let s = self.fields.get(column).unwrap_or("").trim();
        (!s.is_empty() && s != ".").then_some(s)
    }

    fn number(&self, column: Option<usize>) -> Result<Option<f64>> {
        let Some(c) = column else { return Ok(None) };
        match self.text(c) {
            None => Ok(None),
            Some(s) => s
                .parse::<f64>()
                .map(Some)
                .map_err(|_| self.err(c, DataErrorKind::NonNumeric(s.to_owned()))),
        }
    }

    fn required(&self, column: usize) -> Result<f64> {
        self.number(Some(column))?
            .ok_or_else(|| self.err(column, DataErrorKind::MissingValue))
    }

    fn flag(&self, column: Option<(usize, &str)>, allowed: &[f64], what: &str) -> Result<f64> {
        let Some((c, _)) = column else { return Ok(0.0) };
        let v = self.number(Some(c))?.unwrap_or(0.0);
        if allowed.contains(&v) {
            Ok(v)
        } else {
            let allowed: Vec<String> = allowed.iter().map(f64::to_string).collect();
            let reason = format!("{what} must be one of {}", allowed.join(", "));
            Err(self.err(
                c,
                DataErrorKind::Unsupported {
                    value: v.to_string(),
                    reason,
                },
            ))
        }
    }
}

fn parse_record(row: &Row, cols: &Columns, opts: &CsvOptions) -> Result<Record> {
    let time = row.required(cols.time)?;
    let amt = row.number(cols.amt)?;
    let is_dose = match cols.evid {
        Some(c) => row.flag(Some((c, "EVID")), &[0.0, 1.0], "EVID")? == 1.0,
        None => amt.is_some_and(|a| a != 0.0),
    };
    if is_dose {
        let amount =
            amt.ok_or_else(|| row.err(cols.amt.unwrap_or(cols.dv), DataErrorKind::MissingValue))?;
        let target = cols.analyte.and_then(|c| row.text(c)).map(str::to_owned);
        return Ok(Record::Dose(Dose {
            time,
            amount,
            target,
        }));
    }
    row.flag(
        cols.mdv.map(|c| (c, "MDV")),
        &[0.0],
        "MDV on an observation row (EVID 0)",
    )?;
    let analyte = observation_analyte(row, cols, opts)?;
    let censored = row.flag(cols.cens, &[0.0, 1.0], "a censoring flag")? == 1.0;
    let lloq = row.number(cols.lloq)?;
    let value = match row.number(Some(cols.dv))? {
        Some(v) => v,
        // the value of a censored row is not a measurement: record its LLOQ
        None if censored => lloq.unwrap_or(0.0),
        None => return Err(row.err(cols.dv, DataErrorKind::MissingValue)),
    };
    Ok(Record::Observation(Observation {
        time,
        analyte,
        value,
        lloq,
        censored,
    }))
}

fn observation_analyte(row: &Row, cols: &Columns, opts: &CsvOptions) -> Result<String> {
    let (name, column) = if let Some(c) = cols.analyte {
        let name = row
            .text(c)
            .ok_or_else(|| row.err(c, DataErrorKind::MissingValue))?;
        (name.to_owned(), c)
    } else if let Some(c) = cols.cmt {
        let cmt = row.required(c)?;
        let name = opts
            .cmt_analytes
            .get(&(cmt as i64))
            .filter(|_| cmt.fract() == 0.0);
        let known = || {
            opts.cmt_analytes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let name = name.ok_or_else(|| {
            row.err(
                c,
                DataErrorKind::UnknownAnalyte {
                    name: format!("CMT {cmt}"),
                    known: known(),
                },
            )
        })?;
        (name.clone(), c)
    } else {
        let name = opts.default_analyte.clone().unwrap_or_default();
        (name, cols.dv)
    };
    if let Some(known) = &opts.known_analytes
        && !known.contains(&name)
    {
        return Err(row.err(
            column,
            DataErrorKind::UnknownAnalyte {
                name,
                known: known.join(", "),
            },
        ));
    }
    Ok(name)
}

/// Records of one subject being collected.
struct Pending {
    id: String,
    records: Vec<Record>,
    lines: Vec<Option<u64>>,
    covariates: BTreeMap<String, f64>,
}

impl Pending {
    fn finish(self) -> Result<Subject> {
        validate_records(&self.id, &self.records, &self.lines)?;
        Ok(Subject::from_records(
            self.id,
            self.records,
            self.covariates,
        ))
    }
}

fn read_covariates(row: &Row, cols: &Columns, into: &mut BTreeMap<String, f64>) -> Result<()> {
    for (c, name) in &cols.covariates {
        let Some(v) = row.number(Some(*c))? else {
            continue;
        };
        if !v.is_finite() {
            return Err(row.err(*c, DataErrorKind::NonFinite));
        }
        match into.get(name) {
            Some(&first) if first != v => {
                return Err(row.err(*c, DataErrorKind::TimeVaryingCovariate { first, other: v }));
            }
            Some(_) => {}
            None => {
                into.insert(name.clone(), v);
            }
        }
    }
    Ok(())
}

impl Dataset {
    /// Reads a data set from a CSV file (format in the [module docs](self)).
    ///
    /// ```no_run
    /// use cart_pkpd::{data::CsvOptions, Dataset};
    /// let data = Dataset::read_csv("data/cohort.csv", &CsvOptions::default())?;
    /// # Ok::<(), cart_pkpd::Error>(())
    /// ```
    pub fn read_csv(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<Self> {
        Self::from_csv_reader(std::fs::File::open(path)?, opts)
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
            .from_reader(reader);
        let header = rdr.headers()?.clone();
        let cols = Columns::from_header(&header, opts)?;
        let mut done: Vec<Subject> = Vec::new();
        let mut seen_ids = BTreeSet::new();
        let mut current: Option<Pending> = None;
        for result in rdr.records() {
            let fields = result?;
            let line = fields.position().map_or(0, |p| p.line());
            let id = fields.get(cols.id).unwrap_or("").trim();
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
                    done.push(p.finish()?);
                }
                current = Some(Pending {
                    id: id.to_owned(),
                    records: Vec::new(),
                    lines: Vec::new(),
                    covariates: BTreeMap::new(),
                });
            }
            let pending = current.as_mut().expect("set above");
            pending.records.push(parse_record(&row, &cols, opts)?);
            pending.lines.push(Some(line));
            read_covariates(&row, &cols, &mut pending.covariates)?;
        }
        if let Some(p) = current {
            done.push(p.finish()?);
        }
        Dataset::new(done)
    }

    /// Writes the data set to a CSV file in the format [`Dataset::read_csv`] reads.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        self.to_csv_writer(std::fs::File::create(path)?)
    }

    /// Writes the data set as CSV to any sink: per subject, records in time order (a dose
    /// before an observation at the same time), covariates on every row.
    ///
    /// ```
    /// use cart_pkpd::{data::CsvOptions, Dataset, Subject};
    /// let s = Subject::builder("7").dose(0.0, 25.0).observe_censored(28.0, "b_cells", 1.0).build()?;
    /// let data = Dataset::new(vec![s])?;
    /// let mut buf = Vec::new();
    /// data.to_csv_writer(&mut buf)?;
    /// let back = Dataset::from_csv_reader(buf.as_slice(), &CsvOptions::default())?;
    /// assert_eq!(back, data);
    /// # Ok::<(), cart_pkpd::Error>(())
    /// ```
    pub fn to_csv_writer<W: Write>(&self, writer: W) -> Result<()> {
        let covariate_names: BTreeSet<&str> = self
            .subjects()
            .iter()
            .flat_map(|s| s.covariates().keys().map(String::as_str))
            .collect();
        let mut w = csv::Writer::from_writer(writer);
        let mut header = vec![
            "ID", "TIME", "DV", "AMT", "EVID", "MDV", "ANALYTE", "CENS", "LLOQ",
        ];
        header.extend(covariate_names.iter().copied());
        w.write_record(&header)?;
        let opt = |v: Option<f64>| v.map_or_else(|| ".".to_owned(), |v| v.to_string());
        for s in self.subjects() {
            let covs: Vec<String> = covariate_names
                .iter()
                .map(|n| opt(s.covariate(n)))
                .collect();
            let (mut doses, mut obs) = (
                s.doses().iter().peekable(),
                s.observations().iter().peekable(),
            );
            loop {
                let dose_next = match (doses.peek(), obs.peek()) {
                    (Some(d), Some(o)) => d.time <= o.time,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (None, None) => break,
                };
                let mut row: Vec<String> = if dose_next {
                    let d = doses.next().expect("peeked");
                    let target = d.target.clone().unwrap_or_else(|| ".".into());
                    vec![
                        s.id().into(),
                        d.time.to_string(),
                        ".".into(),
                        d.amount.to_string(),
                        "1".into(),
                        "1".into(),
                        target,
                        "0".into(),
                        ".".into(),
                    ]
                } else {
                    let o = obs.next().expect("peeked");
                    let cens = if o.censored { "1" } else { "0" };
                    vec![
                        s.id().into(),
                        o.time.to_string(),
                        o.value.to_string(),
                        ".".into(),
                        "0".into(),
                        "0".into(),
                        o.analyte.clone(),
                        cens.into(),
                        opt(o.lloq),
                    ]
                };
                row.extend(covs.iter().cloned());
                w.write_record(&row)?;
            }
        }
        w.flush()?;
        Ok(())
    }
}
