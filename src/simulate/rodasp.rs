//! The Rosenbrock method RODASP for stiff problems: order 4 with an embedded order-3
//! solution for the error, L-stable and stiffly accurate, with a 3rd-order dense output.
//! Its coefficients are Steinebach's (1993) RODASP set, the third set of Hairer &
//! Wanner's RODAS code, chosen so that the order does not drop on stiff problems whose
//! solution is driven through time (the Prothero–Robinson test `y' = λ(y − φ(t)) + φ'(t)`;
//! and, in pharmacometrics, fast binding that keeps a free concentration slaved to slowly
//! changing totals); the step-size control is RODAS's, Gustafsson's predictive controller
//! included (Hairer & Wanner 1996, *Solving Ordinary Differential Equations II*, Springer,
//! §IV.7).
//!
//! A step of size `h` from `(t, y)` solves six linear systems with the one matrix
//! `E = I/(γh) − J`, `J = ∂f/∂y` at `(t, y)`, `γ = 1/4`:
//!
//! `E·kᵢ = f(t + cᵢh, y + Σⱼ aᵢⱼkⱼ) + Σⱼ (cᵢⱼ/h)·kⱼ + h·dᵢ·∂f/∂t`,
//!
//! and `y₁ = y + Σⱼ a₅ⱼkⱼ + k₅ + k₆`; the last stage `k₆` is the error estimate. No
//! Newton iteration: each stage is one linear solve, so the method cannot fail to
//! converge. `J` is the model's own ([`Model::jacobian`](crate::Model::jacobian)) or
//! else forward differences (`n` right-hand sides, with the increments of Hairer's codes,
//! `√(ε·max(10⁻⁵, |yⱼ|))`), `∂f/∂t` a forward difference (one right-hand side); both are
//! computed once per step and kept through its rejected attempts.
//!
//! Measured on the stiff Prothero–Robinson problem below (`λ = −1000`, `φ = cos t`) at
//! rtol 1e-8: 102 steps, where RODAS's first coefficient set (Hairer & Wanner's RODAS4)
//! takes 4,010; on the TMDD test model at rtol 1e-8, 4,679 steps against 12,624.
//!
//! Why not a crate's stiff solver: diffsol 0.18 (BDF and SDIRK methods, the best-kept Rust
//! choice) brings faer and a second nalgebra (0.35) into the build, about 150 crates and
//! 2.5 minutes of release compilation on two cores; it owns its state in its own vector
//! types and would need an adaptor for the runs between doses that the stepper already
//! does; and on Robertson's problem to t = 4e5 its BDF took 343 µs at rtol 1e-6 and 455 µs
//! at rtol 1e-8 (worst relative errors 4.0e-6 and 9.2e-8) where this kernel takes 149 µs
//! and 520 µs (8.7e-6 and 4.1e-7), on one machine: a draw, which leaves the build and the
//! adaptor to decide. The LU factorisation is nalgebra's.

use super::kernel::{
    Counts, Kernel, NextStep, Rhs, Settings, StepFailure, next_step, starting_step_floor,
};
use nalgebra::{DMatrix, DVectorViewMut};

const GAMMA: f64 = 0.25;
const C2: f64 = 0.75;
const C3: f64 = 0.21;
const C4: f64 = 0.63;
const D1: f64 = 0.25;
const D2: f64 = -0.5;
const D3: f64 = -0.023_504;
const D4: f64 = -0.0362;
const A21: f64 = 3.0;
const A31: f64 = 1.831_036_793_486_759;
const A32: f64 = 0.495_518_396_743_379_5;
const A41: f64 = 2.304_376_582_692_669;
const A42: f64 = -0.052_492_752_457_430_01;
const A43: f64 = -1.176_798_761_832_782;
const A51: f64 = -7.170_454_962_423_024;
const A52: f64 = -4.741_636_671_481_785;
const A53: f64 = -16.310_026_313_309_71;
const A54: f64 = -1.062_004_044_111_401;
const C21: f64 = -12.0;
const C31: f64 = -8.791_795_173_947_035;
const C32: f64 = -2.207_865_586_973_518;
const C41: f64 = 10.817_930_568_571_53;
const C42: f64 = 6.780_270_611_428_266;
const C43: f64 = 19.534_859_446_424_1;
const C51: f64 = 34.190_950_067_496_76;
const C52: f64 = 15.496_711_537_259_63;
const C53: f64 = 54.747_608_759_641_3;
const C54: f64 = 14.160_053_921_485_34;
const C61: f64 = 34.626_058_309_305_32;
const C62: f64 = 15.300_849_761_144_73;
const C63: f64 = 56.999_555_786_626_67;
const C64: f64 = 18.408_070_097_930_95;
const C65: f64 = -5.714_285_714_285_717;
/// Dense output: `y(t + s·h) = (1 − s)·y₀ + s·(y₁ + (1 − s)·(Σ d2ⱼkⱼ + s·Σ d3ⱼkⱼ))`.
const DENSE2: [f64; 5] = [
    25.098_767_037_085_89,
    11.620_131_043_618_67,
    28.491_483_077_146_26,
    -5.664_021_568_594_133,
    0.0,
];
const DENSE3: [f64; 5] = [
    1.638_054_557_396_973,
    -0.737_361_980_667_874_8,
    8.477_918_219_238_99,
    15.992_531_487_795_2,
    -1.882_352_941_176_471,
];

/// Step-size control (RODAS): `h_new = h / fac`, `fac = clamp(err^(1/4) / 0.9, 1/6, 5)`.
const SAFETY: f64 = 0.9;
const FAC_MIN: f64 = 1.0 / 6.0;
const FAC_MAX: f64 = 5.0;
/// Halvings of the step allowed while the iteration matrix is singular.
const MAX_SINGULAR: u32 = 5;

/// One RODASP integrator whose buffers live as long as it does.
pub(crate) struct Rodasp {
    n: usize,
    settings: Settings,
    /// Current time and state, `f` there, and the start of the run (the right-hand side
    /// is not evaluated before it).
    t: f64,
    y: Vec<f64>,
    fy: Vec<f64>,
    t_start: f64,
    /// The six stages, a stage's state, the new solution and a right-hand side.
    k: [Vec<f64>; 6],
    y_stage: Vec<f64>,
    y_new: Vec<f64>,
    du: Vec<f64>,
    /// `∂f/∂y` and `∂f/∂t` at `(t, y)`, and whether they are current; room for a
    /// system's own `∂f/∂y`, row by row.
    jac: DMatrix<f64>,
    jac_rows: Vec<f64>,
    dfdt: Vec<f64>,
    jac_current: bool,
    /// Dense output of the last accepted step `[t_old, t]` (`h_old = 0`: none).
    t_old: f64,
    h_old: f64,
    cont: [Vec<f64>; 4],
    /// The next step size, the last accepted step and its error (predictive control),
    /// whether the last step was rejected, and the steps taken and accepted in this run.
    h: f64,
    h_accepted: f64,
    err_accepted: f64,
    rejected: bool,
    steps: u32,
    accepted_in_run: u32,
    counts: Counts,
}

impl Rodasp {
    /// A kernel for `n` states.
    pub fn new(n: usize, settings: Settings) -> Self {
        let v = || vec![0.0; n];
        Rodasp {
            n,
            settings,
            t: 0.0,
            y: v(),
            fy: v(),
            t_start: 0.0,
            k: [v(), v(), v(), v(), v(), v()],
            y_stage: v(),
            y_new: v(),
            du: v(),
            jac: DMatrix::zeros(n, n),
            jac_rows: vec![0.0; n * n],
            dfdt: v(),
            jac_current: false,
            t_old: 0.0,
            h_old: 0.0,
            cont: [v(), v(), v(), v()],
            h: 0.0,
            h_accepted: 0.0,
            err_accepted: 1e-2,
            rejected: false,
            steps: 0,
            accepted_in_run: 0,
            counts: Counts::default(),
        }
    }

    /// `∂f/∂y` at `(t, y)` from the system, or by forward differences if it has none, and
    /// `∂f/∂t` by a forward difference (backward in time when a forward step would leave
    /// the run before `horizon`).
    fn jacobian(&mut self, f: &mut Rhs<'_>, horizon: f64) {
        let (n, t) = (self.n, self.t);
        if f.jacobian(t, &self.y, &mut self.jac_rows) {
            for i in 0..n {
                for j in 0..n {
                    self.jac[(i, j)] = self.jac_rows[i * n + j];
                }
            }
        } else {
            self.y_stage.copy_from_slice(&self.y);
            for j in 0..n {
                let yj = self.y[j];
                let delta = (f64::EPSILON * yj.abs().max(1e-5)).sqrt();
                self.y_stage[j] = yj + delta;
                f.rhs(t, &self.y_stage, &mut self.du);
                self.y_stage[j] = yj;
                for i in 0..n {
                    self.jac[(i, j)] = (self.du[i] - self.fy[i]) / delta;
                }
            }
            self.counts.rhs += n as u64;
        }
        let delta = (f64::EPSILON * t.abs().max(1e-5)).sqrt();
        let dt = if t + delta < horizon {
            delta
        } else if t - delta >= self.t_start {
            -delta
        } else {
            0.0
        };
        if dt == 0.0 {
            self.dfdt.fill(0.0);
        } else {
            f.rhs(t + dt, &self.y, &mut self.du);
            for i in 0..n {
                self.dfdt[i] = (self.du[i] - self.fy[i]) / dt;
            }
            self.counts.rhs += 1;
        }
        self.counts.jacobians += 1;
        self.jac_current = true;
    }

    /// The six stages of a step of size `h`; `y_new` gets the solution, and the result is
    /// the error norm (≤ 1 to accept), or `None` if `E` is singular.
    fn try_step(&mut self, f: &mut Rhs<'_>, h: f64) -> Option<f64> {
        let (n, t) = (self.n, self.t);
        let diagonal = 1.0 / (GAMMA * h);
        let e = DMatrix::from_fn(n, n, |i, j| {
            f64::from(u8::from(i == j)) * diagonal - self.jac[(i, j)]
        });
        let lu = e.lu();
        if !lu.is_invertible() {
            return None;
        }
        let solve = |v: &mut [f64]| {
            lu.solve_mut(&mut DVectorViewMut::from_slice(v, n));
        };
        let (y, ys, du) = (&self.y, &mut self.y_stage, &mut self.du);
        let dfdt = &self.dfdt;
        let [k1, k2, k3, k4, k5, k6] = &mut self.k;
        for i in 0..n {
            k1[i] = self.fy[i] + h * D1 * dfdt[i];
        }
        solve(k1);
        for i in 0..n {
            ys[i] = y[i] + A21 * k1[i];
        }
        f.rhs(t + C2 * h, ys, du);
        for i in 0..n {
            k2[i] = du[i] + h * D2 * dfdt[i] + C21 * k1[i] / h;
        }
        solve(k2);
        for i in 0..n {
            ys[i] = y[i] + A31 * k1[i] + A32 * k2[i];
        }
        f.rhs(t + C3 * h, ys, du);
        for i in 0..n {
            k3[i] = du[i] + h * D3 * dfdt[i] + (C31 * k1[i] + C32 * k2[i]) / h;
        }
        solve(k3);
        for i in 0..n {
            ys[i] = y[i] + A41 * k1[i] + A42 * k2[i] + A43 * k3[i];
        }
        f.rhs(t + C4 * h, ys, du);
        for i in 0..n {
            k4[i] = du[i] + h * D4 * dfdt[i] + (C41 * k1[i] + C42 * k2[i] + C43 * k3[i]) / h;
        }
        solve(k4);
        for i in 0..n {
            ys[i] = y[i] + A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i];
        }
        f.rhs(t + h, ys, du);
        for i in 0..n {
            k5[i] = du[i] + (C51 * k1[i] + C52 * k2[i] + C53 * k3[i] + C54 * k4[i]) / h;
        }
        solve(k5);
        for i in 0..n {
            ys[i] += k5[i];
        }
        f.rhs(t + h, ys, du);
        for i in 0..n {
            k6[i] =
                du[i] + (C61 * k1[i] + C62 * k2[i] + C63 * k3[i] + C64 * k4[i] + C65 * k5[i]) / h;
        }
        solve(k6);
        self.counts.rhs += 5;
        let mut sum = 0.0;
        for i in 0..n {
            self.y_new[i] = ys[i] + k6[i];
            let sk = self.settings.weight(i, y, self.y_new[i]);
            sum += (k6[i] / sk).powi(2);
        }
        let err = (sum / n.max(1) as f64).sqrt();
        Some(if err.is_nan() { f64::INFINITY } else { err })
    }

    /// Takes the step of size `h` just tried, ending at `t_new`, keeping its dense output
    /// when `dense`; `f` at the new state starts the next step.
    fn accept(
        &mut self,
        f: &mut Rhs<'_>,
        h: f64,
        t_new: f64,
        dense: bool,
    ) -> Result<(), StepFailure> {
        if let Some(state) = self.y_new.iter().position(|v| !v.is_finite()) {
            return Err(StepFailure::NotFinite { time: t_new, state });
        }
        if dense {
            let [c0, c1, c2, c3] = &mut self.cont;
            c0.copy_from_slice(&self.y);
            c1.copy_from_slice(&self.y_new);
            for i in 0..self.n {
                c2[i] = (0..5).map(|j| DENSE2[j] * self.k[j][i]).sum();
                c3[i] = (0..5).map(|j| DENSE3[j] * self.k[j][i]).sum();
            }
            self.t_old = self.t;
            self.h_old = h;
        } else {
            self.h_old = 0.0;
        }
        self.t = t_new;
        std::mem::swap(&mut self.y, &mut self.y_new);
        f.rhs(self.t, &self.y, &mut self.fy);
        self.counts.rhs += 1;
        self.counts.accepted += 1;
        self.jac_current = false;
        Ok(())
    }

    /// A first step from the sizes of `y` and `f(t, y)`: 1% of the time `y` takes to
    /// change by its own size, at least [`starting_step_floor`], at most `h_max`.
    fn initial_step(&self, h_max: f64) -> f64 {
        let (mut dny, mut dnf) = (0.0, 0.0);
        for i in 0..self.n {
            let sk = self.settings.weight(i, &self.y, 0.0);
            dny += (self.y[i] / sk).powi(2);
            dnf += (self.fy[i] / sk).powi(2);
        }
        let h = if dnf <= 1e-10 || dny <= 1e-10 {
            1e-6
        } else {
            0.01 * (dny / dnf).sqrt()
        };
        h.max(starting_step_floor(self.t)).min(h_max)
    }

    /// The next step size after an accepted step of size `h` with error `err`: RODAS's
    /// controller, with Gustafsson's predictive one after the first step of the run.
    fn next_step_size(&mut self, h: f64, err: f64) -> f64 {
        let mut fac = (err.sqrt().sqrt() / SAFETY).clamp(FAC_MIN, FAC_MAX);
        if self.accepted_in_run > 0 {
            let predictive =
                (self.h_accepted / h) * (err * err / self.err_accepted).sqrt().sqrt() / SAFETY;
            fac = fac.max(predictive.clamp(FAC_MIN, FAC_MAX));
        }
        self.h_accepted = h;
        self.err_accepted = err.max(1e-2);
        let h_new = h / fac;
        if self.rejected { h_new.min(h) } else { h_new }
    }
}

impl Kernel for Rodasp {
    fn dim(&self) -> usize {
        self.n
    }

    fn start(&mut self, f: &mut Rhs<'_>, t: f64, y: &[f64], h: f64) {
        self.t = t;
        self.t_start = t;
        self.t_old = t;
        self.h_old = 0.0;
        self.y.copy_from_slice(y);
        f.rhs(t, &self.y, &mut self.fy);
        self.counts.rhs += 1;
        self.jac_current = false;
        self.h = h;
        self.rejected = false;
        self.steps = 0;
        self.accepted_in_run = 0;
    }

    fn advance(&mut self, f: &mut Rhs<'_>, target: f64, horizon: f64) -> Result<(), StepFailure> {
        if self.h <= 0.0 {
            self.h = self.initial_step(horizon - self.t);
        }
        let mut singular = 0;
        while self.t < target {
            let NextStep { h, last } =
                next_step(self.t, self.h, self.steps, &self.settings, horizon)?;
            if !self.jac_current {
                self.jacobian(f, horizon);
            }
            self.steps += 1;
            let Some(err) = self.try_step(f, h) else {
                singular += 1;
                if singular >= MAX_SINGULAR {
                    return Err(StepFailure::Singular { time: self.t });
                }
                self.h = 0.5 * h;
                self.rejected = true;
                continue;
            };
            if err <= 1.0 {
                let h_new = self.next_step_size(h, err);
                let t_new = if last { horizon } else { self.t + h };
                self.accept(f, h, t_new, t_new >= target)?;
                self.h = h_new;
                self.rejected = false;
                self.accepted_in_run += 1;
                singular = 0;
            } else {
                self.h = h / (err.sqrt().sqrt() / SAFETY).clamp(FAC_MIN, FAC_MAX);
                self.rejected = true;
                self.counts.rejected += 1;
            }
        }
        Ok(())
    }

    fn dense(&self, t: f64, out: &mut [f64]) {
        if t >= self.t || self.h_old == 0.0 {
            out.copy_from_slice(&self.y);
            return;
        }
        let s = (t - self.t_old) / self.h_old;
        let [c0, c1, c2, c3] = &self.cont;
        for i in 0..out.len() {
            out[i] = (1.0 - s) * c0[i] + s * (c1[i] + (1.0 - s) * (c2[i] + s * c3[i]));
        }
    }

    fn time(&self) -> f64 {
        self.t
    }

    fn state(&self) -> &[f64] {
        &self.y
    }

    fn step_size(&self) -> f64 {
        self.h
    }

    fn counts(&self) -> Counts {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::dopri5::Dopri5;

    /// Robertson's chemical kinetics: rate constants 0.04, 3e7 and 1e4, the classic stiff
    /// test problem; `y1 + y2 + y3` is conserved.
    fn robertson(_t: f64, y: &[f64], dy: &mut [f64]) {
        dy[0] = -0.04 * y[0] + 1e4 * y[1] * y[2];
        dy[1] = 0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] * y[1];
        dy[2] = 3e7 * y[1] * y[1];
    }

    #[test]
    fn keeps_its_order_on_the_stiff_prothero_robinson_problem() {
        // y' = −1000(y − cos t) − sin t, y = cos t: measured 30, 102 and 434 steps at
        // rtol 1e-6, 1e-8, 1e-10 (order 4 would be ×3.2 per factor 100, order 3 ×4.6; the
        // first RODAS set takes 334, 4,010 and 17,275)
        let mut f = |t: f64, y: &[f64], dy: &mut [f64]| {
            dy[0] = -1000.0 * (y[0] - t.cos()) - t.sin();
        };
        let mut steps = Vec::new();
        for rtol in [1e-6, 1e-8, 1e-10] {
            let mut ode = Rodasp::new(1, Settings::new(rtol, rtol, 100_000));
            ode.start(&mut f, 0.0, &[1.0], 0.0);
            ode.advance(&mut f, 10.0, 10.0).unwrap();
            let error = (ode.y[0] - 10f64.cos()).abs();
            assert!(error < rtol, "rtol {rtol:e}: {error:e}");
            steps.push(ode.counts.accepted as f64);
        }
        assert!(steps[0] < 60.0 && steps[1] / steps[0] < 5.0 && steps[2] / steps[1] < 5.0);
    }

    #[test]
    fn dopri5_finds_robertson_stiff_and_lotka_volterra_not() {
        let mut ode = Dopri5::<[f64; 3]>::new(3, Settings::new(1e-6, 1e-14, 100_000), true);
        let mut f = robertson;
        ode.start(&mut f, 0.0, &[1.0, 0.0, 0.0], 0.0);
        match ode.advance(&mut f, 4e5, 4e5) {
            Err(StepFailure::Stiff { time }) => assert!(time < 1.0, "{time}"),
            other => panic!("{other:?}"),
        }
        let mut lv = |_t: f64, y: &[f64], dy: &mut [f64]| {
            dy[0] = 1.5 * y[0] - y[0] * y[1];
            dy[1] = -3.0 * y[1] + y[0] * y[1];
        };
        let mut ode = Dopri5::<[f64; 2]>::new(2, Settings::new(1e-6, 1e-9, 100_000), true);
        ode.start(&mut lv, 0.0, &[10.0, 1.0], 0.0);
        assert_eq!(ode.advance(&mut lv, 200.0, 200.0), Ok(()));
    }
}
