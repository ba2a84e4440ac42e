//! A data set: subjects with unique identifiers.

use super::subject::Subject;
use crate::error::{DataErrorKind, Error, Result};
use crate::model::Model;
use std::collections::BTreeSet;

/// Subjects with unique identifiers, in input order.
///
/// ```
/// use cart_pkpd::{Dataset, Subject};
/// let s1 = Subject::builder("1").dose(0.0, 10.0).observe(7.0, "transgene", 9e3).build()?;
/// let s2 = Subject::builder("2").dose(0.0, 25.0).observe(7.0, "transgene", 2e4).build()?;
/// let data = Dataset::new(vec![s1, s2])?;
/// assert_eq!(data.subject("2").unwrap().doses()[0].amount, 25.0);
/// assert_eq!(data.analytes(), vec!["transgene"]);
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "DatasetData")]
pub struct Dataset {
    subjects: Vec<Subject>,
}

/// The serialised form, validated by [`Dataset::new`] on the way in.
#[derive(serde::Deserialize)]
struct DatasetData {
    subjects: Vec<Subject>,
}

impl TryFrom<DatasetData> for Dataset {
    type Error = Error;
    fn try_from(d: DatasetData) -> Result<Self> {
        Dataset::new(d.subjects)
    }
}

impl Dataset {
    /// A data set from subjects; at least one, identifiers unique.
    ///
    /// # Errors
    /// [`Error::Data`] for no subjects or a duplicate subject identifier.
    pub fn new(subjects: Vec<Subject>) -> Result<Self> {
        if subjects.is_empty() {
            return Err(Error::data(None, None, DataErrorKind::EmptyDataset));
        }
        let mut seen = BTreeSet::new();
        for s in &subjects {
            if !seen.insert(s.id()) {
                return Err(Error::data(
                    Some(s.id()),
                    None,
                    DataErrorKind::DuplicateSubject,
                ));
            }
        }
        Ok(Dataset { subjects })
    }

    /// The subjects, in input order.
    pub fn subjects(&self) -> &[Subject] {
        &self.subjects
    }

    /// A subject by identifier.
    pub fn subject(&self, id: &str) -> Option<&Subject> {
        self.subjects.iter().find(|s| s.id() == id)
    }

    /// Distinct analyte names observed, sorted.
    pub fn analytes(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self
            .subjects
            .iter()
            .flat_map(|s| s.observations().iter().map(|o| o.analyte.as_str()))
            .collect();
        set.into_iter().collect()
    }

    /// Checks that every observed analyte is an output of `model`.
    ///
    /// Returns [`Error::UnknownAnalyte`] naming the first subject with an analyte the model
    /// does not have.
    ///
    /// ```
    /// use cart_pkpd::{models::CellularKinetics, Dataset, Subject};
    /// let s = Subject::builder("1").observe(7.0, "b_cells", 50.0).build()?;
    /// let data = Dataset::new(vec![s])?;
    /// assert!(data.check_analytes(&CellularKinetics).is_err());   // model 1 has only transgene
    /// # Ok::<(), cart_pkpd::Error>(())
    /// ```
    pub fn check_analytes<M: Model>(&self, model: &M) -> Result<()> {
        for s in &self.subjects {
            for o in s.observations() {
                if let Err(Error::UnknownAnalyte { name, known, .. }) =
                    model.output_index(&o.analyte)
                {
                    return Err(Error::UnknownAnalyte {
                        name,
                        subject: Some(s.id().to_owned()),
                        known,
                    });
                }
            }
        }
        Ok(())
    }
}
