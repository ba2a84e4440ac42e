//! The Dormand–Prince 5(4) method with Hairer's step-size control and 4th-order dense
//! output (Hairer, Nørsett & Wanner 1993, *Solving Ordinary Differential Equations I*,
//! Springer, §II.5 and §II.6; the coefficients of their DOPRI5 code).
//!
//! Why not ode_solvers' `Dopri5` (the crate is still used as the reference in the tests):
//! it cannot give the solution at arbitrary times from its dense output (only on an
//! evenly spaced grid), so every output time was a stop and a restart (a new solver, its
//! start-up step and a fresh output buffer); it cannot continue past a stop with the step
//! size and first stage it had; and it allocates per step. Here one run integrates from
//! one discontinuity (a dose, an infusion change, a breakpoint) to the next, stepping over
//! output times and interpolating them, with every buffer allocated once.
//!
//! It can watch for stiffness (Hairer & Wanner's test in DOPRI5): stages 6 and 7 of a
//! step are both at `t + h`, so `‖k7 − k6‖ / ‖y7 − y6‖` estimates the dominant eigenvalue
//! `|λ|` of the Jacobian; `h·|λ|` near the boundary of the method's stability region
//! (about 3.3 on the negative real axis) on 15 accepted steps, without 6 non-stiff ones in
//! a row since, means the step size is limited by stability, not accuracy. The bound is
//! 2.5 rather than DOPRI5's 3.25: once stability limits the steps the controller keeps
//! `h·|λ|` oscillating around the boundary, often just under 3.25, which resets the
//! count; on Robertson's problem at rtol 1e-8 the switch came after 4,523 steps with 3.25
//! and after 950 with 2.5. As in DOPRI5 the test is only sampled (every 10th step) until a
//! step looks stiff, so that watching costs a non-stiff model next to nothing (0.3% of the
//! instructions of a model-2 subject-year; 2.6% when tested at every step).

use super::explicit::{self, Control, Explicit, StartBuffers, Stepping, StiffnessWatch};
use super::kernel::{Buf, Rhs, Settings, StepFailure};

const C2: f64 = 0.2;
const C3: f64 = 0.3;
const C4: f64 = 0.8;
const C5: f64 = 8.0 / 9.0;
const A21: f64 = 0.2;
const A31: f64 = 3.0 / 40.0;
const A32: f64 = 9.0 / 40.0;
const A41: f64 = 44.0 / 45.0;
const A42: f64 = -56.0 / 15.0;
const A43: f64 = 32.0 / 9.0;
const A51: f64 = 19372.0 / 6561.0;
const A52: f64 = -25360.0 / 2187.0;
const A53: f64 = 64448.0 / 6561.0;
const A54: f64 = -212.0 / 729.0;
const A61: f64 = 9017.0 / 3168.0;
const A62: f64 = -355.0 / 33.0;
const A63: f64 = 46732.0 / 5247.0;
const A64: f64 = 49.0 / 176.0;
const A65: f64 = -5103.0 / 18656.0;
const A71: f64 = 35.0 / 384.0;
const A73: f64 = 500.0 / 1113.0;
const A74: f64 = 125.0 / 192.0;
const A75: f64 = -2187.0 / 6784.0;
const A76: f64 = 11.0 / 84.0;
const E1: f64 = 71.0 / 57600.0;
const E3: f64 = -71.0 / 16695.0;
const E4: f64 = 71.0 / 1920.0;
const E5: f64 = -17253.0 / 339200.0;
const E6: f64 = 22.0 / 525.0;
const E7: f64 = -1.0 / 40.0;
const D1: f64 = -12715105075.0 / 11282082432.0;
const D3: f64 = 87487479700.0 / 32700410799.0;
const D4: f64 = -10690763975.0 / 1880347072.0;
const D5: f64 = 701980252875.0 / 199316789632.0;
const D6: f64 = -1453857185.0 / 822651844.0;
const D7: f64 = 69997945.0 / 29380423.0;

/// Step-size control as in DOPRI5 (and ode_solvers): `h_new = h / fac` with
/// `fac = clamp(err^0.17 / err_prev^0.04 / 0.9, 1/10, 5)`.
const BETA: f64 = 0.04;
const CONTROL: Control = Control::new(0.2 - BETA * 0.75, BETA, 0.1, 5.0);

/// The bound on `h·|λ|` of the stiffness test (see the module docs).
const STIFF_BOUND: f64 = 2.5;

/// One integrator whose buffers live as long as it does.
pub(crate) struct Dopri5<B: Buf> {
    n: usize,
    run: Stepping,
    /// Current state, and the derivative there (first same as last).
    y: B,
    k1: B,
    /// Stages 2–7.
    k: [B; 6],
    y_stage: B,
    y_new: B,
    /// Dense output of the last step that holds an output time.
    cont: [B; 5],
}

impl<B: Buf> Dopri5<B> {
    /// A kernel for `n` states that watches for stiffness if `watch`.
    pub fn new(n: usize, settings: Settings, watch: bool) -> Self {
        let v = || B::zeros(n);
        Dopri5 {
            n,
            run: Stepping::new(settings, CONTROL, StiffnessWatch::new(watch, STIFF_BOUND)),
            y: v(),
            k1: v(),
            k: [v(), v(), v(), v(), v(), v()],
            y_stage: v(),
            y_new: v(),
            cont: [v(), v(), v(), v(), v()],
        }
    }

    /// `h·|λ|` of the step of size `h` just tried: stages 6 and 7 are both at `t + h`.
    fn h_lambda(&self, h: f64) -> f64 {
        let n = self.n;
        let seventh = (&self.y_new.s()[..n], &self.k[5].s()[..n]);
        explicit::h_lambda(h, (&self.y_stage.s()[..n], &self.k[4].s()[..n]), seventh)
    }

    /// The dense output of the step of size `h` just tried (from `y` to `y_new`).
    fn keep_dense_output(&mut self, h: f64) {
        let n = self.n;
        let (y, yn, k1) = (&self.y.s()[..n], &self.y_new.s()[..n], &self.k1.s()[..n]);
        let [_, k3, k4, k5, k6, k7] = &self.k;
        let (k3, k4, k5) = (&k3.s()[..n], &k4.s()[..n], &k5.s()[..n]);
        let (k6, k7) = (&k6.s()[..n], &k7.s()[..n]);
        let [c0, c1, c2, c3, c4] = &mut self.cont;
        let (c0, c1, c2) = (&mut c0.m()[..n], &mut c1.m()[..n], &mut c2.m()[..n]);
        let (c3, c4) = (&mut c3.m()[..n], &mut c4.m()[..n]);
        for i in 0..n {
            let dy = yn[i] - y[i];
            let b = h * k1[i] - dy;
            c0[i] = y[i];
            c1[i] = dy;
            c2[i] = b;
            c3[i] = dy - h * k7[i] - b;
            c4[i] =
                h * (D1 * k1[i] + D3 * k3[i] + D4 * k4[i] + D5 * k5[i] + D6 * k6[i] + D7 * k7[i]);
        }
    }
}

impl<B: Buf> Explicit for Dopri5<B> {
    const ORDER: f64 = 5.0;

    fn run(&self) -> &Stepping {
        &self.run
    }

    fn run_mut(&mut self) -> &mut Stepping {
        &mut self.run
    }

    fn y(&self) -> &[f64] {
        self.y.s()
    }

    fn load(&mut self, f: &mut Rhs<'_>, t: f64, y: &[f64]) {
        self.y.m().copy_from_slice(y);
        f.rhs(t, self.y.s(), self.k1.m());
    }

    /// The stages of a step of size `h` from `(t, y)`; `y_new` gets the 5th-order
    /// solution, and the result is the error norm (≤ 1 to accept).
    #[inline(always)]
    fn try_step(&mut self, f: &mut Rhs<'_>, h: f64) -> f64 {
        // loops to the run-time `n`: to the buffers' constant length (as in Dop853) the
        // compiler pairs them into vector loads, which stall on the stage the right-hand
        // side has just stored element by element (measured: 49 -> 54 µs a subject-year)
        let (t, n) = (self.run.t, self.n);
        let (y, k1) = (&self.y.s()[..n], &self.k1.s()[..n]);
        let ys = &mut self.y_stage.m()[..n];
        let [k2, k3, k4, k5, k6, k7] = &mut self.k;
        for i in 0..n {
            ys[i] = y[i] + h * A21 * k1[i];
        }
        f.rhs(t + C2 * h, ys, k2.m());
        let k2 = &k2.s()[..n];
        for i in 0..n {
            ys[i] = y[i] + h * (A31 * k1[i] + A32 * k2[i]);
        }
        f.rhs(t + C3 * h, ys, k3.m());
        let k3 = &k3.s()[..n];
        for i in 0..n {
            ys[i] = y[i] + h * (A41 * k1[i] + A42 * k2[i] + A43 * k3[i]);
        }
        f.rhs(t + C4 * h, ys, k4.m());
        let k4 = &k4.s()[..n];
        for i in 0..n {
            ys[i] = y[i] + h * (A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i]);
        }
        f.rhs(t + C5 * h, ys, k5.m());
        let k5 = &k5.s()[..n];
        for i in 0..n {
            ys[i] =
                y[i] + h * (A61 * k1[i] + A62 * k2[i] + A63 * k3[i] + A64 * k4[i] + A65 * k5[i]);
        }
        f.rhs(t + h, ys, k6.m());
        let k6 = &k6.s()[..n];
        let yn = &mut self.y_new.m()[..n];
        for i in 0..n {
            yn[i] =
                y[i] + h * (A71 * k1[i] + A73 * k3[i] + A74 * k4[i] + A75 * k5[i] + A76 * k6[i]);
        }
        f.rhs(t + h, yn, k7.m());
        let k7 = &k7.s()[..n];
        self.run.counts.rhs += 6;
        let (s, states) = (&self.run.settings, self.run.settings.states.min(n));
        let mut sum = 0.0;
        for i in 0..n {
            let e =
                h * (E1 * k1[i] + E3 * k3[i] + E4 * k4[i] + E5 * k5[i] + E6 * k6[i] + E7 * k7[i]);
            // a sensitivity's weight also counts its state's size
            let weight = if i < states {
                s.atol + s.rtol * y[i].abs().max(yn[i].abs())
            } else {
                s.weight(i, y, yn[i])
            };
            sum += (e / weight).powi(2);
        }
        let err = (sum / n.max(1) as f64).sqrt();
        if err.is_nan() { f64::INFINITY } else { err }
    }

    fn accept(
        &mut self,
        _f: &mut Rhs<'_>,
        h: f64,
        dense: bool,
        test: bool,
    ) -> Result<Option<f64>, StepFailure> {
        if let Some(state) = self.y_new.s().iter().position(|v| !v.is_finite()) {
            return Err(StepFailure::NotFinite {
                time: self.run.t + h,
                state,
            });
        }
        let h_lambda = test.then(|| self.h_lambda(h));
        if dense {
            self.keep_dense_output(h);
        }
        std::mem::swap(&mut self.y, &mut self.y_new);
        std::mem::swap(&mut self.k1, &mut self.k[5]);
        Ok(h_lambda)
    }

    fn interpolate(&self, s: f64, out: &mut [f64]) {
        let s1 = 1.0 - s;
        let [c0, c1, c2, c3, c4] = &self.cont;
        let (c0, c1, c2, c3, c4) = (c0.s(), c1.s(), c2.s(), c3.s(), c4.s());
        for i in 0..out.len() {
            out[i] = c0[i] + s * (c1[i] + s1 * (c2[i] + s * (c3[i] + s1 * c4[i])));
        }
    }

    fn start_buffers(&mut self) -> StartBuffers<'_> {
        let n = self.n;
        let [f1, ..] = &mut self.k;
        StartBuffers {
            y: &self.y.s()[..n],
            f0: &self.k1.s()[..n],
            y1: &mut self.y_stage.m()[..n],
            f1: &mut f1.m()[..n],
        }
    }
}
