//! Two-compartment models: IV ([`TwoCmtIv`], ADVAN3) and first-order absorption
//! ([`TwoCmtOral`], ADVAN4). Equations and units in the [module docs](super).

use super::{Layout, MicroConstants, dosing, pk_model};
use crate::model::CompartmentDosing;

crate::parameters! {
    /// Parameters of [`TwoCmtIv`] (CMT 1 `central`, CMT 2 `peripheral`).
    ///
    /// ```
    /// use cart_pkpd::models::pk::TwoCmtIvParams;
    /// let p = TwoCmtIvParams::new(5.0, 50.0, 10.0, 100.0)?;  // CL, Vc, Q, Vp
    /// assert_eq!((p.micro().k12, p.micro().k21), (0.2, 0.1));
    /// # Ok::<(), cart_pkpd::Error>(())
    /// ```
    pub struct TwoCmtIvParams keys TwoCmtIvKeys {
        /// Clearance.
        cl: Positive => "L/h",
        /// Central volume.
        vc: Positive => "L",
        /// Inter-compartmental clearance.
        q: Positive => "L/h",
        /// Peripheral volume.
        vp: Positive => "L",
        /// Bioavailability of doses into `central` (F1).
        f1: NonNegative = 1.0 => "-",
        /// Lag time of doses into `central` (ALAG1).
        alag1: NonNegative = 0.0 => "h",
        /// Modelled infusion rate into `central` for `RATE = -1` doses (R1; 0: none).
        r1: NonNegative = 0.0 => "mg/h",
        /// Modelled infusion duration into `central` for `RATE = -2` doses (D1; 0: none).
        d1: NonNegative = 0.0 => "h",
    }
}

impl TwoCmtIvParams {
    /// From micro-constants `k10`, `k12`, `k21` (1/h) and the central volume `vc` (L).
    pub fn from_micro(k10: f64, k12: f64, k21: f64, vc: f64) -> crate::Result<Self> {
        Self::new(k10 * vc, vc, k12 * vc, k12 * vc / k21)
    }

    /// The rate constants.
    pub fn micro(&self) -> MicroConstants {
        MicroConstants {
            k10: self.cl / self.vc,
            k12: self.q / self.vc,
            k21: self.q / self.vp,
            ..MicroConstants::default()
        }
    }

    fn dosing(&self, state: usize) -> CompartmentDosing {
        match state {
            0 => dosing(self.f1, self.alag1, self.r1, self.d1),
            _ => CompartmentDosing::default(),
        }
    }
}

pk_model! {
    /// Two-compartment model with IV doses (NONMEM ADVAN3 TRANS4): states `central`,
    /// `peripheral`; output `cp` (mg/L).
    TwoCmtIv, TwoCmtIvParams, "two_cmt_iv",
    states ["central", "peripheral"],
    layout Layout { depot: None, central: 0, peripherals: &[1] },
    default dose "central"
}

crate::parameters! {
    /// Parameters of [`TwoCmtOral`] (CMT 1 `depot`, CMT 2 `central`, CMT 3 `peripheral`).
    pub struct TwoCmtOralParams keys TwoCmtOralKeys {
        /// Absorption rate constant.
        ka: Positive => "1/h",
        /// Clearance.
        cl: Positive => "L/h",
        /// Central volume.
        vc: Positive => "L",
        /// Inter-compartmental clearance.
        q: Positive => "L/h",
        /// Peripheral volume.
        vp: Positive => "L",
        /// Bioavailability of doses into `depot` (F1).
        f1: NonNegative = 1.0 => "-",
        /// Lag time of doses into `depot` (ALAG1).
        alag1: NonNegative = 0.0 => "h",
        /// Modelled infusion rate into `depot` for `RATE = -1` doses (R1; 0: none).
        r1: NonNegative = 0.0 => "mg/h",
        /// Modelled infusion duration into `depot` for `RATE = -2` doses (D1; 0: none).
        d1: NonNegative = 0.0 => "h",
        /// Bioavailability of doses into `central` (F2).
        f2: NonNegative = 1.0 => "-",
        /// Lag time of doses into `central` (ALAG2).
        alag2: NonNegative = 0.0 => "h",
        /// Modelled infusion rate into `central` for `RATE = -1` doses (R2; 0: none).
        r2: NonNegative = 0.0 => "mg/h",
        /// Modelled infusion duration into `central` for `RATE = -2` doses (D2; 0: none).
        d2: NonNegative = 0.0 => "h",
    }
}

impl TwoCmtOralParams {
    /// From micro-constants `ka`, `k10`, `k12`, `k21` (1/h) and the central volume `vc` (L).
    pub fn from_micro(ka: f64, k10: f64, k12: f64, k21: f64, vc: f64) -> crate::Result<Self> {
        Self::new(ka, k10 * vc, vc, k12 * vc, k12 * vc / k21)
    }

    /// The rate constants.
    pub fn micro(&self) -> MicroConstants {
        MicroConstants {
            ka: self.ka,
            k10: self.cl / self.vc,
            k12: self.q / self.vc,
            k21: self.q / self.vp,
            ..MicroConstants::default()
        }
    }

    fn dosing(&self, state: usize) -> CompartmentDosing {
        match state {
            0 => dosing(self.f1, self.alag1, self.r1, self.d1),
            1 => dosing(self.f2, self.alag2, self.r2, self.d2),
            _ => CompartmentDosing::default(),
        }
    }
}

pk_model! {
    /// Two-compartment model with first-order absorption (NONMEM ADVAN4 TRANS4): states
    /// `depot`, `central`, `peripheral`; output `cp` (mg/L).
    TwoCmtOral, TwoCmtOralParams, "two_cmt_oral",
    states ["depot", "central", "peripheral"],
    layout Layout { depot: Some(0), central: 1, peripherals: &[2] },
    default dose "depot"
}
