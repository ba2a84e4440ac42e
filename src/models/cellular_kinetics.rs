//! Model 1: piecewise cellular kinetics (expansion, contraction, persistence).
//!
//! Stein et al., CPT Pharmacometrics Syst Pharmacol 2019;8:285 (tisagenlecleucel), with the
//! optional lag phase of Ogasawara et al., Clin Pharmacokinet 2021 (lisocabtagene maraleucel).
//!
//! ```text
//! rho = ln(foldx) / (tmax − tlag)        C0 = cmax / foldx
//! 0 ≤ t < tlag:      C(t) = C0
//! tlag ≤ t < tmax:   C(t) = C0 · exp(rho · (t − tlag))
//! t ≥ tmax:          C(t) = cmax · [ (1 − fb)·exp(−alpha·(t − tmax)) + fb·exp(−beta·(t − tmax)) ]
//! ```
//!
//! ODE form, effector `E` and memory `M` (copies/µg), `C = E + M`: `dE/dt = 0` during the
//! lag, `dE/dt = rho·E` until `tmax`; after `tmax`, `dE/dt = −alpha·E` and
//! `dM/dt = k·E − beta·M` with `k = fb·(alpha − beta)`, `M(tmax) = 0`.

use crate::dose::Dose;
use crate::error::{Error, Result};
use crate::model::{DoseInput, Model, OutputSpec};
use crate::params::relation_error;

crate::parameters! {
    /// Parameters of [`CellularKinetics`] (model 1). Time in days.
    ///
    /// ```
    /// use cart_pkpd::{models::CellularKineticsParams, Parameters};
    /// let p = CellularKineticsParams::stein_2019();
    /// assert_eq!(p.cmax(), 24_000.0);
    /// // a value outside its domain is an error naming the parameter
    /// let err = p.with("fb", 1.5).unwrap_err();
    /// assert!(err.to_string().contains("`fb`"));
    /// ```
    pub struct CellularKineticsParams keys CellularKineticsKeys {
        /// Lag before expansion starts.
        tlag: NonNegative => "d",
        /// Time of the peak (must exceed `tlag`).
        tmax: Positive => "d",
        /// Peak transgene level.
        cmax: Positive => "copies/µg",
        /// Fold expansion from the initial level to the peak (> 1).
        foldx: GreaterThan(1.0) => "-",
        /// Contraction (effector decline) rate.
        alpha: Positive => "1/d",
        /// Fraction of the peak that becomes the persisting (memory) phase.
        fb: Fraction => "-",
        /// Persistence (memory decline) rate (must be below `alpha`).
        beta: Positive => "1/d",
    }
    relations(p) {
        if p.tmax <= p.tlag {
            return Err(relation_error("tmax", p.tmax, &format!("must be > tlag ({})", p.tlag)));
        }
        if p.beta >= p.alpha {
            return Err(relation_error("beta", p.beta, &format!("must be < alpha ({})", p.alpha)));
        }
        Ok(())
    }
}

impl CellularKineticsParams {
    /// Typical values of Stein et al. 2019, Table 1 (tisagenlecleucel): foldx 3900,
    /// tmax 9.3 d, cmax 24 000 copies/µg, alpha 0.16 /d, fb 0.0079, beta 0.0032 /d, no lag.
    pub fn stein_2019() -> Self {
        CellularKineticsParams {
            tlag: 0.0,
            tmax: 9.3,
            cmax: 24_000.0,
            foldx: 3900.0,
            alpha: 0.16,
            fb: 0.0079,
            beta: 0.0032,
        }
    }

    /// Expansion rate `rho = ln(foldx) / (tmax − tlag)` (1/d).
    pub fn rho(&self) -> f64 {
        self.foldx.ln() / (self.tmax - self.tlag)
    }

    /// Initial level `C0 = cmax / foldx` (copies/µg).
    pub fn c0(&self) -> f64 {
        self.cmax / self.foldx
    }

    /// Transgene level `C(t)` (copies/µg) from the closed form; 0 before the infusion
    /// (`t < 0`).
    ///
    /// ```
    /// use cart_pkpd::models::CellularKineticsParams;
    /// let p = CellularKineticsParams::stein_2019();
    /// assert!((p.transgene(0.0) - 24_000.0 / 3900.0).abs() < 1e-12);
    /// assert!((p.transgene(9.3) - 24_000.0).abs() < 1e-9);
    /// ```
    pub fn transgene(&self, t: f64) -> f64 {
        if t < 0.0 {
            0.0
        } else if t < self.tlag {
            self.c0()
        } else if t < self.tmax {
            self.c0() * (self.rho() * (t - self.tlag)).exp()
        } else {
            let s = t - self.tmax;
            self.cmax
                * ((1.0 - self.fb) * (-self.alpha * s).exp() + self.fb * (-self.beta * s).exp())
        }
    }
}

/// Model 1: piecewise expansion / bi-exponential contraction and persistence of CAR-T
/// transgene (Stein 2019; optional lag of Ogasawara 2021). See the [module docs](crate::models::cellular_kinetics).
///
/// States `E`, `M` (copies/µg); output `transgene` (copies/µg), 0 before day 0 (records
/// before the infusion, such as screening samples, are predicted as no transgene). The
/// level does not depend on the dose amount (`cmax` is a parameter), so the model takes
/// only the infusion at day 0, whose amount does not enter; a dose at any other time is an
/// error, except a dose into `LD` (the lymphodepleting chemotherapy before the infusion),
/// which is accepted and changes nothing.
///
/// `tmax` is a change point: the likelihood of data has a kink in `tmax` at every sampling
/// time. When a fitted `tmax` lands on one, the fit warns
/// [`NonSmoothLikelihood`](crate::fit::FitWarning::NonSmoothLikelihood) and its Wald
/// interval is not to be trusted (see `tests/fit_recovery.rs`).
///
/// ```
/// use cart_pkpd::{models::{CellularKinetics, CellularKineticsParams}, simulate, Dose, SolverOptions};
/// let p = CellularKineticsParams::stein_2019();
/// let sim = simulate(&CellularKinetics, &p, &[Dose::bolus(0.0, 10.0)], &[28.0],
///                    &SolverOptions::accurate().ode()).unwrap();
/// let c28 = sim.get("transgene").unwrap()[0];
/// assert!((c28 / p.transgene(28.0) - 1.0).abs() < 1e-8);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CellularKinetics;

crate::outputs! {
    /// Index of model 1's output.
    pub mod output {
        TRANSGENE = "transgene" => "copies/µg", "CAR transgene in peripheral blood (ddPCR), C = E + M";
    }
}

crate::indices! {
    /// Indices of model 1's states.
    pub mod state {
        /// Effector CAR-T cells `E` (copies/µg).
        E,
        /// Memory CAR-T cells `M` (copies/µg).
        M,
    }
}

impl Model for CellularKinetics {
    type Params = CellularKineticsParams;

    fn name(&self) -> &str {
        "cellular_kinetics"
    }

    fn state_names(&self, _: &Self::Params) -> Vec<String> {
        vec!["E".into(), "M".into()]
    }

    fn n_states(&self, _: &Self::Params) -> usize {
        state::COUNT
    }

    fn outputs(&self) -> &[OutputSpec] {
        output::SPECS
    }

    fn initial_state(&self, p: &Self::Params, x0: &mut [f64]) {
        x0[state::E] = p.c0();
        x0[state::M] = 0.0;
    }

    /// Both states on the scale of the initial level `C0 = cmax/foldx`, which may lie far
    /// below any fixed absolute tolerance (a large `foldx`).
    fn state_scales(&self, p: &Self::Params, scales: &mut [f64]) {
        scales.fill(p.c0());
    }

    fn derivatives(&self, t: f64, x: &[f64], p: &Self::Params, dxdt: &mut [f64]) {
        let (e, m) = (x[state::E], x[state::M]);
        if t < p.tlag {
            dxdt[state::E] = 0.0;
            dxdt[state::M] = 0.0;
        } else if t < p.tmax {
            dxdt[state::E] = p.rho() * e;
            dxdt[state::M] = 0.0;
        } else {
            let k = p.fb * (p.alpha - p.beta);
            dxdt[state::E] = -p.alpha * e;
            dxdt[state::M] = k * e - p.beta * m;
        }
    }

    /// The Jacobian of [`derivatives`](Model::derivatives): constant within each phase.
    fn jacobian(&self, t: f64, _: &[f64], p: &Self::Params, jac: &mut [f64]) -> bool {
        jac.fill(0.0);
        let (e, m, n) = (state::E, state::M, state::COUNT);
        if t < p.tlag {
            // no kinetics before the lag
        } else if t < p.tmax {
            jac[e * n + e] = p.rho();
        } else {
            jac[e * n + e] = -p.alpha;
            jac[m * n + e] = p.fb * (p.alpha - p.beta);
            jac[m * n + m] = -p.beta;
        }
        true
    }

    /// `C = E + M` (never negative), and 0 before the infusion (`t < 0`).
    fn output(&self, t: f64, x: &[f64], _: &Self::Params, y: &mut [f64]) {
        y[output::TRANSGENE] = if t < 0.0 {
            0.0
        } else {
            (x[state::E] + x[state::M]).max(0.0)
        };
    }

    /// The infusion at day 0 into `E` (its amount does not enter); a dose into `LD`
    /// (lymphodepletion, any time) is accepted and changes nothing.
    fn dose_input(&self, _: &Self::Params, target: Option<&str>, time: f64) -> Result<DoseInput> {
        if crate::model::state_index(&["E", "LD"], target.unwrap_or("E"), time)? == 1 {
            // lymphodepletion: a dose that adds nothing (to any state)
            return Ok(DoseInput {
                state: state::M,
                scale: 0.0,
            });
        }
        if time != 0.0 {
            return Err(Error::InvalidDose {
                subject: None,
                time,
                reason: "model `cellular_kinetics` describes one infusion at day 0; \
                         use the CAR-T × B-cell model for other dosing"
                    .into(),
            });
        }
        Ok(DoseInput {
            state: state::E,
            scale: 0.0,
        })
    }

    fn breakpoints(&self, p: &Self::Params) -> Vec<f64> {
        vec![p.tlag, p.tmax]
    }

    fn closed_form(&self, t: f64, p: &Self::Params, _: &[Dose], y: &mut [f64]) -> Result<()> {
        y[output::TRANSGENE] = p.transgene(t);
        Ok(())
    }
}
