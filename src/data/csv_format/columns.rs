//! The header of a NONMEM-format CSV file: which column is which.

use super::CsvOptions;
use crate::data::col;
use crate::error::{DataErrorKind, DataLocation, Error, Result};

/// NONMEM data items the library does not implement. A file with one of these columns is
/// rejected rather than having the column read as a covariate.
pub const UNSUPPORTED_COLUMNS: &[&str] = &[
    "PCMT", "CALL", "CONT", "L1", "L2", "XVID1", "XVID2", "XVID3", "XVID4", "XVID5", "DATE",
    "DAT1", "DAT2", "DAT3", "RAW_", "MRG_", "RPT_",
];

/// Column positions found in the header.
#[derive(Debug, Clone)]
pub(super) struct Columns {
    pub id: usize,
    pub time: usize,
    pub dv: usize,
    pub amt: Option<usize>,
    pub evid: Option<usize>,
    pub mdv: Option<usize>,
    pub cmt: Option<usize>,
    pub rate: Option<usize>,
    pub addl: Option<usize>,
    pub ii: Option<usize>,
    pub ss: Option<usize>,
    pub analyte: Option<usize>,
    pub cens: Option<usize>,
    pub lloq: Option<usize>,
    /// Every other column: a covariate, by position and name.
    pub covariates: Vec<(usize, String)>,
}

fn header_error(column: &str, kind: DataErrorKind) -> Error {
    Error::Data {
        location: DataLocation {
            line: Some(1),
            column: Some(column.to_owned()),
            subject: None,
        },
        kind,
    }
}

impl Columns {
    pub fn from_header(header: &csv::StringRecord, opts: &CsvOptions) -> Result<Self> {
        if let Some(h) = header.iter().find(|h| {
            UNSUPPORTED_COLUMNS
                .iter()
                .any(|u| h.eq_ignore_ascii_case(u))
        }) {
            return Err(header_error(
                h,
                DataErrorKind::UnsupportedColumn(h.to_ascii_uppercase()),
            ));
        }
        for (i, h) in header.iter().enumerate() {
            if header.iter().skip(i + 1).any(|o| o.eq_ignore_ascii_case(h)) {
                return Err(header_error(
                    h,
                    DataErrorKind::Inconsistent("the column appears twice in the header".into()),
                ));
            }
        }
        let find = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
        let require =
            |name: &str| find(name).ok_or_else(|| header_error(name, DataErrorKind::MissingColumn));
        let cens = find("CENS");
        let blq = find("BLQ");
        if cens.is_some() && blq.is_some() {
            return Err(header_error(
                "BLQ",
                DataErrorKind::Inconsistent("give censoring in CENS or in BLQ, not both".into()),
            ));
        }
        let mut cols = Columns {
            id: require(col::ID)?,
            time: require(col::TIME)?,
            dv: require(col::DV)?,
            amt: find(col::AMT),
            evid: find("EVID"),
            mdv: find("MDV"),
            cmt: find("CMT"),
            rate: find("RATE"),
            addl: find("ADDL"),
            ii: find("II"),
            ss: find("SS"),
            analyte: find(&opts.analyte_column),
            cens: cens.or(blq),
            lloq: find(col::LLOQ),
            covariates: Vec::new(),
        };
        if cols.analyte.is_none() && cols.cmt.is_none() && opts.default_analyte.is_none() {
            return Err(header_error(
                &opts.analyte_column,
                DataErrorKind::MissingColumn,
            ));
        }
        let known: Vec<usize> = [cols.id, cols.time, cols.dv]
            .into_iter()
            .chain(
                [
                    cols.amt,
                    cols.evid,
                    cols.mdv,
                    cols.cmt,
                    cols.rate,
                    cols.addl,
                    cols.ii,
                    cols.ss,
                    cols.analyte,
                    cols.cens,
                    cols.lloq,
                ]
                .into_iter()
                .flatten(),
            )
            .collect();
        cols.covariates = header
            .iter()
            .enumerate()
            .filter(|(i, _)| !known.contains(i))
            .map(|(i, h)| (i, h.to_owned()))
            .collect();
        Ok(cols)
    }
}
