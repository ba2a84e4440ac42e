//! One-compartment models: IV ([`OneCmtIv`], ADVAN1) and first-order absorption
//! ([`OneCmtOral`], ADVAN2). Equations and units in the [module docs](super).

use super::{Layout, MicroConstants, dosing, pk_model};
use crate::model::CompartmentDosing;

crate::parameters! {
    /// Parameters of [`OneCmtIv`] (CMT 1 `central`).
    ///
    /// ```
    /// use cart_pkpd::models::pk::OneCmtIvParams;
    /// let p = OneCmtIvParams::new(5.0, 50.0)?;          // CL 5 L/h, V 50 L
    /// assert_eq!(p.micro().k10, 0.1);
    /// # Ok::<(), cart_pkpd::Error>(())
    /// ```
    pub struct OneCmtIvParams keys OneCmtIvKeys {
        /// Clearance.
        cl: Positive => "L/h",
        /// Volume of distribution.
        v: Positive => "L",
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

impl OneCmtIvParams {
    /// From micro-constants: elimination rate `k` (1/h) and volume `v` (L).
    pub fn from_micro(k: f64, v: f64) -> crate::Result<Self> {
        Self::new(k * v, v)
    }

    /// The rate constants (`k10 = CL/V`).
    pub fn micro(&self) -> MicroConstants {
        MicroConstants {
            k10: self.cl / self.v,
            ..MicroConstants::default()
        }
    }

    /// Central volume (L).
    pub fn vc(&self) -> f64 {
        self.v
    }

    fn dosing(&self, _: usize) -> CompartmentDosing {
        dosing(self.f1, self.alag1, self.r1, self.d1)
    }
}

pk_model! {
    /// One-compartment model with IV doses (NONMEM ADVAN1 TRANS2): state `central`,
    /// output `cp` (mg/L).
    OneCmtIv, OneCmtIvParams, "one_cmt_iv",
    states ["central"],
    layout Layout { depot: None, central: 0, peripherals: &[] },
    default dose "central"
}

crate::parameters! {
    /// Parameters of [`OneCmtOral`] (CMT 1 `depot`, CMT 2 `central`).
    ///
    /// ```
    /// use cart_pkpd::models::pk::OneCmtOralParams;
    /// let p = OneCmtOralParams::new(1.5, 5.0, 50.0)?;   // ka 1.5 /h, CL 5 L/h, V 50 L
    /// assert_eq!((p.f1(), p.alag2()), (1.0, 0.0));       // dosing parameters default
    /// # Ok::<(), cart_pkpd::Error>(())
    /// ```
    pub struct OneCmtOralParams keys OneCmtOralKeys {
        /// Absorption rate constant.
        ka: Positive => "1/h",
        /// Clearance.
        cl: Positive => "L/h",
        /// Volume of distribution.
        v: Positive => "L",
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

impl OneCmtOralParams {
    /// From micro-constants: absorption `ka`, elimination `k` (1/h) and volume `v` (L).
    pub fn from_micro(ka: f64, k: f64, v: f64) -> crate::Result<Self> {
        Self::new(ka, k * v, v)
    }

    /// The rate constants (`ka`, `k10 = CL/V`).
    pub fn micro(&self) -> MicroConstants {
        MicroConstants {
            ka: self.ka,
            k10: self.cl / self.v,
            ..MicroConstants::default()
        }
    }

    /// Central volume (L).
    pub fn vc(&self) -> f64 {
        self.v
    }

    fn dosing(&self, state: usize) -> CompartmentDosing {
        match state {
            0 => dosing(self.f1, self.alag1, self.r1, self.d1),
            _ => dosing(self.f2, self.alag2, self.r2, self.d2),
        }
    }
}

pk_model! {
    /// One-compartment model with first-order absorption (NONMEM ADVAN2 TRANS2): states
    /// `depot`, `central`; output `cp` (mg/L).
    OneCmtOral, OneCmtOralParams, "one_cmt_oral",
    states ["depot", "central"],
    layout Layout { depot: Some(0), central: 1, peripherals: &[] },
    default dose "depot"
}
