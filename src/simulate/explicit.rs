//! What the two explicit Runge–Kutta kernels share (Hairer, Nørsett & Wanner 1993,
//! *Solving Ordinary Differential Equations I*, Springer, §II.4–§II.6, and their codes
//! DOPRI5 and DOP853): the run of steps between two discontinuities, the step-size control,
//! the starting step and the stiffness watch. A kernel supplies its stages, its error
//! estimate and its dense output ([`Explicit`]).

use super::kernel::{
    Counts, Kernel, NextStep, Rhs, Settings, StepFailure, next_step, starting_step_floor,
};

/// Stiffness test: how many stiff steps (without [`NON_STIFF_RESET`] non-stiff ones in a
/// row) make the problem stiff.
const STIFF_STEPS: u32 = 15;
const NON_STIFF_RESET: u32 = 6;
/// While no step looks stiff, the test is made on every this-many-th step.
const STIFF_SAMPLING: u32 = 10;

/// The logarithm of the smallest previous error the PI control uses (`ln 1e-4`).
const LN_ERR_FLOOR: f64 = -9.210_340_371_976_182;
const SAFETY: f64 = 0.9;

/// Step-size control: `h_new = h / fac`, `fac = clamp(err^expo / err_prev^beta / 0.9,
/// fac_min, fac_max)` (a PI controller with Lund stabilisation where `beta > 0`), and never
/// a larger step right after a rejected one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Control {
    expo: f64,
    beta: f64,
    fac_min: f64,
    fac_max: f64,
    ln_err_old: f64,
    rejected: bool,
}

impl Control {
    pub const fn new(expo: f64, beta: f64, fac_min: f64, fac_max: f64) -> Self {
        Control {
            expo,
            beta,
            fac_min,
            fac_max,
            ln_err_old: LN_ERR_FLOOR,
            rejected: false,
        }
    }

    fn reset(&mut self) {
        self.ln_err_old = LN_ERR_FLOOR;
        self.rejected = false;
    }

    /// The next step size after a step of size `h` accepted with error `err ≤ 1`. The
    /// powers of the errors are exponentials of their logarithms: one `ln` and one `exp` a
    /// step where `powf` twice cost 11% of a model-2 simulation.
    fn accepted(&mut self, h: f64, err: f64) -> f64 {
        let ln_err = err.ln();
        let fac = ((self.expo * ln_err - self.beta * self.ln_err_old).exp() / SAFETY)
            .clamp(self.fac_min, self.fac_max);
        let mut h_new = h / fac;
        if self.rejected {
            h_new = h_new.min(h);
        }
        self.ln_err_old = ln_err.max(LN_ERR_FLOOR);
        self.rejected = false;
        h_new
    }

    /// The step size to retry with after a step of size `h` rejected with error `err > 1`.
    fn rejected(&mut self, h: f64, err: f64) -> f64 {
        self.rejected = true;
        h / ((self.expo * err.ln()).exp() / SAFETY).min(self.fac_max)
    }
}

/// Hairer's stiffness test: `h·|λ|`, the step size times an estimate of the dominant
/// eigenvalue of the Jacobian from two stages at the same time, beyond `bound` (below the
/// method's stability boundary on the negative real axis) on [`STIFF_STEPS`] accepted
/// steps without [`NON_STIFF_RESET`] non-stiff ones in a row. Sampled every
/// [`STIFF_SAMPLING`]-th step until a step looks stiff, then made at every step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StiffnessWatch {
    on: bool,
    bound: f64,
    stiff: u32,
    non_stiff: u32,
}

impl StiffnessWatch {
    pub const fn new(on: bool, bound: f64) -> Self {
        StiffnessWatch {
            on,
            bound,
            stiff: 0,
            non_stiff: 0,
        }
    }

    /// Whether step number `step` of the run is tested.
    fn wants_test(&self, step: u32) -> bool {
        self.on && (self.stiff > 0 || step.is_multiple_of(STIFF_SAMPLING))
    }

    fn record(&mut self, h_lambda: f64) {
        if h_lambda > self.bound {
            self.non_stiff = 0;
            self.stiff += 1;
        } else {
            self.non_stiff += 1;
            if self.non_stiff == NON_STIFF_RESET {
                self.stiff = 0;
            }
        }
    }

    fn is_stiff(&self) -> bool {
        self.on && self.stiff >= STIFF_STEPS
    }
}

/// `h·|λ|` from two stages at the same time: `h·‖f(y_b) − f(y_a)‖ / ‖y_b − y_a‖` with
/// `(y_a, f_a)` and `(y_b, f_b)` the stages' inputs and derivatives (0 where the inputs
/// coincide).
pub(crate) fn h_lambda(h: f64, (y_a, f_a): (&[f64], &[f64]), (y_b, f_b): (&[f64], &[f64])) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..y_a.len() {
        num += (f_b[i] - f_a[i]).powi(2);
        den += (y_b[i] - y_a[i]).powi(2);
    }
    if den > 0.0 {
        h * (num / den).sqrt()
    } else {
        0.0
    }
}

/// The state of a run shared by the explicit kernels: time, next step size, the last
/// accepted step that holds dense output, steps taken in this run, step-size control,
/// stiffness watch and work counts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stepping {
    pub settings: Settings,
    pub t: f64,
    pub h: f64,
    /// Dense output of the last accepted step `[t_old, t]` (`h_old = 0`: none).
    t_old: f64,
    h_old: f64,
    steps: u32,
    control: Control,
    watch: StiffnessWatch,
    pub counts: Counts,
}

impl Stepping {
    pub fn new(settings: Settings, control: Control, watch: StiffnessWatch) -> Self {
        Stepping {
            settings,
            t: 0.0,
            h: 0.0,
            t_old: 0.0,
            h_old: 0.0,
            steps: 0,
            control,
            watch,
            counts: Counts::default(),
        }
    }

    /// A new run from `t` with first step `h` (0: estimated at the first advance).
    pub fn restart(&mut self, t: f64, h: f64) {
        self.t = t;
        self.h = h;
        self.h_old = 0.0;
        self.steps = 0;
        self.control.reset();
        self.watch = StiffnessWatch::new(self.watch.on, self.watch.bound);
    }
}

/// An explicit Runge–Kutta kernel's own part: its stages, error estimate and dense output
/// (the run of steps around them is [`advance`]'s, and every explicit kernel is a
/// [`Kernel`] through them).
pub(crate) trait Explicit {
    /// The method's order (of the step-size control's error, for the starting step).
    const ORDER: f64;
    fn run(&self) -> &Stepping;
    fn run_mut(&mut self) -> &mut Stepping;
    /// The current state.
    fn y(&self) -> &[f64];
    /// Sets the state to `y` at `t` and the first stage to `f(t, y)`.
    fn load(&mut self, f: &mut Rhs<'_>, t: f64, y: &[f64]);
    /// The stages of a step of size `h` from the current state; the error norm (≤ 1 to
    /// accept).
    fn try_step(&mut self, f: &mut Rhs<'_>, h: f64) -> f64;
    /// Takes the step of size `h` just tried (the run's time is still the step's start),
    /// keeping its dense output when `dense`; `h·|λ|` of the step when `test`.
    fn accept(
        &mut self,
        f: &mut Rhs<'_>,
        h: f64,
        dense: bool,
        test: bool,
    ) -> Result<Option<f64>, StepFailure>;
    /// The dense output of the last step kept at the fraction `s` of it.
    fn interpolate(&self, s: f64, out: &mut [f64]);
    /// The state and its derivative at the run's time, and two scratch buffers.
    fn start_buffers(&mut self) -> StartBuffers<'_>;
}

impl<E: Explicit> Kernel for E {
    fn dim(&self) -> usize {
        self.y().len()
    }

    fn start(&mut self, f: &mut Rhs<'_>, t: f64, y: &[f64], h: f64) {
        self.run_mut().restart(t, h);
        self.load(f, t, y);
        self.run_mut().counts.rhs += 1;
    }

    fn advance(&mut self, f: &mut Rhs<'_>, target: f64, horizon: f64) -> Result<(), StepFailure> {
        advance(self, f, target, horizon)
    }

    fn dense(&self, t: f64, out: &mut [f64]) {
        let run = self.run();
        if t >= run.t || run.h_old == 0.0 {
            out.copy_from_slice(self.y());
        } else {
            self.interpolate((t - run.t_old) / run.h_old, out);
        }
    }

    fn time(&self) -> f64 {
        self.run().t
    }

    fn state(&self) -> &[f64] {
        self.y()
    }

    fn step_size(&self) -> f64 {
        self.run().h
    }

    fn counts(&self) -> Counts {
        self.run().counts
    }
}

/// What the starting step needs of a kernel's buffers.
pub(crate) struct StartBuffers<'a> {
    pub y: &'a [f64],
    pub f0: &'a [f64],
    pub y1: &'a mut [f64],
    pub f1: &'a mut [f64],
}

/// Steps until the time reached is at least `target`, never past `horizon`; lands exactly
/// on `horizon` when it gets there.
pub(crate) fn advance<E: Explicit>(
    e: &mut E,
    f: &mut Rhs<'_>,
    target: f64,
    horizon: f64,
) -> Result<(), StepFailure> {
    if e.run_mut().h <= 0.0 {
        let h_max = horizon - e.run_mut().t;
        e.run_mut().h = initial_step(e, f, h_max);
    }
    while e.run_mut().t < target {
        let s = e.run_mut();
        if s.watch.is_stiff() {
            return Err(StepFailure::Stiff { time: s.t });
        }
        let NextStep { h, last } = next_step(s.t, s.h, s.steps, &s.settings, horizon)?;
        s.steps += 1;
        let test = s.watch.wants_test(s.steps);
        let err = e.try_step(f, h);
        let s = e.run_mut();
        if err <= 1.0 {
            let h_new = s.control.accepted(h, err);
            let t_new = if last { horizon } else { s.t + h };
            let dense = t_new >= target;
            if let Some(h_lambda) = e.accept(f, h, dense, test)? {
                e.run_mut().watch.record(h_lambda);
            }
            let s = e.run_mut();
            (s.t_old, s.h_old) = (s.t, if dense { h } else { 0.0 });
            s.t = t_new;
            s.h = h_new;
            s.counts.accepted += 1;
        } else {
            s.h = s.control.rejected(h, err);
            s.counts.rejected += 1;
        }
    }
    Ok(())
}

/// Hairer's starting step: from the sizes of `y`, `f(t, y)` and an estimate of the second
/// derivative, at least [`starting_step_floor`], with `h ≤ h_max` (one right-hand-side
/// evaluation).
fn initial_step<E: Explicit>(e: &mut E, f: &mut Rhs<'_>, h_max: f64) -> f64 {
    let Stepping { settings, t, .. } = *e.run_mut();
    let StartBuffers { y, f0, y1, f1 } = e.start_buffers();
    let n = y.len();
    let (mut dnf, mut dny) = (0.0, 0.0);
    for i in 0..n {
        let sk = settings.weight(i, y, 0.0);
        dnf += (f0[i] / sk).powi(2);
        dny += (y[i] / sk).powi(2);
    }
    let mut h = if dnf <= 1e-10 || dny <= 1e-10 {
        1e-6
    } else {
        (dny / dnf).sqrt() * 0.01
    };
    h = h.min(h_max);
    for i in 0..n {
        y1[i] = y[i] + h * f0[i];
    }
    f.rhs(t + h, y1, f1);
    let mut der2 = 0.0;
    for i in 0..n {
        let sk = settings.weight(i, y, 0.0);
        der2 += ((f1[i] - f0[i]) / sk).powi(2);
    }
    let der2 = der2.sqrt() / h;
    let der12 = der2.abs().max(dnf.sqrt());
    let h1 = if der12 <= 1e-15 {
        (h * 1e-3).max(1e-6)
    } else {
        (0.01 / der12).powf(1.0 / E::ORDER)
    };
    e.run_mut().counts.rhs += 1;
    (100.0 * h).min(h1).max(starting_step_floor(t)).min(h_max)
}

#[cfg(test)]
mod tests {
    use super::super::dop853::Dop853;
    use super::super::dopri5::Dopri5;
    use super::*;
    use nalgebra::Vector2;
    use ode_solvers::{OutputType, System};

    /// Lotka–Volterra: smooth, nonlinear, with steps that vary by orders of magnitude.
    fn lotka_volterra(_t: f64, y: &[f64], dy: &mut [f64]) {
        dy[0] = 1.5 * y[0] - y[0] * y[1];
        dy[1] = -3.0 * y[1] + y[0] * y[1];
    }

    struct Lv;
    impl System<f64, Vector2<f64>> for Lv {
        fn system(&self, t: f64, y: &Vector2<f64>, dy: &mut Vector2<f64>) {
            lotka_volterra(t, y.as_slice(), dy.as_mut_slice());
        }
    }

    /// A kernel's work and end state on Lotka–Volterra over `[0, 20]`.
    fn ours(mut kernel: impl Kernel) -> (Counts, Vec<f64>) {
        let mut f = lotka_volterra;
        kernel.start(&mut f, 0.0, &[10.0, 1.0], 0.0);
        kernel.advance(&mut f, 20.0, 20.0).unwrap();
        (kernel.counts(), kernel.state().to_vec())
    }

    /// Both kernels take the same steps to the same end state as ode_solvers' DOPRI5 and
    /// DOP853 (independent transcriptions of the tableaus and the step-size control, with
    /// the DOPRI5 code's PI control and DOP853's `err^(1/8)` one).
    #[test]
    fn both_take_the_same_steps_as_ode_solvers() {
        let y0 = Vector2::new(10.0, 1.0);
        for (rtol, atol) in [(1e-6, 1e-9), (1e-10, 1e-12)] {
            let settings = Settings::new(rtol, atol, 100_000);
            // ode_solvers' integrator over [0, 20] with its step control's beta, fac_min and
            // fac_max (the largest step is the whole interval)
            macro_rules! reference {
                ($solver:ty, $beta:expr, $fac_min:expr, $fac_max:expr) => {
                    <$solver>::from_param(
                        Lv,
                        0.0,
                        20.0,
                        20.0,
                        y0,
                        rtol,
                        atol,
                        0.9,
                        $beta,
                        $fac_min,
                        $fac_max,
                        20.0,
                        0.0,
                        100_000,
                        u32::MAX,
                        OutputType::Sparse,
                    )
                };
            }
            let mut dopri5 = reference!(ode_solvers::Dopri5<_, _, _>, 0.04, 0.2, 10.0);
            let mut dop853 = reference!(ode_solvers::Dop853<_, _, _>, 0.0, 0.333, 6.0);
            let cases = [
                (
                    dopri5.integrate().unwrap(),
                    dopri5.y_out(),
                    ours(Dopri5::<[f64; 2]>::new(2, settings, false)),
                ),
                (
                    dop853.integrate().unwrap(),
                    dop853.y_out(),
                    ours(Dop853::<[f64; 2]>::new(2, settings, false)),
                ),
            ];
            for (stats, out, (counts, end)) in cases {
                assert_eq!(counts.accepted, u64::from(stats.accepted_steps), "{rtol}");
                assert_eq!(counts.rejected, u64::from(stats.rejected_steps), "{rtol}");
                let reference = out.last().unwrap();
                for i in 0..2 {
                    let error = (end[i] - reference[i]).abs();
                    assert!(error <= 1e-12 * reference[i].abs(), "{rtol}: {error:e}");
                }
            }
        }
    }
}
