//! Adaptive Dopri5 integration of a model between stops, with dense output.
//!
//! A *run* integrates from one discontinuity (a dose, an infusion start or end, a
//! breakpoint, a change of parameters) to the next, its *horizon*: it steps over output
//! times and gives the state there by the method's dense output, continuing from where it
//! was at the next call. A call that does not continue the run exactly (another start
//! time or state, other rates or parameters) starts a new run.
//!
//! Within a run over `[a, b]` the right-hand side is evaluated with `t` held inside
//! `[a, b)`, so a piecewise model sees the regime of the run it is in, even in the
//! Runge–Kutta stage that lands exactly on `b`; zero-order infusion rates (state units per
//! time unit) are added to it.

use super::dopri5::{Kernel, StepFailure, kernel};
use super::{SolverOptions, SolverStats};
use crate::error::{Error, Result};
use crate::model::Model;

/// The run in progress: what it was started with, and what it last handed out.
struct Run {
    /// The parameters' address: a different parameter set starts a new run (only compared,
    /// never dereferenced).
    params: *const (),
    rates: Vec<f64>,
    start: f64,
    horizon: f64,
    /// The time and (unscaled) state last handed out.
    at: f64,
    handed: Vec<f64>,
}

/// Integrator state carried from one call to the next.
pub(crate) struct Stepper<'a> {
    pub opts: &'a SolverOptions,
    pub stats: SolverStats,
    /// Step size to start the next run with (0: estimate it).
    pub next_step: f64,
    kernel: Option<Box<dyn Kernel>>,
    run: Option<Run>,
    /// The states' scales (empty when all are 1), the scaled state, and room for the
    /// unscaled one.
    scales: Vec<f64>,
    z: Vec<f64>,
    work: Vec<f64>,
}

impl<'a> Stepper<'a> {
    pub fn new(opts: &'a SolverOptions) -> Self {
        Stepper {
            opts,
            stats: SolverStats::default(),
            next_step: 0.0,
            kernel: None,
            run: None,
            scales: Vec::new(),
            z: Vec::new(),
            work: Vec::new(),
        }
    }

    /// Forgets the run in progress (the state or its inputs jumped), and the step size.
    pub fn invalidate(&mut self) {
        self.run = None;
        self.next_step = 0.0;
    }

    /// Integrates `x` from `from` to `to` with infusion `rates` added to `dx/dt`. With a
    /// `horizon` (`≥ to`: no discontinuity before it), the run may step past `to` and
    /// continue at the next call from `to`; without one it ends at `to`.
    pub fn integrate<M: Model>(
        &mut self,
        model: &M,
        params: &M::Params,
        x: &mut [f64],
        (from, to): (f64, f64),
        rates: &[f64],
        horizon: Option<f64>,
    ) -> Result<()> {
        let solver_error = |time: f64, reason: String| Error::Solver {
            model: model.name().to_owned(),
            time,
            reason,
        };
        // Dopri5 cannot step across a segment within ~10 ulps of its start time; such a
        // segment (two stops a rounding error apart) is one explicit Euler step, whose
        // error O(h²) is far below any tolerance.
        if to - from <= 100.0 * f64::EPSILON * to.abs().max(from.abs()).max(1.0) {
            self.run = None;
            self.stats.segments += 1;
            return self.euler(model, params, x, (from, to), rates);
        }
        let horizon = horizon.map_or(to, |h| h.max(to));
        let key = std::ptr::from_ref(params).cast::<()>();
        let continuing = self.run.as_ref().is_some_and(|r| {
            r.params == key
                && r.at == from
                && r.horizon == horizon
                && r.rates == rates
                && r.handed == x
        });
        if !continuing {
            self.start_run(model, params, x, (from, horizon), rates)?;
        }
        let run = self.run.as_ref().expect("a run");
        let (start, last_inside) = (run.start, horizon.next_down().max(run.start));
        let kernel = self.kernel.as_mut().expect("a kernel");
        let before = kernel.counts();
        let mut f = rhs(
            model,
            params,
            rates,
            &self.scales,
            &mut self.work,
            (start, last_inside),
        );
        let advanced = kernel.advance(&mut f, to, horizon);
        let after = kernel.counts();
        self.stats.rhs_evaluations += after[0] - before[0];
        self.stats.accepted_steps += after[1] - before[1];
        self.stats.rejected_steps += after[2] - before[2];
        if advanced.is_err() {
            self.run = None;
        }
        advanced.map_err(|e| match e {
            StepFailure::MaxSteps { time, steps } => solver_error(
                time,
                format!("step budget exhausted ({steps} steps; raise SolverOptions::max_steps)"),
            ),
            StepFailure::Underflow { time } => solver_error(time, "step size underflow".into()),
            StepFailure::NotFinite { time, state } => {
                solver_error(time, format!("state #{state} became non-finite"))
            }
        })?;
        kernel.dense(to, &mut self.z);
        x.copy_from_slice(&self.z);
        for (x, s) in x.iter_mut().zip(&self.scales) {
            *x *= s;
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(solver_error(to, format!("state #{i} became non-finite")));
        }
        self.next_step = kernel.step_size();
        let run = self.run.as_mut().expect("a run");
        run.at = to;
        run.handed.clear();
        run.handed.extend_from_slice(x);
        Ok(())
    }

    /// Starts a run at `(from, x)` towards `horizon`.
    fn start_run<M: Model>(
        &mut self,
        model: &M,
        params: &M::Params,
        x: &[f64],
        (from, horizon): (f64, f64),
        rates: &[f64],
    ) -> Result<()> {
        let n = x.len();
        self.scales.resize(n, 1.0);
        self.scales.fill(1.0);
        model.state_scales(params, &mut self.scales);
        if self.scales.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
            return Err(Error::InvalidModel {
                model: model.name().to_owned(),
                reason: format!("state scales must be finite and > 0, got {:?}", self.scales),
            });
        }
        self.z.clear();
        self.z
            .extend(x.iter().zip(&self.scales).map(|(x, s)| x / s));
        self.work.resize(n, 0.0);
        let opts = self.opts;
        if self.kernel.as_ref().is_none_or(|k| k.dim() != n) {
            self.kernel = Some(kernel(n, opts.rtol, opts.atol, opts.max_steps));
        }
        let kernel = self.kernel.as_mut().expect("a kernel");
        let last_inside = horizon.next_down().max(from);
        let mut f = rhs(
            model,
            params,
            rates,
            &self.scales,
            &mut self.work,
            (from, last_inside),
        );
        let evaluations = kernel.counts()[0];
        kernel.start(&mut f, from, &self.z, self.next_step.min(horizon - from));
        self.stats.rhs_evaluations += kernel.counts()[0] - evaluations;
        self.stats.segments += 1;
        self.run = Some(Run {
            params: std::ptr::from_ref(params).cast::<()>(),
            rates: rates.to_vec(),
            start: from,
            horizon,
            at: from,
            handed: x.to_vec(),
        });
        Ok(())
    }

    /// One explicit Euler step over a segment a rounding error long.
    fn euler<M: Model>(
        &mut self,
        model: &M,
        params: &M::Params,
        x: &mut [f64],
        (from, to): (f64, f64),
        rates: &[f64],
    ) -> Result<()> {
        let mut dx = vec![0.0; x.len()];
        model.derivatives(from, x, params, &mut dx);
        for ((xi, di), r) in x.iter_mut().zip(&dx).zip(rates) {
            *xi += (to - from) * (di + r);
        }
        self.stats.rhs_evaluations += 1;
        Ok(())
    }
}

/// The right-hand side on the scaled states `z = x / scales`, `dz/dt = (f(t, x) + rates) /
/// scales` (no scales: `z = x`), with `t` held inside `[start, last_inside]` and `work`
/// holding `x`.
fn rhs<'a, M: Model>(
    model: &'a M,
    params: &'a M::Params,
    rates: &'a [f64],
    scales: &'a [f64],
    work: &'a mut [f64],
    (start, last_inside): (f64, f64),
) -> impl FnMut(f64, &[f64], &mut [f64]) + 'a {
    move |t: f64, z: &[f64], dz: &mut [f64]| {
        let t = t.clamp(start, last_inside);
        if scales.is_empty() {
            model.derivatives(t, z, params, dz);
            for (d, r) in dz.iter_mut().zip(rates) {
                *d += r;
            }
            return;
        }
        for ((x, z), s) in work.iter_mut().zip(z).zip(scales) {
            *x = z * s;
        }
        model.derivatives(t, work, params, dz);
        for ((d, r), s) in dz.iter_mut().zip(rates).zip(scales) {
            *d = (*d + r) / s;
        }
    }
}
