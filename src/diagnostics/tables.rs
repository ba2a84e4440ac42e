//! NONMEM-style output tables as CSV, for R (xpose, vpc, ggplot2) and Python: every column
//! numeric apart from the subject identifier, a missing value written as an empty field
//! (read as `NA` by R and `NaN` by pandas), flags as 0/1.

use super::Npde;
use crate::error::{Error, Result};
use crate::nlme::{PopulationFit, analytes_of};
use std::io::Write;

fn number(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite())
        .map_or_else(String::new, |x| x.to_string())
}

/// Writes the observation table (NONMEM's `sdtab`): one row per observation in the
/// likelihood, columns `ID,TIME,DVID,DV,PRED,IPRED,IWRES,CWRES,NPDE,CENS`. `DVID` numbers
/// the analytes in order of first appearance over [`PopulationFit::subjects`]; `DV` of a
/// censored observation is its LLOQ, with `CENS = 1` and an empty `CWRES`; `NPDE` is empty
/// without `npde` (computed for the same data).
///
/// # Errors
/// [`Error::InvalidOptions`] when `npde` does not have the fit's observations (another data
/// set); [`Error::Io`] or [`Error::Csv`] when writing fails.
pub fn write_sdtab<W: Write>(fit: &PopulationFit, npde: Option<&Npde>, writer: W) -> Result<()> {
    let dvid = analytes_of(&fit.subjects);
    let rows = fit
        .subjects
        .iter()
        .flat_map(|s| s.predictions.iter().map(move |p| (s, p)));
    if let Some(n) = npde {
        let same = n.rows.len() == rows.clone().count()
            && rows
                .clone()
                .zip(&n.rows)
                .all(|((s, p), r)| r.subject == s.subject && r.time == p.time);
        if !same {
            return Err(Error::InvalidOptions {
                reason: "the NPDE were computed for other data than the fit".into(),
            });
        }
    }
    let mut npde_of = npde.map(|n| n.rows.iter().map(|r| r.npde));
    let mut w = csv::Writer::from_writer(writer);
    w.write_record([
        "ID", "TIME", "DVID", "DV", "PRED", "IPRED", "IWRES", "CWRES", "NPDE", "CENS",
    ])?;
    for s in &fit.subjects {
        for p in &s.predictions {
            let npde = npde_of.as_mut().and_then(Iterator::next);
            let id = dvid.iter().position(|a| *a == p.analyte).unwrap_or(0) + 1;
            w.write_record([
                s.subject.clone(),
                p.time.to_string(),
                id.to_string(),
                p.observed.to_string(),
                p.pred.to_string(),
                p.ipred.to_string(),
                number(Some(p.iwres)),
                number(p.cwres),
                number(npde),
                u8::from(p.censored).to_string(),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

/// Writes the parameter table (NONMEM's `patab`): one row per subject, `ID`, then every
/// model parameter at the subject's EBE (named as the model names them), then `ETA1…ETAk`
/// in [`PopulationFit::random_effects`] order.
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) or [`Error::Csv`](crate::Error::Csv) when writing fails.
pub fn write_patab<W: Write>(fit: &PopulationFit, writer: W) -> Result<()> {
    let mut w = csv::Writer::from_writer(writer);
    let Some(first) = fit.subjects.first() else {
        w.flush()?;
        return Ok(());
    };
    let mut header = vec!["ID".to_owned()];
    header.extend(first.params.iter().map(|(n, _)| n.clone()));
    header.extend((1..=fit.random_effects.len()).map(|k| format!("ETA{k}")));
    w.write_record(&header)?;
    for s in &fit.subjects {
        let mut row = vec![s.subject.clone()];
        row.extend(s.params.iter().map(|(_, v)| number(Some(*v))));
        row.extend(s.eta.iter().map(|v| number(Some(*v))));
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}
