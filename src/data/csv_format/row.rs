//! One CSV row to one record: the NONMEM event-record rules.

use super::CsvOptions;
use super::columns::Columns;
use crate::data::subject::EventKind;
use crate::data::{Observation, OwnedRecord};
use crate::dose::{Compartment, Dose, DoseRate, SteadyState};
use crate::error::{DataErrorKind, DataLocation, Error, Result};

/// One CSV row being parsed, with what is needed to locate an error.
pub(super) struct Row<'a> {
    pub fields: &'a csv::StringRecord,
    pub header: &'a csv::StringRecord,
    pub line: u64,
    pub id: &'a str,
}

impl Row<'_> {
    pub fn err(&self, column: usize, kind: DataErrorKind) -> Error {
        Error::Data {
            location: DataLocation {
                line: Some(self.line),
                column: self.header.get(column).map(str::to_owned),
                subject: Some(self.id.to_owned()),
            },
            kind,
        }
    }

    /// The field's text, `None` when missing (`.` or empty).
    pub fn text(&self, column: usize) -> Option<&str> {
        let s = self.fields.get(column).unwrap_or("");
        (!s.is_empty() && s != ".").then_some(s)
    }

    pub fn number(&self, column: Option<usize>) -> Result<Option<f64>> {
        let Some(c) = column else { return Ok(None) };
        match self.text(c) {
            None => Ok(None),
            Some(s) => match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v)),
                Ok(_) => Err(self.err(c, DataErrorKind::NonFinite)),
                Err(_) => Err(self.err(c, DataErrorKind::NonNumeric(s.to_owned()))),
            },
        }
    }

    fn required(&self, column: usize) -> Result<f64> {
        self.number(Some(column))?
            .ok_or_else(|| self.err(column, DataErrorKind::MissingValue))
    }

    fn unsupported(&self, column: usize, value: f64, reason: &str) -> Error {
        self.err(
            column,
            DataErrorKind::Unsupported {
                value: value.to_string(),
                reason: reason.to_owned(),
            },
        )
    }

    /// A code that must be one of `allowed` (missing reads as `default`).
    fn code(
        &self,
        column: Option<usize>,
        allowed: &[f64],
        default: f64,
        what: &str,
    ) -> Result<f64> {
        let Some(c) = column else { return Ok(default) };
        let v = self.number(Some(c))?.unwrap_or(default);
        if allowed.contains(&v) {
            Ok(v)
        } else {
            let allowed: Vec<String> = allowed.iter().map(f64::to_string).collect();
            Err(self.unsupported(
                c,
                v,
                &format!("{what} must be one of {}", allowed.join(", ")),
            ))
        }
    }

    /// A field that must be 0 or missing on this kind of record.
    fn zero_or_missing(&self, column: Option<usize>, record: &str) -> Result<()> {
        let Some(c) = column else { return Ok(()) };
        match self.number(Some(c))? {
            None => Ok(()),
            Some(0.0) => Ok(()),
            Some(v) => {
                let name = self.header.get(c).unwrap_or("?").to_ascii_uppercase();
                Err(self.err(
                    c,
                    DataErrorKind::Inconsistent(format!(
                        "{name} = {v} on {record} (it must be 0 or missing there)"
                    )),
                ))
            }
        }
    }

    /// A whole number ≥ 0 (missing: 0).
    fn count(&self, column: Option<usize>, what: &str) -> Result<u32> {
        let Some(c) = column else { return Ok(0) };
        let v = self.number(Some(c))?.unwrap_or(0.0);
        if v < 0.0 {
            return Err(self.unsupported(
                c,
                v,
                &format!("a negative {what} (NONMEM's empirical steady state) is not supported"),
            ));
        }
        if v.fract() != 0.0 || v > f64::from(u32::MAX) {
            return Err(self.unsupported(c, v, &format!("{what} must be a whole number")));
        }
        Ok(v as u32)
    }
}

/// Reads the record of one row.
pub(super) fn parse_record(row: &Row, cols: &Columns, opts: &CsvOptions) -> Result<OwnedRecord> {
    let time = row.required(cols.time)?;
    let mdv = match (cols.mdv, row.number(cols.mdv)?) {
        (Some(c), Some(v)) if v != 0.0 && v != 1.0 => {
            return Err(row.unsupported(c, v, "MDV must be 0 or 1"));
        }
        (_, v) => v.map(|v| v == 1.0),
    };
    let evid = match cols.evid {
        Some(c) => match row.number(Some(c))? {
            Some(v) if [0.0, 1.0, 2.0, 3.0, 4.0].contains(&v) => v as u8,
            Some(v) => return Err(row.unsupported(c, v, "EVID must be 0, 1, 2, 3 or 4")),
            None => return Err(row.err(c, DataErrorKind::MissingValue)),
        },
        None => infer_evid(row, cols, mdv)?,
    };
    if evid != 0 {
        if mdv == Some(false) {
            let c = cols.mdv.unwrap_or(cols.dv);
            return Err(row.err(
                c,
                DataErrorKind::Inconsistent(format!("MDV = 0 on an EVID = {evid} record")),
            ));
        }
        if row.code(cols.cens, &[0.0, 1.0], 0.0, "a censoring flag")? == 1.0 {
            let c = cols.cens.unwrap_or(cols.dv);
            return Err(row.err(
                c,
                DataErrorKind::Inconsistent(format!("a censoring flag on an EVID = {evid} record")),
            ));
        }
    }
    match evid {
        0 => observation(row, cols, opts, time, mdv == Some(true)).map(OwnedRecord::Observation),
        1 | 4 => dose(row, cols, time, evid == 4).map(OwnedRecord::Dose),
        _ => {
            let what = if evid == 2 {
                "an other-type (EVID 2) record"
            } else {
                "a reset (EVID 3) record"
            };
            for c in [cols.amt, cols.rate, cols.addl, cols.ii, cols.ss] {
                row.zero_or_missing(c, what)?;
            }
            // a positive CMT turns a compartment on, which every compartment here is
            if let Some(c) = cols.cmt
                && let Some(v) = row.number(Some(c)).ok().flatten().filter(|v| *v < 0.0)
            {
                let reason = "turning a compartment off (negative CMT) is not supported";
                return Err(row.unsupported(c, v, reason));
            }
            let kind = if evid == 2 {
                EventKind::Other
            } else {
                EventKind::Reset
            };
            Ok(OwnedRecord::Event { time, kind })
        }
    }
}

/// EVID from the other items, as NM-TRAN does: a dose where there is an amount (or a
/// steady-state infusion rate), else other-type where `MDV = 1`, else an observation.
fn infer_evid(row: &Row, cols: &Columns, mdv: Option<bool>) -> Result<u8> {
    let amt = row.number(cols.amt)?.unwrap_or(0.0);
    let ss = row.number(cols.ss)?.unwrap_or(0.0);
    let rate = row.number(cols.rate)?.unwrap_or(0.0);
    Ok(if amt != 0.0 || (ss != 0.0 && rate != 0.0) {
        1
    } else if mdv == Some(true) {
        2
    } else {
        0
    })
}

fn observation(
    row: &Row,
    cols: &Columns,
    opts: &CsvOptions,
    time: f64,
    mdv: bool,
) -> Result<Observation> {
    let what = "an observation (EVID 0) record";
    for c in [cols.amt, cols.rate, cols.addl, cols.ii, cols.ss] {
        row.zero_or_missing(c, what)?;
    }
    let analyte = observation_analyte(row, cols, opts)?;
    let censored = row.code(cols.cens, &[0.0, 1.0], 0.0, "a censoring flag")? == 1.0;
    let lloq = row.number(cols.lloq)?;
    let value = match row.number(Some(cols.dv))? {
        Some(v) => v,
        // the value of a censored row is not a measurement: record its LLOQ
        None if censored => lloq.unwrap_or(0.0),
        None if mdv => 0.0,
        None => return Err(row.err(cols.dv, DataErrorKind::MissingValue)),
    };
    Ok(Observation {
        time,
        analyte,
        value,
        lloq,
        censored,
        mdv,
    })
}

fn dose(row: &Row, cols: &Columns, time: f64, reset: bool) -> Result<Dose> {
    let amount = row.number(cols.amt)?.unwrap_or(0.0);
    let rate = match row.number(cols.rate)? {
        None => DoseRate::Bolus,
        Some(0.0) => DoseRate::Bolus,
        Some(v) if v > 0.0 => DoseRate::Rate(v),
        Some(-1.0) => DoseRate::ModelledRate,
        Some(-2.0) => DoseRate::ModelledDuration,
        Some(v) => {
            let c = cols.rate.unwrap_or(cols.dv);
            return Err(row.unsupported(
                c,
                v,
                "RATE must be > 0, 0, -1 (modelled rate) or -2 (modelled duration)",
            ));
        }
    };
    let ss = match row.code(
        cols.ss,
        &[0.0, 1.0, 2.0],
        0.0,
        "SS (SS = 3 is not supported)",
    )? {
        1.0 => SteadyState::Reset,
        2.0 => SteadyState::Add,
        _ => SteadyState::No,
    };
    let ii = row.number(cols.ii)?.unwrap_or(0.0);
    if ii < 0.0 {
        return Err(row.err(
            cols.ii.unwrap_or(cols.dv),
            DataErrorKind::Inconsistent(format!("II = {ii} is negative")),
        ));
    }
    Ok(Dose {
        time,
        amount,
        target: dose_target(row, cols)?,
        rate,
        addl: row.count(cols.addl, "ADDL")?,
        ii,
        ss,
        reset,
    })
}

/// The compartment of a dose: `CMT` by number (or name), else the analyte column's state
/// name, else the model's default.
fn dose_target(row: &Row, cols: &Columns) -> Result<Option<Compartment>> {
    if let Some(c) = cols.cmt
        && let Some(text) = row.text(c)
    {
        return match text.parse::<f64>() {
            Ok(0.0) => Ok(None),
            Ok(v) if v >= 100.0 && (v == 100.0 || v == 1000.0) => {
                Err(row.unsupported(c, v, "the output compartment cannot receive a dose"))
            }
            Ok(v) if v > 0.0 && v.fract() == 0.0 && v < f64::from(u32::MAX) => {
                Ok(Some(Compartment::Number(v as u32)))
            }
            Ok(v) => Err(row.unsupported(
                c,
                v,
                "CMT on a dose record must be a compartment number > 0",
            )),
            Err(_) => Ok(Some(Compartment::Name(text.to_owned()))),
        };
    }
    Ok(cols
        .analyte
        .and_then(|c| row.text(c))
        .map(|s| Compartment::Name(s.to_owned())))
}

fn observation_analyte(row: &Row, cols: &Columns, opts: &CsvOptions) -> Result<String> {
    let (name, column) = if let Some(name) = cols.analyte.and_then(|c| row.text(c)) {
        (name.to_owned(), cols.analyte.unwrap_or(cols.dv))
    } else if let Some((c, cmt)) = cols
        .cmt
        .and_then(|c| row.number(Some(c)).transpose().map(|v| (c, v)))
        .filter(|(_, v)| !matches!(v, Ok(x) if *x == 0.0))
    {
        let cmt = cmt?;
        let known = || {
            if opts.cmt_analytes.is_empty() {
                return "no CMT is mapped to an analyte; map them with CsvOptions::cmt".into();
            }
            opts.cmt_analytes
                .iter()
                .map(|(k, v)| format!("CMT {k} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let name = opts
            .cmt_analytes
            .get(&(cmt as i64))
            .filter(|_| cmt.fract() == 0.0)
            .ok_or_else(|| {
                row.err(
                    c,
                    DataErrorKind::UnknownAnalyte {
                        name: format!("CMT {cmt}"),
                        known: known(),
                    },
                )
            })?;
        (name.clone(), c)
    } else if let Some(name) = &opts.default_analyte {
        (name.clone(), cols.dv)
    } else {
        let c = cols.analyte.or(cols.cmt).unwrap_or(cols.dv);
        return Err(row.err(c, DataErrorKind::MissingValue));
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
