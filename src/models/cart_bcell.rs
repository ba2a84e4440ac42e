//! Model 2: CAR-T × B-cell model for B-cell-directed CAR-T in autoimmune disease.
//!
//! CD19 CAR-T cells expand while CD19+ B cells (their antigen) are present, kill CD19+ cells
//! in blood and in the marrow precursor pool, contract once antigen is gone and persist as a
//! memory-like population; B cells return from the marrow through a maturation delay, naive
//! first. Time in days; the equations:
//!
//! ```text
//! C = E + M            B = N + S + D           g = B / (B + kb)
//! kill = kmax · C^h / (ec50^h + C^h)           ktr = n_transit / mtt
//! dE/dt = rho·g·Z·E − (alpha + kmem)·E         dM/dt = kmem·E − beta·M
//! dZ/dt = −kx·g·Z
//! dP/dt = kp·(1 − P) − eps·kill·P
//! dT1/dt = ktr·(P − T1) − eps·kill·T1,   dTi/dt = ktr·(T(i−1) − Ti) − eps·kill·Ti
//! X = Tn (X = P when n_transit = 0)
//! dN/dt = kin·X − (dn + kns + knd)·N − kill·N
//! dS/dt = kns·N − ds·S − kill·S
//! dD/dt = knd·N − dd·D − kill·D
//! N0 = fn·b0, S0 = fs·b0, D0 = (1 − fn − fs)·b0
//! kns = ds·S0/N0, knd = dd·D0/N0, kin = (dn + kns + knd)·N0
//! ```
//!
//! State at the infusion: `E = gamma · dose` (dose in 10^6 CAR+ T cells), `M = 0`, `Z = 1`,
//! `P = Ti = 1`, `(N, S, D) = fld · (N0, S0, D0)`.
//!
//! # Behaviour the default parameters reproduce
//! Reported for CD19 CAR-T in SLE at dose level 1 (10 × 10^6 cells); the numbers are
//! illustrative:
//! - a CAR-T peak at day 7–14, a contraction half-life of days, then slow persistence;
//! - blood B cells below 1 cell/µL by day 10, and back (≥ 1 cell/µL) around day 80–130
//!   (110 ± 32 days after CD19 CAR-T in SLE, Mackensen et al., Nat Med 2022);
//! - repopulating B cells mostly naive: naive ≥ 80% of B cells at month 6;
//! - a higher dose gives a higher, not later, peak.
//!
//! Without `Z` (antigen-driven exhaustion), returning B cells would re-trigger expansion
//! and be held at a low predator–prey equilibrium (where `rho·g = alpha + kmem`); with it,
//! the repopulation seen in patients is possible. Pre-treatment B cells in SLE: median 206
//! (67–597) cells/µL, memory B cells 16 cells/µL (n = 19).
//!
//! # Before the infusion and lymphodepletion
//! Records may precede the infusion (negative times: screening, lymphodepletion). A
//! subject's simulation starts from the pre-treatment steady state — `E = M = 0`, `Z = 1`,
//! `P = Ti = 1`, `(N, S, D) = (N0, S0, D0)` — which does not move while there are no CAR-T
//! cells (`Z` is spent only while `E + M > 0`), so pre-infusion B-cell samples are
//! predicted at the pre-treatment level `b0`. Lymphodepletion precedes a CAR-T infusion:
//! an infusion into a system with no CAR-T cells (`E = M = 0`: the first one, or the first
//! after a reset) first multiplies `N`, `S` and `D` by `fld`, so that the state at the
//! infusion is the one above, whatever time the simulation started. A dose record into
//! `LD` (the lymphodepleting chemotherapy, any amount) is accepted and changes no state:
//! its effect is the `fld` applied with the infusion.

use crate::error::Result;
use crate::model::{DoseInput, Model, OutputSpec, state_index};
use crate::params::relation_error;

crate::parameters! {
    /// Parameters of [`CarTBCell`] (model 2). Time in days.
    ///
    /// [`Default`] is the calibrated set documented there; the numbers are illustrative
    /// (they reproduce behaviour reported for CD19 CAR-T in SLE, not a fit to patient data).
    ///
    /// ```
    /// use cart_pkpd::{models::CarTBCellParams, Parameters};
    /// let p = CarTBCellParams::default();
    /// assert_eq!(p.n_transit(), 3.0);
    /// assert_eq!(CarTBCellParams::index_of("fn").unwrap(), 15);
    /// assert!(p.with("n_transit", 2.5).is_err());
    /// ```
    pub struct CarTBCellParams {
        /// Maximal antigen-driven expansion rate of effector CAR-T cells.
        rho: Positive => "1/d",
        /// B-cell level giving half-maximal antigen drive.
        kb: Positive => "cells/µL",
        /// Rate at which antigen stimulation spends proliferative capacity.
        kx: NonNegative => "1/d",
        /// Effector CAR-T death (contraction) rate.
        alpha: Positive => "1/d",
        /// Effector-to-memory conversion rate.
        kmem: NonNegative => "1/d",
        /// Memory CAR-T decline rate.
        beta: NonNegative => "1/d",
        /// Transgene level per infused 10^6 CAR+ T cells.
        gamma: Positive => "copies/µg per 10^6 cells",
        /// Maximal killing rate of CD19+ cells.
        kmax: NonNegative => "1/d",
        /// Transgene level giving half-maximal killing.
        ec50: Positive => "copies/µg",
        /// Hill coefficient of killing.
        h: Positive => "-",
        /// Relative CAR-T access to the marrow precursor and transit pools.
        eps: Fraction => "-",
        /// Renewal rate of the marrow precursor pool.
        kp: Positive => "1/d",
        /// Mean maturation (transit) time from marrow to blood.
        mtt: Positive => "d",
        /// Number of transit compartments (structural, fixed; at most 50).
        n_transit: Integer { min: 0, max: 50 } => "-",
        /// Pre-treatment blood B cells.
        b0: Positive => "cells/µL",
        /// Naive fraction of pre-treatment B cells.
        fn_ as "fn": Fraction => "-",
        /// Memory fraction of pre-treatment B cells.
        fs: Fraction => "-",
        /// Naive B-cell loss rate (death).
        dn: Positive => "1/d",
        /// Memory B-cell loss rate.
        ds: Positive => "1/d",
        /// Double-negative B-cell loss rate.
        dd: Positive => "1/d",
        /// Fraction of blood B cells left after lymphodepletion (0 < fld ≤ 1).
        fld: Fraction => "-",
    }
    relations(p) {
        if p.fn_ <= 0.0 {
            return Err(relation_error("fn", p.fn_, "must be > 0 (naive cells feed memory and DN)"));
        }
        if p.fn_ + p.fs > 1.0 {
            return Err(relation_error("fs", p.fs, &format!("fn + fs must be <= 1 (fn = {})", p.fn_)));
        }
        if p.fld <= 0.0 {
            return Err(relation_error("fld", p.fld, "must be > 0"));
        }
        Ok(())
    }
}

impl Default for CarTBCellParams {
    /// The calibrated default set: rho 2.75, kb 11.0, kx 0.089, alpha 0.15, kmem 0.005,
    /// beta 0.0208, **gamma 0.04**, kmax 1.51, ec50 2820, h 1, eps 1, kp 0.03, mtt 21,
    /// n_transit 3, b0 200, fn 0.75, fs 0.10, dn 0.03, ds 0.01, dd 0.02, fld 0.5.
    ///
    /// This is the parameter set the model was specified with (a starting point found by a
    /// quick search, not the only one that works) with one change: `gamma` 0.0839 → 0.04. With
    /// 0.0839 the peak at 25 × 10^6 cells falls on day 6.97, outside the "peak at day 7–14"
    /// behaviour; 0.04 keeps every listed behaviour at both dose levels. What it gives
    /// (solved at rtol 1e-10 on a 0.01-day grid, B-cell LLOQ 1 cell/µL):
    ///
    /// | | DL1 (10 × 10^6) | DL2 (25 × 10^6) |
    /// |---|---|---|
    /// | Tmax (d) | 7.96 | 7.40 |
    /// | Cmax (copies/µg) | 26 835 | 30 481 |
    /// | B cells < 1/µL from day | 8.03 | 7.44 |
    /// | B cells ≥ 1/µL again on day | 102.9 | 108.2 |
    /// | naive % of B cells at day 180 | 93.3 | 93.6 |
    ///
    /// The numbers are illustrative: they reproduce behaviour reported for CD19 CAR-T in SLE
    /// (Mackensen et al., Nat Med 2022: reappearance 110 ± 32 days), not a fit to patient
    /// data. Each behaviour is checked in `tests/model2_behaviour.rs`.
    fn default() -> Self {
        CarTBCellParams {
            rho: 2.75,
            kb: 11.0,
            kx: 0.089,
            alpha: 0.15,
            kmem: 0.005,
            beta: 0.0208,
            gamma: 0.04,
            kmax: 1.51,
            ec50: 2820.0,
            h: 1.0,
            eps: 1.0,
            kp: 0.03,
            mtt: 21.0,
            n_transit: 3.0,
            b0: 200.0,
            fn_: 0.75,
            fs: 0.10,
            dn: 0.03,
            ds: 0.01,
            dd: 0.02,
            fld: 0.5,
        }
    }
}

/// Pre-treatment steady state and the production rates it fixes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BCellBaseline {
    /// Naive B cells `N0 = fn·b0` (cells/µL).
    pub n0: f64,
    /// Memory B cells `S0 = fs·b0` (cells/µL).
    pub s0: f64,
    /// Double-negative B cells `D0 = (1 − fn − fs)·b0` (cells/µL).
    pub d0: f64,
    /// Naive → memory rate `kns = ds·S0/N0` (1/d).
    pub kns: f64,
    /// Naive → double-negative rate `knd = dd·D0/N0` (1/d).
    pub knd: f64,
    /// Influx of naive cells `kin = (dn + kns + knd)·N0` (cells/µL/d).
    pub kin: f64,
}

impl CarTBCellParams {
    /// The pre-treatment steady state and the rates it fixes.
    ///
    /// ```
    /// use cart_pkpd::models::CarTBCellParams;
    /// let b = CarTBCellParams::default().baseline();
    /// assert!((b.n0 + b.s0 + b.d0 - 200.0).abs() < 1e-12);
    /// ```
    pub fn baseline(&self) -> BCellBaseline {
        let n0 = self.fn_ * self.b0;
        let s0 = self.fs * self.b0;
        let d0 = (1.0 - self.fn_ - self.fs) * self.b0;
        let kns = self.ds * s0 / n0;
        let knd = self.dd * d0 / n0;
        BCellBaseline {
            n0,
            s0,
            d0,
            kns,
            knd,
            kin: (self.dn + kns + knd) * n0,
        }
    }

    /// Number of transit compartments as a count.
    pub fn transit_count(&self) -> usize {
        self.n_transit as usize
    }

    /// CAR-T killing rate `kmax · C^h / (ec50^h + C^h)` (1/d) at transgene `c` (copies/µg).
    pub fn kill_rate(&self, c: f64) -> f64 {
        if c <= 0.0 {
            0.0
        } else if self.h == 1.0 {
            self.kmax * c / (self.ec50 + c)
        } else {
            self.kmax / (1.0 + (self.ec50 / c).powf(self.h))
        }
    }
}

/// Model 2: CAR-T expansion/contraction/persistence coupled to CD19+ B-cell depletion and
/// naive-first repopulation. See the [module docs](crate::models::cart_bcell) for the equations.
///
/// States, in order: `E`, `M` (copies/µg), `Z` (fraction), `P`, `T1..Tn` (fraction of
/// pre-treatment pool), `N`, `S`, `D` (cells/µL). Outputs: `transgene` (copies/µg);
/// `b_cells`, `naive_b`, `memory_b`, `dn_b` (cells/µL); `naive_pct`, `memory_pct`, `dn_pct`
/// (% of CD19+ B cells). The infusion is a dose into `E` in 10^6 CAR+ T cells.
///
/// ```
/// use cart_pkpd::{models::{CarTBCell, CarTBCellParams}, Model};
/// let p = CarTBCellParams::default();
/// assert_eq!(CarTBCell.state_names(&p).len(), 10);   // E M Z P T1 T2 T3 N S D
/// assert_eq!(CarTBCell.output_index("naive_pct").unwrap(), 5);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CarTBCell;

const OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "transgene",
        unit: "copies/µg",
        description: "CAR transgene in peripheral blood (ddPCR), C = E + M",
    },
    OutputSpec {
        name: "b_cells",
        unit: "cells/µL",
        description: "CD19+ B cells in peripheral blood, B = N + S + D",
    },
    OutputSpec {
        name: "naive_b",
        unit: "cells/µL",
        description: "naive B cells (IgD+CD27−, incl. transitional)",
    },
    OutputSpec {
        name: "memory_b",
        unit: "cells/µL",
        description: "memory B cells (CD27+)",
    },
    OutputSpec {
        name: "dn_b",
        unit: "cells/µL",
        description: "double-negative B cells (IgD−CD27−)",
    },
    OutputSpec {
        name: "naive_pct",
        unit: "%",
        description: "naive cells as % of CD19+ B cells",
    },
    OutputSpec {
        name: "memory_pct",
        unit: "%",
        description: "memory cells as % of CD19+ B cells",
    },
    OutputSpec {
        name: "dn_pct",
        unit: "%",
        description: "double-negative cells as % of CD19+ B cells",
    },
];

impl Model for CarTBCell {
    type Params = CarTBCellParams;

    fn name(&self) -> &str {
        "cart_bcell"
    }

    fn state_names(&self, p: &Self::Params) -> Vec<String> {
        let mut names: Vec<String> = ["E", "M", "Z", "P"].map(String::from).into();
        names.extend((1..=p.transit_count()).map(|i| format!("T{i}")));
        names.extend(["N", "S", "D"].map(String::from));
        names
    }

    fn n_states(&self, p: &Self::Params) -> usize {
        7 + p.transit_count()
    }

    fn outputs(&self) -> &[OutputSpec] {
        OUTPUTS
    }

    /// The pre-treatment steady state (lymphodepletion comes with the infusion, see
    /// [`on_dose`](Model::on_dose)).
    fn initial_state(&self, p: &Self::Params, x0: &mut [f64]) {
        let base = p.baseline();
        let n = x0.len();
        x0.fill(1.0); // Z, P and transit pools start full
        x0[0] = 0.0;
        x0[1] = 0.0;
        x0[n - 3] = base.n0;
        x0[n - 2] = base.s0;
        x0[n - 1] = base.d0;
    }

    /// An infusion into a system without CAR-T cells follows lymphodepletion: blood B
    /// cells are multiplied by `fld` first.
    fn on_dose(&self, p: &Self::Params, state: usize, x: &mut [f64]) {
        if state == 0 && x[0] == 0.0 && x[1] == 0.0 {
            let n = x.len();
            for b in &mut x[n - 3..] {
                *b *= p.fld;
            }
        }
    }

    fn derivatives(&self, _: f64, x: &[f64], p: &Self::Params, dxdt: &mut [f64]) {
        let base = p.baseline();
        let n = x.len();
        let (e, m, z) = (x[0], x[1], x[2]);
        let (bn, bs, bd) = (x[n - 3], x[n - 2], x[n - 1]);
        let c = (e + m).max(0.0);
        let b = (bn + bs + bd).max(0.0);
        let g = b / (b + p.kb);
        let kill = p.kill_rate(c);
        let marrow_kill = p.eps * kill;

        dxdt[0] = p.rho * g * z * e - (p.alpha + p.kmem) * e;
        dxdt[1] = p.kmem * e - p.beta * m;
        // proliferative capacity is spent only by CAR-T cells that are there
        dxdt[2] = if e + m > 0.0 { -p.kx * g * z } else { 0.0 };
        dxdt[3] = p.kp * (1.0 - x[3]) - marrow_kill * x[3];
        let nt = p.transit_count();
        if nt > 0 {
            let ktr = nt as f64 / p.mtt;
            for i in 4..4 + nt {
                dxdt[i] = ktr * (x[i - 1] - x[i]) - marrow_kill * x[i];
            }
        }
        let influx = x[3 + nt]; // Tn, or P when there is no transit compartment
        dxdt[n - 3] = base.kin * influx - (p.dn + base.kns + base.knd) * bn - kill * bn;
        dxdt[n - 2] = base.kns * bn - p.ds * bs - kill * bs;
        dxdt[n - 1] = base.knd * bn - p.dd * bd - kill * bd;
    }

    /// Outputs are never negative: a state the solver leaves a rounding error below 0 counts
    /// as 0, and the phenotype shares are 0 while there are no B cells at all.
    fn output(&self, _: f64, x: &[f64], _: &Self::Params, y: &mut [f64]) {
        let n = x.len();
        let (bn, bs, bd) = (x[n - 3].max(0.0), x[n - 2].max(0.0), x[n - 1].max(0.0));
        let b = bn + bs + bd;
        let pct = |v: f64| if b > 0.0 { 100.0 * v / b } else { 0.0 };
        y[0] = (x[0] + x[1]).max(0.0);
        y[1] = b;
        y[2] = bn;
        y[3] = bs;
        y[4] = bd;
        y[5] = pct(bn);
        y[6] = pct(bs);
        y[7] = pct(bd);
    }

    /// CAR-T infusions go to `E` (10^6 CAR+ T cells, scaled by `gamma`); a dose into `LD`
    /// (lymphodepletion) is accepted and adds nothing (see the [module docs](crate::models::cart_bcell)).
    fn dose_input(&self, p: &Self::Params, target: Option<&str>, time: f64) -> Result<DoseInput> {
        match state_index(&["E", "LD"], target.unwrap_or("E"), time)? {
            0 => Ok(DoseInput {
                state: 0,
                scale: p.gamma,
            }),
            _ => Ok(DoseInput {
                state: 2,
                scale: 0.0,
            }),
        }
    }
}
