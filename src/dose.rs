//! Bolus doses.

use crate::error::{Error, Result};

/// A bolus dose: `amount` added (times the model's scale) to a state at `time`.
///
/// For the CAR-T models the infusion is a bolus at day 0 with the amount in 10^6 CAR+ T
/// cells: `Dose::bolus(0.0, 10.0)` is dose level 1 (10 × 10^6 cells).
///
/// ```
/// use cart_pkpd::Dose;
/// let infusion = Dose::bolus(0.0, 25.0);
/// assert_eq!(infusion.amount, 25.0);
/// let oral = Dose::bolus(0.0, 320.0).into_state("depot");
/// assert_eq!(oral.target.as_deref(), Some("depot"));
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dose {
    /// Time of the dose (days from infusion for the CAR-T models; ≥ 0).
    pub time: f64,
    /// Amount, in the model's dose unit (10^6 CAR+ T cells for the CAR-T models; ≥ 0).
    pub amount: f64,
    /// Receiving state by name; `None` is the model's default dosing state.
    pub target: Option<String>,
}

impl Dose {
    /// A bolus into the model's default dosing state.
    pub fn bolus(time: f64, amount: f64) -> Self {
        Dose {
            time,
            amount,
            target: None,
        }
    }

    /// The same dose into the named state.
    pub fn into_state(mut self, state: &str) -> Self {
        self.target = Some(state.to_owned());
        self
    }

    /// Checks that time and amount are finite and non-negative.
    ///
    /// ```
    /// use cart_pkpd::Dose;
    /// assert!(Dose::bolus(0.0, 10.0).check().is_ok());
    /// assert!(Dose::bolus(-1.0, 10.0).check().is_err());
    /// assert!(Dose::bolus(0.0, f64::NAN).check().is_err());
    /// ```
    pub fn check(&self) -> Result<()> {
        let reason = if !self.time.is_finite() {
            Some("time is not finite".to_owned())
        } else if self.time < 0.0 {
            Some("time is negative (times are ≥ 0 from the start of the simulation)".to_owned())
        } else if !self.amount.is_finite() {
            Some("amount is not finite".to_owned())
        } else if self.amount < 0.0 {
            Some(format!("amount {} is negative", self.amount))
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::InvalidDose {
                time: self.time,
                reason,
            }),
            None => Ok(()),
        }
    }
}
