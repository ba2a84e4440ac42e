//! Covariates: numbers or category labels, constant or changing within a subject.
//!
//! A covariate is a step function over a subject's records: each value applies from the
//! record that carries it until the next change. A subject's first value (its *baseline*)
//! applies from its first record, even if the first records leave the covariate missing.
//! How a change applies *between* two records — from the earlier record on (last value
//! carried forward, the default) or only from the later record back to the earlier
//! (next value carried backward, what NONMEM's PREDPP does when it advances the system
//! from one record to the next with the later record's values) — is chosen by
//! [`CovariateInterpolation`] where the values are used.

use std::fmt;

/// A covariate's value: a number or a category label (e.g. `SEX = M`).
///
/// ```
/// use cart_pkpd::data::CovariateValue;
/// assert_eq!(CovariateValue::from(70.5).as_number(), Some(70.5));
/// assert_eq!(CovariateValue::from("M").to_string(), "M");
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum CovariateValue {
    /// A number (in the covariate's own unit, e.g. kg).
    Number(f64),
    /// A category label.
    Text(String),
}

impl CovariateValue {
    /// The number, if it is one.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            CovariateValue::Number(v) => Some(*v),
            CovariateValue::Text(_) => None,
        }
    }
}

impl From<f64> for CovariateValue {
    fn from(v: f64) -> Self {
        CovariateValue::Number(v)
    }
}

impl From<&str> for CovariateValue {
    fn from(v: &str) -> Self {
        CovariateValue::Text(v.to_owned())
    }
}

impl From<String> for CovariateValue {
    fn from(v: String) -> Self {
        CovariateValue::Text(v)
    }
}

impl fmt::Display for CovariateValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CovariateValue::Number(v) => write!(f, "{v}"),
            CovariateValue::Text(s) => f.write_str(s),
        }
    }
}

/// How a covariate that changes between two records applies in between.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CovariateInterpolation {
    /// Last value carried forward: a record's value applies from that record on, until the
    /// next change. The default (as in nlmixr2 and Pumas).
    #[default]
    Locf,
    /// Next value carried backward: the advance from one record to the next uses the later
    /// record's value, as NONMEM's PREDPP does; choose it to reproduce NONMEM with
    /// time-varying covariates.
    Nocb,
}

/// A covariate's changes over one subject's records: `(record position, value)`, the first
/// at position 0, positions increasing.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CovariateSeries {
    changes: Vec<(usize, CovariateValue)>,
}

impl CovariateSeries {
    /// A series from its changes; the first is moved to position 0 (the baseline applies
    /// from the first record) and repeated values are merged.
    pub(crate) fn from_changes(mut changes: Vec<(usize, CovariateValue)>) -> Option<Self> {
        changes.sort_by_key(|c| c.0);
        // the last value given at a position wins
        let mut merged: Vec<(usize, CovariateValue)> = Vec::with_capacity(changes.len());
        for (pos, v) in changes {
            match merged.last_mut() {
                Some(last) if last.0 == pos => last.1 = v,
                _ => merged.push((pos, v)),
            }
        }
        merged.dedup_by(|b, a| a.1 == b.1);
        let first = merged.first_mut()?;
        first.0 = 0;
        Some(CovariateSeries { changes: merged })
    }

    /// The value at the subject's first record.
    pub fn baseline(&self) -> &CovariateValue {
        &self.changes[0].1
    }

    /// The value in force at record `position`.
    pub fn at(&self, position: usize) -> &CovariateValue {
        let k = self.changes.partition_point(|c| c.0 <= position);
        &self.changes[k.saturating_sub(1)].1
    }

    /// The changes: `(record position, value)`, the first at position 0.
    pub fn changes(&self) -> &[(usize, CovariateValue)] {
        &self.changes
    }

    /// Whether the value changes within the subject.
    pub fn is_time_varying(&self) -> bool {
        self.changes.len() > 1
    }

    /// Whether every value is a number or text that reads as one.
    pub(crate) fn reads_as_numbers(&self) -> bool {
        self.changes.iter().all(|(_, v)| match v {
            CovariateValue::Text(t) => t.parse::<f64>().is_ok(),
            CovariateValue::Number(_) => true,
        })
    }

    /// Turns text values into the numbers they read as, merging changes that turn out equal
    /// (`70` then `70.0`).
    pub(crate) fn make_numeric(&mut self) {
        for (_, v) in &mut self.changes {
            if let CovariateValue::Text(t) = v {
                *v = CovariateValue::Number(t.parse().unwrap_or(f64::NAN));
            }
        }
        self.changes.dedup_by(|b, a| a.1 == b.1);
    }
}
