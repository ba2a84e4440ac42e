//! Writing a data set back in the format [`Dataset::read_csv`] reads.

use crate::data::{Dataset, Record};
use crate::dose::{Compartment, Dose};
use crate::error::{DataErrorKind, Error, Result};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

const HEADER: [&str; 14] = [
    "ID", "TIME", "DV", "AMT", "EVID", "MDV", "CMT", "RATE", "ADDL", "II", "SS", "ANALYTE", "CENS",
    "LLOQ",
];

fn missing() -> String {
    ".".to_owned()
}

fn dose_fields(d: &Dose) -> [String; 13] {
    let (cmt, name) = match &d.target {
        None => (missing(), missing()),
        Some(Compartment::Number(n)) => (n.to_string(), missing()),
        Some(Compartment::Name(s)) => (missing(), s.clone()),
    };
    [
        d.time.to_string(),
        missing(),
        d.amount.to_string(),
        if d.reset { "4" } else { "1" }.into(),
        "1".into(),
        cmt,
        d.rate.nonmem().to_string(),
        d.addl.to_string(),
        d.ii.to_string(),
        d.ss.nonmem().to_string(),
        name,
        "0".into(),
        missing(),
    ]
}

fn event_fields(time: f64, evid: &str) -> [String; 13] {
    let mut f: [String; 13] = std::array::from_fn(|_| missing());
    f[0] = time.to_string();
    f[3] = evid.into();
    f[4] = "1".into();
    f[11] = "0".into();
    f
}

fn record_fields(r: Record<'_>) -> [String; 13] {
    match r {
        Record::Dose(d) => dose_fields(d),
        Record::Observation(o) => {
            let mut f = event_fields(o.time, "0");
            f[1] = o.value.to_string();
            f[4] = if o.mdv { "1" } else { "0" }.into();
            f[10] = o.analyte.clone();
            f[11] = if o.censored { "1" } else { "0" }.into();
            f[12] = o.lloq.map_or_else(missing, |v| v.to_string());
            f
        }
        Record::Other { time } => event_fields(time, "2"),
        Record::Reset { time } => event_fields(time, "3"),
    }
}

impl Dataset {
    /// Writes the data set to a CSV file in the format [`Dataset::read_csv`] reads.
    ///
    /// # Errors
    /// [`Error::File`](crate::Error::File) naming the path, or a text covariate that would
    /// read back as numbers ([`to_csv_writer`](Dataset::to_csv_writer)).
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let file = std::fs::File::create(path).map_err(|e| Error::file(path, e))?;
        self.to_csv_writer(file).map_err(|e| match e {
            Error::Io(e) => Error::file(path, e),
            Error::Csv(e) => Error::file(path, e),
            other => other,
        })
    }

    /// Writes the data set as CSV to any sink: per subject, every record in its order, each
    /// covariate's value in force at each record.
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
    ///
    /// # Errors
    /// [`Error::Data`](crate::Error::Data) for a text covariate whose every value reads as a
    /// number (it would read back as a numeric covariate), I/O and CSV errors of the sink.
    pub fn to_csv_writer<W: Write>(&self, writer: W) -> Result<()> {
        let covariate_names: BTreeSet<&str> = self
            .subjects()
            .iter()
            .flat_map(|s| s.covariate_names())
            .collect();
        for name in &covariate_names {
            let series = || {
                self.subjects()
                    .iter()
                    .filter_map(|s| s.covariate_series(name))
            };
            let text = series().any(|c| c.changes().iter().any(|(_, v)| v.as_number().is_none()));
            if text && series().all(|c| c.reads_as_numbers()) {
                return Err(Error::data(
                    None,
                    Some(name),
                    DataErrorKind::Inconsistent(
                        "a text covariate whose values all read as numbers would read back as \
                         numbers: give them as numbers, or as labels that are not numbers"
                            .into(),
                    ),
                ));
            }
        }
        let mut w = csv::Writer::from_writer(writer);
        let mut header: Vec<&str> = HEADER.to_vec();
        header.extend(covariate_names.iter().copied());
        w.write_record(&header)?;
        let mut row: Vec<String> = Vec::with_capacity(header.len());
        for s in self.subjects() {
            let series: Vec<_> = covariate_names
                .iter()
                .map(|n| s.covariate_series(n))
                .collect();
            for (k, record) in s.records().enumerate() {
                row.clear();
                row.push(s.id().to_owned());
                row.extend(record_fields(record));
                row.extend(
                    series
                        .iter()
                        .map(|c| c.map_or_else(missing, |c| c.at(k).to_string())),
                );
                w.write_record(&row)?;
            }
        }
        w.flush()?;
        Ok(())
    }
}
