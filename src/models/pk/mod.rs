//! Standard pharmacokinetic models: 1-, 2- and 3-compartment disposition with IV bolus and
//! infusion ([`OneCmtIv`], [`TwoCmtIv`], [`ThreeCmtIv`]: NONMEM ADVAN1, 3, 11) or
//! first-order absorption from a depot ([`OneCmtOral`], [`TwoCmtOral`], [`ThreeCmtOral`]:
//! ADVAN2, 4, 12), parameterised by clearance, volumes, inter-compartmental clearances and
//! `ka` (micro-constants through each parameter set's `from_micro`).
//!
//! # Equations
//! Amounts `A` (dose units, e.g. mg) in the depot `Ad`, central `Ac` and peripheral
//! compartments `Ap1`, `Ap2`; with `k10 = CL/Vc`, `k1j = Qj/Vc`, `kj1 = Qj/Vpj`:
//!
//! ```text
//! dAd/dt  = −ka·Ad                                             (oral models)
//! dAc/dt  =  ka·Ad − (k10 + Σj k1j)·Ac + Σj kj1·Apj
//! dApj/dt =  k1j·Ac − kj1·Apj
//! cp      =  Ac / Vc
//! ```
//!
//! plus zero-order infusion rates into any compartment. The models are linear
//! ([`Model::linear_system`]): simulations and fits use the exact solution (closed form of
//! the matrix exponential, see [`LinearCompartments`]) for bolus and infusion doses, lag,
//! bioavailability, additional doses and steady state;
//! [`SolutionMethod::Ode`](crate::SolutionMethod::Ode) integrates the same equations
//! instead, for checking, with their Jacobian (the constant rate matrix,
//! [`Model::jacobian`]) for the implicit integrator and for forward sensitivities.
//!
//! # Units
//! Any consistent units; the unit strings assume mg, L and h: `CL`, `Q` in L/h, volumes in
//! L, `ka` in 1/h, lag times and durations in h, modelled rates in mg/h, `cp` in mg/L.
//!
//! # Compartments and dosing parameters
//! NONMEM numbering: compartment `n` is the `n`-th state ([`OneCmtOral::STATES`] etc.).
//! Each dosable compartment `n` has a bioavailability `fn` (default 1), a lag time `alagn`
//! (default 0), a modelled rate `rn` for `RATE = -1` doses and a modelled duration `dn` for
//! `RATE = -2` doses (default 0: not modelled, and such a dose is an error). They are model
//! parameters like any other, so they can be estimated with between-subject variability.
//! Doses go to the depot (oral models) or the central compartment (IV models) by default;
//! observations of `cp` are in the central compartment (`CMT` 2 in the oral models, 1 in the
//! IV models).
//!
//! ```
//! use cart_pkpd::models::pk::{OneCmtOral, OneCmtOralParams};
//! use cart_pkpd::{simulate, Dose, Parameters, SolverOptions};
//! // CL 5 L/h, V 50 L, ka 1.5 /h; 70% of the oral dose absorbed, after 0.5 h
//! let p = OneCmtOralParams::new(1.5, 5.0, 50.0)?.with_all(&[("f1", 0.7), ("alag1", 0.5)])?;
//! let regimen = Dose::bolus(0.0, 100.0).repeat(13, 12.0);          // 100 mg every 12 h
//! let exact = simulate(&OneCmtOral, &p, &[regimen.clone()], &[150.0], &SolverOptions::default())?;
//! let ode = simulate(&OneCmtOral, &p, &[regimen], &[150.0], &SolverOptions::accurate().ode())?;
//! let (a, b) = (exact.get("cp")?[0], ode.get("cp")?[0]);
//! assert!((a - b).abs() < 1e-8 * a);
//! # Ok::<(), cart_pkpd::Error>(())
//! ```

mod one_cmt;
mod three_cmt;
mod two_cmt;

pub use one_cmt::{
    OneCmtIv, OneCmtIvKeys, OneCmtIvParams, OneCmtOral, OneCmtOralKeys, OneCmtOralParams,
};
pub use three_cmt::{
    ThreeCmtIv, ThreeCmtIvKeys, ThreeCmtIvParams, ThreeCmtOral, ThreeCmtOralKeys,
    ThreeCmtOralParams,
};
pub use two_cmt::{
    TwoCmtIv, TwoCmtIvKeys, TwoCmtIvParams, TwoCmtOral, TwoCmtOralKeys, TwoCmtOralParams,
};

#[allow(unused_imports)] // used in the docs above
use crate::model::Model;
use crate::model::{CompartmentDosing, OutputSpec};
use crate::simulate::{Absorption, LinearCompartments, Peripheral};

/// The one output of every PK model.
pub(crate) const CP: &[OutputSpec] = &[OutputSpec {
    name: "cp",
    unit: "mg/L",
    description: "concentration in the central compartment, Ac/Vc",
}];

/// Rate constants of a mammillary model (1/h); absent pathways are 0.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MicroConstants {
    /// Absorption `ka` (0 without a depot).
    pub ka: f64,
    /// Elimination `k10 = CL/Vc`.
    pub k10: f64,
    /// Central → first peripheral `k12 = Q/Vc`.
    pub k12: f64,
    /// First peripheral → central `k21 = Q/Vp`.
    pub k21: f64,
    /// Central → second peripheral `k13`.
    pub k13: f64,
    /// Second peripheral → central `k31`.
    pub k31: f64,
}

/// Where the states of a PK model are: depot (if any), central, peripherals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub depot: Option<usize>,
    pub central: usize,
    pub peripherals: &'static [usize],
}

impl Layout {
    /// `dA/dt` of the mammillary equations.
    pub fn derivatives(&self, k: &MicroConstants, x: &[f64], dxdt: &mut [f64]) {
        let c = self.central;
        let mut dc = -k.k10 * x[c];
        if let Some(d) = self.depot {
            dxdt[d] = -k.ka * x[d];
            dc += k.ka * x[d];
        }
        for (j, &p) in self.peripherals.iter().enumerate() {
            let (kin, kout) = if j == 0 {
                (k.k12, k.k21)
            } else {
                (k.k13, k.k31)
            };
            dc += kout * x[p] - kin * x[c];
            dxdt[p] = kin * x[c] - kout * x[p];
        }
        dxdt[c] = dc;
    }

    /// The Jacobian of [`derivatives`](Self::derivatives): the constant rate matrix, row by
    /// row into `jac` (`n × n`, `n` the number of states).
    pub fn jacobian(&self, k: &MicroConstants, n: usize, jac: &mut [f64]) {
        jac.fill(0.0);
        let c = self.central;
        let mut out_of_central = k.k10;
        if let Some(d) = self.depot {
            jac[d * n + d] = -k.ka;
            jac[c * n + d] = k.ka;
        }
        for (j, &p) in self.peripherals.iter().enumerate() {
            let (kin, kout) = if j == 0 {
                (k.k12, k.k21)
            } else {
                (k.k13, k.k31)
            };
            out_of_central += kin;
            jac[c * n + p] = kout;
            jac[p * n + c] = kin;
            jac[p * n + p] = -kout;
        }
        jac[c * n + c] = -out_of_central;
    }

    /// The same model as a [`LinearCompartments`] system.
    pub fn system(&self, k: &MicroConstants) -> LinearCompartments {
        LinearCompartments {
            central: self.central,
            k10: k.k10,
            peripherals: self
                .peripherals
                .iter()
                .enumerate()
                .map(|(j, &state)| {
                    let (k_in, k_out) = if j == 0 {
                        (k.k12, k.k21)
                    } else {
                        (k.k13, k.k31)
                    };
                    Peripheral { state, k_in, k_out }
                })
                .collect(),
            absorption: self.depot.map(|depot| Absorption { depot, ka: k.ka }),
        }
    }
}

/// A compartment's dosing parameters: bioavailability, lag, and rate and duration where
/// they are > 0.
pub(crate) fn dosing(f: f64, lag: f64, rate: f64, duration: f64) -> CompartmentDosing {
    CompartmentDosing {
        bioavailability: f,
        lag,
        rate: (rate > 0.0).then_some(rate),
        duration: (duration > 0.0).then_some(duration),
    }
}

/// Implements [`Model`] for a PK model from its layout and its parameters'
/// `micro()`, `vc()` and `dosing(state)`.
macro_rules! pk_model {
    (
        $(#[$meta:meta])*
        $model:ident, $params:ty, $name:literal,
        states [$($state:literal),+], layout $layout:expr, default dose $default:literal
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $model;

        impl $model {
            /// State names in order: NONMEM compartment `n` is `STATES[n − 1]`.
            pub const STATES: &'static [&'static str] = &[$($state),+];
            const LAYOUT: $crate::models::pk::Layout = $layout;
        }

        impl $crate::model::Model for $model {
            type Params = $params;

            fn name(&self) -> &str {
                $name
            }

            fn state_names(&self, _: &$params) -> Vec<String> {
                Self::STATES.iter().map(|s| (*s).to_owned()).collect()
            }

            fn n_states(&self, _: &$params) -> usize {
                Self::STATES.len()
            }

            fn outputs(&self) -> &[$crate::model::OutputSpec] {
                $crate::models::pk::CP
            }

            fn initial_state(&self, _: &$params, x0: &mut [f64]) {
                x0.fill(0.0);
            }

            fn derivatives(&self, _: f64, x: &[f64], p: &$params, dxdt: &mut [f64]) {
                Self::LAYOUT.derivatives(&p.micro(), x, dxdt);
            }

            fn jacobian(&self, _: f64, _: &[f64], p: &$params, jac: &mut [f64]) -> bool {
                Self::LAYOUT.jacobian(&p.micro(), Self::STATES.len(), jac);
                true
            }

            fn output(&self, _: f64, x: &[f64], p: &$params, y: &mut [f64]) {
                // a concentration: never below 0, even by the ODE solver's rounding
                y[0] = (x[Self::LAYOUT.central] / p.vc()).max(0.0);
            }

            fn dose_input(
                &self,
                _: &$params,
                target: Option<&str>,
                time: f64,
            ) -> $crate::Result<$crate::model::DoseInput> {
                let state =
                    $crate::model::state_index(Self::STATES, target.unwrap_or($default), time)?;
                Ok($crate::model::DoseInput { state, scale: 1.0 })
            }

            fn compartment_dosing(&self, p: &$params, state: usize) -> $crate::model::CompartmentDosing {
                p.dosing(state)
            }

            fn linear_system(&self, p: &$params) -> Option<$crate::simulate::LinearCompartments> {
                Some(Self::LAYOUT.system(&p.micro()))
            }

            fn observed_compartments(&self) -> Vec<(u32, &'static str)> {
                vec![(Self::LAYOUT.central as u32 + 1, "cp")]
            }
        }
    };
}
pub(crate) use pk_model;
