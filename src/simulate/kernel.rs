//! What the stepper needs from an integrator: the [`Kernel`] trait, its failures, and the
//! choice of kernel for a simulation ([`Integrator`]).
//!
//! Three kernels implement it: [`Dopri5`](super::dopri5::Dopri5) and
//! [`Dop853`](super::dop853::Dop853), explicit, for non-stiff problems, which can watch for
//! stiffness; and [`Rodasp`](super::rodasp::Rodasp), linearly implicit (Rosenbrock), for
//! stiff ones.

use super::dop853::Dop853;
use super::dopri5::Dopri5;
use super::rodasp::Rodasp;

/// Which integrator solves a model's ODE.
///
/// A problem is *stiff* when its fastest decaying modes are much faster than the solution
/// itself changes (fast binding next to slow elimination, as in target-mediated drug
/// disposition; fast cytokine or signalling steps next to cell kinetics): an explicit
/// method then has to take steps as short as the fastest mode's time constant, long after
/// that mode has died out, and fails on its step budget or crawls. An implicit method
/// takes steps as long as the accuracy of the solution allows.
///
/// ```
/// use cart_pkpd::models::{CarTBCell, CarTBCellParams};
/// use cart_pkpd::{simulate, Dose, Integrator, SolverOptions};
/// let (p, doses) = (CarTBCellParams::default(), [Dose::bolus(0.0, 10.0)]);
/// let times = [0.0, 7.0, 28.0, 90.0];
/// // the default watches for stiffness; model 2 is not stiff, so Dopri5 does it all
/// let auto = simulate(&CarTBCell, &p, &doses, &times, &SolverOptions::default()).unwrap();
/// assert_eq!(auto.stats.stiff_switches, 0);
/// // the implicit method throughout, with model 2's own Jacobian
/// let opts = SolverOptions::default().with_integrator(Integrator::Rodasp);
/// let implicit = simulate(&CarTBCell, &p, &doses, &times, &opts).unwrap();
/// assert!(implicit.stats.jacobians > 0);
/// let (a, b) = (auto.get("transgene").unwrap(), implicit.get("transgene").unwrap());
/// assert!((a[1] - b[1]).abs() < 1e-4 * a[1]); // the peak week, to the tolerance
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Integrator {
    /// Dopri5 at every tolerance, watching for stiffness; when it finds it (Hairer's test:
    /// the step size times the estimated dominant eigenvalue, `h·|λ|`, beyond 2.5, near
    /// the method's stability boundary, on 15 accepted steps without 6 non-stiff ones in a
    /// row), the simulation goes on with Rodasp from there to its end. On a non-stiff
    /// problem this is Dopri5, step for step. Why not Dop853 at tight tolerances, where it
    /// is faster (see [`Dop853`](Self::Dop853)): where stability rather than accuracy limits
    /// the steps, short of what the stiffness test calls stiff, its interpolated outputs
    /// and its error control degrade, and Dopri5's do not.
    #[default]
    Auto,
    /// The Dormand–Prince 5(4) explicit Runge–Kutta method: the cheapest per step, for
    /// non-stiff problems (the built-in models).
    Dopri5,
    /// The Dormand–Prince 8(5,3) explicit Runge–Kutta method with 7th-order dense output:
    /// twice Dopri5's work per step, but far fewer steps, for problems that are not stiff
    /// at all: on a model-2 subject-year (20 outputs) 34.5 against 47.6 µs at rtol 1e-6 and
    /// 89 against 286 µs at 1e-10, as accurate. Not where stability limits the steps (a
    /// process much faster than the rest, even short of stiff): on a one-compartment oral
    /// model with elimination 51 times faster than absorption, at rtol 1e-9, its step ends
    /// were off by 74·rtol and its interpolated outputs by up to 3e-4, where Dopri5's were
    /// within rtol. On `y' = λy` one step shows why: the blended error estimate has a dip
    /// near `h·λ = −5.5` (it reads 0.024 where the step errs by 0.19), where steps limited
    /// by stability settle, and from `h·λ = −4` on the dense output errs by 1.5 to 130
    /// times the estimate (Dopri5's: at most 1.1 times, up to its stability boundary). Its solutions are also noisier as functions of the parameters (a FOCE-I
    /// objective scan: 1.8e-6 against Dopri5's 3.4e-7 at rtol 1e-6).
    Dop853,
    /// The Rosenbrock method RODASP (Steinebach 1993), order 4(3), L-stable and stiffly
    /// accurate, without the loss of order of other Rosenbrock methods on stiff problems
    /// driven through time, with a Jacobian by finite differences at every step: for stiff
    /// problems; on a non-stiff one it is correct but costs more per step than Dopri5.
    Rodasp,
}

/// Why a run stopped short.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum StepFailure {
    /// More than the step budget in one run.
    MaxSteps { time: f64, steps: u32 },
    /// The step size fell below the resolution of the time.
    Underflow { time: f64 },
    /// A state became NaN or infinite.
    NotFinite { time: f64, state: usize },
    /// The iteration matrix of an implicit step stayed singular as the step was halved.
    Singular { time: f64 },
    /// The explicit method found the problem stiff and stopped at `time` (not a failure
    /// of the simulation: the stepper goes on with an implicit kernel from there).
    Stiff { time: f64 },
}

/// A state-sized buffer: an array for the sizes the models have (so that the loops are
/// unrolled and kept in registers), a vector beyond them.
pub(crate) trait Buf {
    fn zeros(n: usize) -> Self;
    fn s(&self) -> &[f64];
    fn m(&mut self) -> &mut [f64];
}

impl<const N: usize> Buf for [f64; N] {
    fn zeros(_: usize) -> Self {
        [0.0; N]
    }
    fn s(&self) -> &[f64] {
        self
    }
    fn m(&mut self) -> &mut [f64] {
        self
    }
}

impl Buf for Vec<f64> {
    fn zeros(n: usize) -> Self {
        vec![0.0; n]
    }
    fn s(&self) -> &[f64] {
        self
    }
    fn m(&mut self) -> &mut [f64] {
        self
    }
}

/// The system a kernel integrates: its right-hand side `dy/dt = f(t, y)`, and its Jacobian
/// `∂f/∂y` when it has one (a closure is a system without).
pub(crate) trait System {
    /// Writes `f(t, y)` into `dy`.
    fn rhs(&mut self, t: f64, y: &[f64], dy: &mut [f64]);
    /// Writes `∂fᵢ/∂yⱼ` at `(t, y)` into `jac[i·n + j]` and returns `true`, or returns
    /// `false` (the kernel then takes finite differences of `f`).
    fn jacobian(&mut self, t: f64, y: &[f64], jac: &mut [f64]) -> bool {
        let _ = (t, y, jac);
        false
    }
}

impl<F: FnMut(f64, &[f64], &mut [f64])> System for F {
    fn rhs(&mut self, t: f64, y: &[f64], dy: &mut [f64]) {
        self(t, y, dy);
    }
}

/// A system as the kernels take it.
pub(crate) type Rhs<'f> = dyn System + 'f;

/// The settings a kernel is built with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Settings {
    pub rtol: f64,
    pub atol: f64,
    /// Largest number of steps in one run.
    pub max_steps: u32,
    /// The number of the model's own states: components from here on are sensitivities
    /// of state `i mod states` (all of them are states without sensitivities).
    pub states: usize,
}

impl Settings {
    pub const fn new(rtol: f64, atol: f64, max_steps: u32) -> Self {
        Settings {
            rtol,
            atol,
            max_steps,
            states: usize::MAX,
        }
    }

    /// These settings for a system whose first `states` components are the states.
    pub const fn with_states(self, states: usize) -> Self {
        Settings { states, ..self }
    }

    /// The error weight `atol + rtol·m` of component `i` of `y`, `m` the larger of `|yᵢ|`
    /// and `|other|`, and for a sensitivity also of its state's `|y_(i mod states)|`: a
    /// sensitivity near 0 beside a large state is then held to the state's relative
    /// accuracy, not to one below the rounding of the differences that give it.
    #[inline]
    pub fn weight(&self, i: usize, y: &[f64], other: f64) -> f64 {
        let mut m = y[i].abs().max(other.abs());
        if i >= self.states {
            m = m.max(y[i % self.states].abs());
        }
        self.atol + self.rtol * m
    }
}

/// The smallest first step of a run from `t`: `10⁴` rounding units of `t`. Hairer's
/// starting step is 1% of the time the state takes to change by its own size, which for a
/// state at the noise level of `atol` meeting a large input (an infusion starting into a
/// compartment emptied to 1e-11) was ~1e-16, not a step at all in time 36: every
/// integrator stopped with a step size underflow where the exact solution had no trouble.
/// From the floor the step-size control grows the steps as the error allows.
pub(crate) fn starting_step_floor(t: f64) -> f64 {
    1e4 * f64::EPSILON * t.abs()
}

/// The size of the next step to try, and whether it is the last of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NextStep {
    pub h: f64,
    /// The step lands exactly on the horizon (it was within 1% of the proposed size).
    pub last: bool,
}

/// The next step from `t` with proposed size `h` after `steps` steps of the run: cut to
/// land on `horizon` when it nearly reaches it; [`StepFailure::MaxSteps`] over the budget,
/// [`StepFailure::Underflow`] when `h` no longer moves `t`.
pub(crate) fn next_step(
    t: f64,
    h: f64,
    steps: u32,
    settings: &Settings,
    horizon: f64,
) -> Result<NextStep, StepFailure> {
    if steps >= settings.max_steps {
        return Err(StepFailure::MaxSteps { time: t, steps });
    }
    if 0.1 * h <= t.abs() * f64::EPSILON {
        return Err(StepFailure::Underflow { time: t });
    }
    let last = t + 1.01 * h >= horizon;
    Ok(NextStep {
        h: if last { horizon - t } else { h },
        last,
    })
}

/// The work a kernel has done since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Right-hand-side evaluations, including those of finite-difference Jacobians.
    pub rhs: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Jacobians computed (implicit kernels).
    pub jacobians: u64,
}

/// The integrator as the stepper uses it, whatever its buffers.
pub(crate) trait Kernel {
    /// The number of states.
    fn dim(&self) -> usize;
    /// Starts a run at `(t, y)`, with first step `h` (0: estimated from the problem).
    fn start(&mut self, f: &mut Rhs<'_>, t: f64, y: &[f64], h: f64);
    /// Steps until the time reached is at least `target`, never past `horizon`
    /// (`target ≤ horizon`); lands exactly on `horizon` when it gets there.
    fn advance(&mut self, f: &mut Rhs<'_>, target: f64, horizon: f64) -> Result<(), StepFailure>;
    /// The solution at `t` inside the last accepted step (at or after its end: the state).
    fn dense(&self, t: f64, out: &mut [f64]);
    /// The time reached and the state there.
    fn time(&self) -> f64;
    fn state(&self) -> &[f64];
    /// The step size the next step would try.
    fn step_size(&self) -> f64;
    /// The work done since creation.
    fn counts(&self) -> Counts;
}

/// A kernel of the chosen kind for `n` states: Rodasp, or Dopri5 (on the stack for up to
/// 16 states) that stops with [`StepFailure::Stiff`] when it finds the problem stiff if
/// the choice is [`Integrator::Auto`].
pub(crate) fn kernel(kind: Integrator, n: usize, settings: Settings) -> Box<dyn Kernel> {
    let (eighth_order, watch) = match kind {
        Integrator::Rodasp => return Box::new(Rodasp::new(n, settings)),
        Integrator::Auto => (false, true),
        Integrator::Dopri5 => (false, false),
        Integrator::Dop853 => (true, false),
    };
    macro_rules! sized {
        ($kernel:ident; $($n:literal)*) => {
            match n {
                $($n => Box::new($kernel::<[f64; $n]>::new(n, settings, watch)),)*
                _ => Box::new($kernel::<Vec<f64>>::new(n, settings, watch)),
            }
        };
    }
    if eighth_order {
        sized!(Dop853; 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    } else {
        sized!(Dopri5; 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kernels_interpolate_closed_forms_between_steps() {
        // y' = −0.3y and u'' = −4(u − t), a forcing that makes f depend on t:
        // y = exp(−0.3t), u = cos 2t + t (u' = v, v' = −4(u − t))
        let mut f = |t: f64, y: &[f64], dy: &mut [f64]| {
            dy[0] = -0.3 * y[0];
            dy[1] = y[2];
            dy[2] = -4.0 * (y[1] - t);
        };
        // the global error of a run at rtol 1e-9 dominates (measured: Dopri5 2.6e-8 in
        // 947 steps, Dop853 1.7e-8 in 138)
        for (kind, bound) in [
            (Integrator::Dopri5, 1e-7),
            (Integrator::Dop853, 1e-7),
            (Integrator::Rodasp, 1e-7),
        ] {
            let mut ode = kernel(kind, 3, Settings::new(1e-9, 1e-12, 100_000));
            ode.start(&mut f, 0.0, &[1.0, 1.0, 1.0], 0.0);
            let mut y = [0.0; 3];
            let mut worst: f64 = 0.0;
            // 200 outputs, each reached by continuing the same run
            for i in 1..=200 {
                let t = 0.137 * f64::from(i);
                ode.advance(&mut f, t, 30.0).unwrap();
                ode.dense(t, &mut y);
                worst = worst
                    .max((y[0] - (-0.3 * t).exp()).abs())
                    .max((y[1] - (2.0 * t).cos() - t).abs());
            }
            assert!(worst < bound, "{kind:?}: {worst:e}");
            // outputs were interpolated, not stepped to: the same steps as a run without them
            let mut plain = kernel(kind, 3, Settings::new(1e-9, 1e-12, 100_000));
            plain.start(&mut f, 0.0, &[1.0, 1.0, 1.0], 0.0);
            plain.advance(&mut f, 0.137 * 200.0, 30.0).unwrap();
            let (with, without) = (ode.counts(), plain.counts());
            assert_eq!(
                (with.accepted, with.rejected),
                (without.accepted, without.rejected),
                "{kind:?}"
            );
            // Dop853's interpolant costs 3 more stages on a step that holds an output
            let dense_stages = if kind == Integrator::Dop853 { 3 } else { 0 };
            assert!(with.rhs <= without.rhs + 200 * dense_stages, "{kind:?}");
            // the run ends on its horizon exactly
            ode.advance(&mut f, 30.0, 30.0).unwrap();
            assert_eq!(ode.time(), 30.0);
            ode.dense(30.0, &mut y);
            assert!((y[0] - (-9.0f64).exp()).abs() < 1e-9, "{kind:?}");
        }
    }

    #[test]
    fn both_kernels_report_their_failures() {
        for kind in [Integrator::Dopri5, Integrator::Dop853, Integrator::Rodasp] {
            let mut blow_up = |_t: f64, y: &[f64], dy: &mut [f64]| dy[0] = y[0] * y[0];
            let mut ode = kernel(kind, 1, Settings::new(1e-6, 1e-9, 100_000));
            ode.start(&mut blow_up, 0.0, &[1.0], 0.0);
            // y = 1/(1 − t) leaves every bound at t = 1
            let e = ode.advance(&mut blow_up, 2.0, 2.0).unwrap_err();
            assert!(
                matches!(e, StepFailure::Underflow { time } | StepFailure::NotFinite { time, .. } if (time - 1.0).abs() < 1e-3),
                "{kind:?}: {e:?}"
            );
            let mut ode = kernel(kind, 1, Settings::new(1e-6, 1e-9, 10));
            let mut f = |t: f64, _y: &[f64], dy: &mut [f64]| dy[0] = (50.0 * t).sin();
            ode.start(&mut f, 0.0, &[0.0], 0.0);
            assert!(
                matches!(
                    ode.advance(&mut f, 100.0, 100.0),
                    Err(StepFailure::MaxSteps { steps: 10, .. })
                ),
                "{kind:?}"
            );
        }
    }
}
