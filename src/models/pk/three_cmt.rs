//! Three-compartment models: IV ([`ThreeCmtIv`], ADVAN11) and first-order absorption
//! ([`ThreeCmtOral`], ADVAN12). Equations and units in the [module docs](super).

use super::{Layout, MicroConstants, dosing, pk_model};
use crate::model::CompartmentDosing;

crate::parameters! {
    /// Parameters of [`ThreeCmtIv`] (CMT 1 `central`, 2 `peripheral1`, 3 `peripheral2`).
    ///
    /// ```
    /// use cart_pkpd::models::pk::ThreeCmtIvParams;
    /// let p = ThreeCmtIvParams::new(5.0, 50.0, 10.0, 100.0, 2.0, 400.0)?;
    /// assert_eq!(p.micro().k31, 0.005);
    /// # Ok::<(), cart_pkpd::Error>(())
    /// ```
    pub struct ThreeCmtIvParams keys ThreeCmtIvKeys {
        /// Clearance.
        cl: Positive => "L/h",
        /// Central volume.
        vc: Positive => "L",
        /// Inter-compartmental clearance to `peripheral1`.
        q1: Positive => "L/h",
        /// Volume of `peripheral1`.
        vp1: Positive => "L",
        /// Inter-compartmental clearance to `peripheral2`.
        q2: Positive => "L/h",
        /// Volume of `peripheral2`.
        vp2: Positive => "L",
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

impl ThreeCmtIvParams {
    /// From micro-constants `k10`, `k12`, `k21`, `k13`, `k31` (1/h) and the central
    /// volume `vc` (L).
    pub fn from_micro(
        k10: f64,
        k12: f64,
        k21: f64,
        k13: f64,
        k31: f64,
        vc: f64,
    ) -> crate::Result<Self> {
        Self::new(
            k10 * vc,
            vc,
            k12 * vc,
            k12 * vc / k21,
            k13 * vc,
            k13 * vc / k31,
        )
    }

    /// The rate constants.
    pub fn micro(&self) -> MicroConstants {
        MicroConstants {
            ka: 0.0,
            k10: self.cl / self.vc,
            k12: self.q1 / self.vc,
            k21: self.q1 / self.vp1,
            k13: self.q2 / self.vc,
            k31: self.q2 / self.vp2,
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
    /// Three-compartment model with IV doses (NONMEM ADVAN11 TRANS4): states `central`,
    /// `peripheral1`, `peripheral2`; output `cp` (mg/L).
    ThreeCmtIv, ThreeCmtIvParams, "three_cmt_iv",
    states ["central", "peripheral1", "peripheral2"],
    layout Layout { depot: None, central: 0, peripherals: &[1, 2] },
    default dose "central"
}

crate::parameters! {
    /// Parameters of [`ThreeCmtOral`] (CMT 1 `depot`, 2 `central`, 3 `peripheral1`,
    /// 4 `peripheral2`).
    pub struct ThreeCmtOralParams keys ThreeCmtOralKeys {
        /// Absorption rate constant.
        ka: Positive => "1/h",
        /// Clearance.
        cl: Positive => "L/h",
        /// Central volume.
        vc: Positive => "L",
        /// Inter-compartmental clearance to `peripheral1`.
        q1: Positive => "L/h",
        /// Volume of `peripheral1`.
        vp1: Positive => "L",
        /// Inter-compartmental clearance to `peripheral2`.
        q2: Positive => "L/h",
        /// Volume of `peripheral2`.
        vp2: Positive => "L",
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

impl ThreeCmtOralParams {
    /// From micro-constants `ka`, `k10`, `k12`, `k21`, `k13`, `k31` (1/h) and the central
    /// volume `vc` (L).
    pub fn from_micro(
        ka: f64,
        k10: f64,
        k12: f64,
        k21: f64,
        k13: f64,
        k31: f64,
        vc: f64,
    ) -> crate::Result<Self> {
        Self::new(
            ka,
            k10 * vc,
            vc,
            k12 * vc,
            k12 * vc / k21,
            k13 * vc,
            k13 * vc / k31,
        )
    }

    /// The rate constants.
    pub fn micro(&self) -> MicroConstants {
        MicroConstants {
            ka: self.ka,
            k10: self.cl / self.vc,
            k12: self.q1 / self.vc,
            k21: self.q1 / self.vp1,
            k13: self.q2 / self.vc,
            k31: self.q2 / self.vp2,
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
    /// Three-compartment model with first-order absorption (NONMEM ADVAN12 TRANS4): states
    /// `depot`, `central`, `peripheral1`, `peripheral2`; output `cp` (mg/L).
    ThreeCmtOral, ThreeCmtOralParams, "three_cmt_oral",
    states ["depot", "central", "peripheral1", "peripheral2"],
    layout Layout { depot: Some(0), central: 1, peripherals: &[2, 3] },
    default dose "depot"
}
