//! Dose records: bolus, zero-order infusion (fixed or modelled rate or duration), repeated
//! doses (`ADDL`/`II`) and steady state (`SS`), routed to a compartment by number or name.
//!
//! A [`Dose`] is one NONMEM dose record (`EVID` 1, or 4 with [`Dose::reset`]). What the
//! model does with it — which state receives it, its bioavailability `F`, lag time `ALAG`
//! and modelled rate `R` or duration `D` — comes from the model
//! ([`Model::dose_input`](crate::Model::dose_input),
//! [`Model::compartment_dosing`](crate::Model::compartment_dosing)); the conventions are
//! NONMEM's:
//!
//! - `F` scales the amount of every dose; for an infusion at a fixed rate (`RATE > 0` or a
//!   modelled rate) its duration becomes `F·AMT/RATE`; for a modelled duration the rate
//!   becomes `F·AMT/D`.
//! - `ALAG` shifts the dose (and each of its additional doses) later by the lag.
//! - Additional doses (`ADDL` of them, every `II`) are exactly like the initiating dose.
//! - `SS = 1` resets the amounts (cancelling infusions in progress and pending additional
//!   doses) to the steady state of the regimen `AMT` every `II` (or, with `AMT = 0`,
//!   `II = 0` and a rate, of a constant infusion, which ends at the record's time); `SS = 2`
//!   adds that steady state to the current amounts. With a lag, the steady state is that of
//!   the lagged regimen at the record's time, and the record's own dose enters at
//!   `TIME + ALAG`.

use crate::error::{Error, Result};

/// Largest number of additional doses (`ADDL`) of one record: a million, more than daily
/// dosing for 2 700 years.
pub const MAX_ADDL: u32 = 1_000_000;

/// Where a dose goes: a compartment by its NONMEM number (1-based, the model's state order)
/// or by state name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Compartment {
    /// NONMEM compartment number: `n` is the `n`-th state of the model (1-based).
    Number(u32),
    /// A state (or other dose target) by name, e.g. `"depot"`.
    Name(String),
}

impl std::fmt::Display for Compartment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Compartment::Number(n) => write!(f, "CMT {n}"),
            Compartment::Name(s) => write!(f, "`{s}`"),
        }
    }
}

/// How a dose enters: the NONMEM `RATE` data item.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum DoseRate {
    /// Instantaneous (`RATE = 0`).
    Bolus,
    /// Zero-order infusion at this rate (`RATE > 0`), in dose units per time unit.
    Rate(f64),
    /// Zero-order infusion at the rate the model gives for the compartment (`RATE = -1`).
    ModelledRate,
    /// Zero-order infusion over the duration the model gives for the compartment
    /// (`RATE = -2`).
    ModelledDuration,
}

impl DoseRate {
    /// The NONMEM `RATE` value: `0`, the rate, `-1` or `-2`.
    pub fn nonmem(&self) -> f64 {
        match *self {
            DoseRate::Bolus => 0.0,
            DoseRate::Rate(r) => r,
            DoseRate::ModelledRate => -1.0,
            DoseRate::ModelledDuration => -2.0,
        }
    }
}

/// Steady state: the NONMEM `SS` data item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SteadyState {
    /// Not a steady-state dose (`SS = 0`).
    #[default]
    No,
    /// Reset to the steady state of the regimen (`SS = 1`).
    Reset,
    /// Add the steady state of the regimen to the current amounts (`SS = 2`).
    Add,
}

impl SteadyState {
    /// The NONMEM `SS` value.
    pub fn nonmem(&self) -> u8 {
        match self {
            SteadyState::No => 0,
            SteadyState::Reset => 1,
            SteadyState::Add => 2,
        }
    }
}

/// One dose record.
///
/// For the CAR-T models the infusion is a bolus at day 0 with the amount in 10^6 CAR+ T
/// cells: `Dose::bolus(0.0, 10.0)` is dose level 1 (10 × 10^6 cells).
///
/// ```
/// use cart_pkpd::{Dose, dose::{DoseRate, SteadyState}};
/// let infusion = Dose::bolus(0.0, 25.0);
/// assert_eq!(infusion.amount, 25.0);
/// let oral = Dose::bolus(0.0, 320.0).into_state("depot");
/// assert_eq!(oral.target_name(), Some("depot"));
/// // 100 mg over 2 h every 12 h, five times, starting at steady state
/// let iv = Dose::infusion(0.0, 100.0, 50.0).into_cmt(1).repeat(4, 12.0).steady_state();
/// assert_eq!((iv.rate, iv.addl, iv.ss), (DoseRate::Rate(50.0), 4, SteadyState::Reset));
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dose {
    /// Time of the dose record (the model's time unit; days from infusion for the CAR-T
    /// models; may be negative, e.g. before the CAR-T infusion).
    pub time: f64,
    /// Amount (`AMT`), in the model's dose unit (10^6 CAR+ T cells for the CAR-T models;
    /// ≥ 0).
    pub amount: f64,
    /// Receiving compartment; `None` is the model's default dosing compartment (`CMT` 0 or
    /// missing).
    pub target: Option<Compartment>,
    /// Bolus or zero-order infusion (`RATE`).
    pub rate: DoseRate,
    /// Number of additional doses after this one (`ADDL`, at most [`MAX_ADDL`]).
    pub addl: u32,
    /// Interval between doses (`II`), the model's time unit; > 0 with `addl > 0` or a
    /// steady-state regimen, 0 for a steady-state constant infusion.
    pub ii: f64,
    /// Steady state (`SS`).
    pub ss: SteadyState,
    /// Reset the system before the dose (`EVID = 4`).
    pub reset: bool,
}

impl Dose {
    /// A bolus into the model's default dosing compartment.
    pub fn bolus(time: f64, amount: f64) -> Self {
        Dose {
            time,
            amount,
            target: None,
            rate: DoseRate::Bolus,
            addl: 0,
            ii: 0.0,
            ss: SteadyState::No,
            reset: false,
        }
    }

    /// A zero-order infusion of `amount` at `rate` (amount per time unit) into the default
    /// dosing compartment; it lasts `amount/rate` (`F·amount/rate` with bioavailability).
    pub fn infusion(time: f64, amount: f64, rate: f64) -> Self {
        Dose {
            rate: DoseRate::Rate(rate),
            ..Self::bolus(time, amount)
        }
    }

    /// The same dose into the named state.
    pub fn into_state(mut self, state: &str) -> Self {
        self.target = Some(Compartment::Name(state.to_owned()));
        self
    }

    /// The same dose into NONMEM compartment `cmt` (1-based state number).
    pub fn into_cmt(mut self, cmt: u32) -> Self {
        self.target = Some(Compartment::Number(cmt));
        self
    }

    /// `addl` additional doses, one every `ii` (`ADDL`, `II`).
    pub fn repeat(mut self, addl: u32, ii: f64) -> Self {
        self.addl = addl;
        self.ii = ii;
        self
    }

    /// A steady-state dose (`SS = 1`) of the regimen every `ii` already set by
    /// [`repeat`](Dose::repeat) or [`every`](Dose::every).
    pub fn steady_state(mut self) -> Self {
        self.ss = SteadyState::Reset;
        self
    }

    /// Sets the dosing interval `II` (for a steady-state dose without additional doses).
    pub fn every(mut self, ii: f64) -> Self {
        self.ii = ii;
        self
    }

    /// Sets `SS` (0, 1 or 2).
    pub fn with_ss(mut self, ss: SteadyState) -> Self {
        self.ss = ss;
        self
    }

    /// Sets how the dose enters (`RATE`).
    pub fn with_rate(mut self, rate: DoseRate) -> Self {
        self.rate = rate;
        self
    }

    /// The system is reset just before this dose (`EVID = 4`).
    pub fn after_reset(mut self) -> Self {
        self.reset = true;
        self
    }

    /// The target state's name, if the dose names one.
    pub fn target_name(&self) -> Option<&str> {
        match &self.target {
            Some(Compartment::Name(s)) => Some(s),
            _ => None,
        }
    }

    /// Checks the record on its own: finite time, amount ≥ 0, a positive finite rate, an
    /// interval > 0 with additional doses, and a complete steady-state regimen (`AMT > 0`
    /// and `II > 0`, or a constant infusion: `AMT = 0`, `II = 0`, a rate and no additional
    /// doses).
    ///
    /// # Errors
    /// [`Error::InvalidDose`] naming what is inconsistent (a value that is not finite,
    /// `ADDL` without `II`, steady state without `II`, a negative rate).
    ///
    /// ```
    /// use cart_pkpd::Dose;
    /// assert!(Dose::bolus(-5.0, 10.0).check().is_ok());         // before day 0 is fine
    /// assert!(Dose::bolus(0.0, f64::NAN).check().is_err());
    /// assert!(Dose::bolus(0.0, 10.0).repeat(3, 0.0).check().is_err()); // ADDL without II
    /// assert!(Dose::bolus(0.0, 10.0).steady_state().check().is_err()); // SS without II
    /// ```
    pub fn check(&self) -> Result<()> {
        match self.problem() {
            Some(reason) => Err(Error::InvalidDose {
                subject: None,
                time: self.time,
                reason,
            }),
            None => Ok(()),
        }
    }

    /// What is wrong with the record, if anything (see [`check`](Dose::check)).
    pub(crate) fn problem(&self) -> Option<String> {
        if !self.time.is_finite() {
            return Some("time is not finite".into());
        }
        if !self.amount.is_finite() || self.amount < 0.0 {
            return Some(format!("amount {} must be finite and >= 0", self.amount));
        }
        if let DoseRate::Rate(r) = self.rate
            && !(r.is_finite() && r > 0.0)
        {
            return Some(format!("infusion rate {r} must be finite and > 0"));
        }
        if !(self.ii.is_finite() && self.ii >= 0.0) {
            return Some(format!("interdose interval II = {} must be >= 0", self.ii));
        }
        if self.addl > MAX_ADDL {
            return Some(format!(
                "ADDL = {} exceeds the supported {MAX_ADDL} additional doses",
                self.addl
            ));
        }
        if self.addl > 0 && self.ii == 0.0 {
            return Some(format!("ADDL = {} needs an interval II > 0", self.addl));
        }
        if self.ss == SteadyState::No {
            if self.amount == 0.0 && !matches!(self.rate, DoseRate::Bolus) {
                return Some("an infusion needs an amount > 0".into());
            }
            return None;
        }
        let constant_infusion = self.amount == 0.0 && self.ii == 0.0;
        if constant_infusion {
            if !matches!(self.rate, DoseRate::Rate(_) | DoseRate::ModelledRate) {
                return Some(
                    "a steady-state constant infusion (AMT = 0, II = 0) needs RATE > 0 or -1"
                        .into(),
                );
            }
            if self.addl > 0 {
                return Some("a steady-state constant infusion takes no ADDL".into());
            }
            return None;
        }
        if self.amount == 0.0 || self.ii == 0.0 {
            return Some(format!(
                "a steady-state dose needs AMT > 0 and II > 0 (or AMT = 0 and II = 0 for a \
                 constant infusion), got AMT = {} and II = {}",
                self.amount, self.ii
            ));
        }
        None
    }
}
