//! Adaptive integration of a model between stops, with dense output: Dopri5, Dop853,
//! Rodasp, or an explicit method until it finds the problem stiff and Rodasp from there
//! ([`Integrator`]).
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

use super::kernel::{Counts, Integrator, Kernel, Settings, StepFailure, System, kernel};
use super::sensitivity::SensView;
use super::{SolverOptions, SolverStats};
use crate::error::{Error, Result};
use crate::model::Model;

/// The run in progress: what it was started with, and what it last handed out. Its
/// buffers are kept from one run to the next.
#[derive(Default)]
struct Run {
    /// Whether a run is in progress.
    live: bool,
    /// The parameters' address: a different parameter set starts a new run (only compared,
    /// never dereferenced).
    params: usize,
    rates: Vec<f64>,
    start: f64,
    horizon: f64,
    /// The time and (unscaled) state last handed out.
    at: f64,
    handed: Vec<f64>,
}

impl Run {
    /// Whether a call with these inputs continues this run exactly.
    fn continues(
        &self,
        params: usize,
        (from, horizon): (f64, f64),
        rates: &[f64],
        x: &[f64],
    ) -> bool {
        self.live
            && self.params == params
            && self.at == from
            && self.horizon == horizon
            && self.rates == rates
            && self.handed == x
    }
}

/// Integrator state carried from one call to the next.
pub(crate) struct Stepper<'a> {
    pub opts: &'a SolverOptions,
    pub stats: SolverStats,
    /// Step size to start the next run with (0: estimate it).
    pub next_step: f64,
    kernel: Option<Box<dyn Kernel>>,
    /// The kind of kernel in use: the options' choice, until an automatic choice switches
    /// to Rodasp (for the rest of the simulation).
    kind: Integrator,
    run: Run,
    /// The states' scales (empty when all are 1), the scaled state, and room for the
    /// unscaled one.
    scales: Vec<f64>,
    z: Vec<f64>,
    work: Vec<f64>,
    /// Room for the states either side along a sensitivity direction and their rates.
    scratch: Vec<f64>,
    /// The number of the model's states (the rest of the system are sensitivities).
    states: usize,
}

impl<'a> Stepper<'a> {
    pub fn new(opts: &'a SolverOptions) -> Self {
        Stepper {
            opts,
            stats: SolverStats::default(),
            next_step: 0.0,
            kernel: None,
            kind: opts.integrator,
            run: Run::default(),
            scales: Vec::new(),
            z: Vec::new(),
            work: Vec::new(),
            scratch: Vec::new(),
            states: 0,
        }
    }

    /// Forgets the run in progress (the state or its inputs jumped), and the step size.
    pub fn invalidate(&mut self) {
        self.run.live = false;
        self.next_step = 0.0;
    }

    /// Integrates `x` from `from` to `to` with infusion `rates` added to `dx/dt`. With a
    /// `horizon` (`≥ to`: no discontinuity before it), the run may step past `to` and
    /// continue at the next call from `to`; without one it ends at `to`.
    /// With `sens`, `x` is the state followed by its sensitivities along each direction
    /// (the augmented system of [`super::sensitivity`]), and `rates` is as long.
    pub fn integrate<M: Model>(
        &mut self,
        (model, params, sens): (&M, &M::Params, Option<&SensView<'_, M::Params>>),
        x: &mut [f64],
        (from, to): (f64, f64),
        rates: &[f64],
        horizon: Option<f64>,
    ) -> Result<()> {
        // Dopri5 cannot step across a segment within ~10 ulps of its start time; such a
        // segment (two stops a rounding error apart) is one explicit Euler step, whose
        // error O(h²) is far below any tolerance.
        let tiny = to - from <= 100.0 * f64::EPSILON * to.abs().max(from.abs()).max(1.0);
        let horizon = horizon.map_or(to, |h| h.max(to));
        let key = std::ptr::from_ref(params).cast::<()>() as usize;
        let fresh = tiny || !self.run.continues(key, (from, horizon), rates, x);
        if fresh {
            self.prepare_run(model, params, x, rates, (key, from, horizon))?;
        }
        let start = self.run.start;
        let mut f = ModelSystem {
            model,
            params,
            sens,
            rates: running(rates),
            scales: &self.scales,
            work: &mut self.work,
            scratch: &mut self.scratch,
            start,
            last_inside: horizon.next_down().max(start),
        };
        if tiny {
            self.run.live = false;
            self.stats.segments += 1;
            self.stats.rhs_evaluations += 1;
            // the run just prepared holds the scaled state
            euler(&mut f, &self.z, x, (from, to));
            return Ok(());
        }
        let active = self.kernel.as_mut().expect("a kernel");
        let mut before = active.counts();
        if fresh {
            active.start(&mut f, from, &self.z, self.next_step.min(horizon - from));
            self.stats.segments += 1;
        }
        let mut advanced = active.advance(&mut f, to, horizon);
        if let Err(StepFailure::Stiff { .. }) = advanced {
            // go on from where the explicit method stopped with Rodasp, for the rest of the
            // simulation
            add_counts(&mut self.stats, active.counts(), before);
            let settings = settings(self.opts, self.states);
            let mut implicit = kernel(Integrator::Rodasp, active.dim(), settings);
            implicit.start(&mut f, active.time(), active.state(), active.step_size());
            *active = implicit;
            self.kind = Integrator::Rodasp;
            self.stats.stiff_switches += 1;
            before = Counts::default();
            advanced = active.advance(&mut f, to, horizon);
        }
        add_counts(&mut self.stats, active.counts(), before);
        self.run.live = advanced.is_ok();
        advanced.map_err(|e| solver_error(model, e))?;
        active.dense(to, &mut self.z);
        x.copy_from_slice(&self.z);
        for (x, s) in x.iter_mut().zip(&self.scales) {
            *x *= s;
        }
        if let Some(state) = x.iter().position(|v| !v.is_finite()) {
            self.run.live = false;
            return Err(solver_error(
                model,
                StepFailure::NotFinite { time: to, state },
            ));
        }
        self.next_step = active.step_size();
        self.run.at = to;
        self.run.handed.clear();
        self.run.handed.extend_from_slice(x);
        Ok(())
    }

    /// Sets up a run from `(from, x)` towards `horizon`: the states' scales, the scaled
    /// state, a kernel of the right size, and the run's record.
    fn prepare_run<M: Model>(
        &mut self,
        model: &M,
        params: &M::Params,
        x: &[f64],
        rates: &[f64],
        (key, from, horizon): (usize, f64, f64),
    ) -> Result<()> {
        // the model's states first; sensitivities share the scale of their state
        let (dim, n) = (x.len(), model.n_states(params));
        self.scales.resize(n, 1.0);
        self.scales.fill(1.0);
        model.state_scales(params, &mut self.scales);
        for i in n..dim {
            self.scales.push(self.scales[i % n]);
        }
        if self.scales.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
            return Err(Error::InvalidModel {
                model: model.name().to_owned(),
                reason: format!("state scales must be finite and > 0, got {:?}", self.scales),
            });
        }
        if self.scales.iter().all(|&s| s == 1.0) {
            self.scales.clear();
        }
        self.z.clear();
        self.z.extend_from_slice(x);
        for (z, s) in self.z.iter_mut().zip(&self.scales) {
            *z /= s;
        }
        self.work.resize(dim, 0.0);
        self.scratch
            .resize(super::sensitivity::scratch_len(n, dim), 0.0);
        if self.kernel.as_ref().is_none_or(|k| k.dim() != dim) || self.states != n {
            self.states = n;
            let settings = settings(self.opts, n);
            self.kernel = Some(kernel(self.kind, dim, settings));
        }
        let run = &mut self.run;
        run.live = true;
        run.params = key;
        run.rates.clear();
        run.rates.extend_from_slice(rates);
        run.start = from;
        run.horizon = horizon;
        run.at = from;
        run.handed.clear();
        run.handed.extend_from_slice(x);
        Ok(())
    }
}

/// The infusion rates to add to the model's rates, none where all are 0 (then nothing is
/// added: the adding loop's paired loads of the model's rates just stored would stall on
/// store forwarding, 15% of a model-2 solution).
fn running(rates: &[f64]) -> &[f64] {
    if rates.iter().any(|&r| r != 0.0) {
        rates
    } else {
        &[]
    }
}

/// One explicit Euler step of `f` over a segment a rounding error long, from the unscaled
/// state `x` whose scaled form is `z`.
fn euler<M: Model>(f: &mut ModelSystem<'_, M>, z: &[f64], x: &mut [f64], (from, to): (f64, f64)) {
    let mut dz = vec![0.0; x.len()];
    f.rhs(from, z, &mut dz);
    for (i, xi) in x.iter_mut().enumerate() {
        let s = f.scales.get(i).copied().unwrap_or(1.0);
        *xi += (to - from) * dz[i] * s;
    }
}

/// The model as the kernels see it, on the scaled states `z = x / scales`: `dz/dt =
/// (f(t, x) + rates) / scales` (no scales: `z = x`; no rates: all 0) and
/// `∂ż/∂z = ∂f/∂x · sⱼ / sᵢ`, with `t` held inside `[start, last_inside]` and `work` holding
/// `x`. With sensitivities, `x` is followed by `Sⱼ = ∂x/∂pⱼ` for each direction `j`, and
/// `dSⱼ/dt` is the central difference of `f` along the direction in state and parameters
/// together ([`super::sensitivity`]).
struct ModelSystem<'a, M: Model> {
    model: &'a M,
    params: &'a M::Params,
    sens: Option<&'a SensView<'a, M::Params>>,
    rates: &'a [f64],
    scales: &'a [f64],
    work: &'a mut [f64],
    scratch: &'a mut [f64],
    start: f64,
    last_inside: f64,
}

impl<M: Model> ModelSystem<'_, M> {
    /// The unscaled state of `z` (`z` itself without scales).
    fn unscaled<'s>(work: &'s mut [f64], scales: &[f64], z: &'s [f64]) -> &'s [f64] {
        if scales.is_empty() {
            return z;
        }
        for ((x, z), s) in work.iter_mut().zip(z).zip(scales) {
            *x = z * s;
        }
        work
    }
}

impl<M: Model> System for ModelSystem<'_, M> {
    fn rhs(&mut self, t: f64, z: &[f64], dz: &mut [f64]) {
        let t = t.clamp(self.start, self.last_inside);
        let x = Self::unscaled(self.work, self.scales, z);
        match self.sens {
            None => self.model.derivatives(t, x, self.params, dz),
            Some(view) => view.augmented_rates(self.model, self.params, t, x, dz, self.scratch),
        }
        for (d, r) in dz.iter_mut().zip(self.rates) {
            *d += r;
        }
        for (d, s) in dz.iter_mut().zip(self.scales) {
            *d /= s;
        }
    }

    fn jacobian(&mut self, t: f64, z: &[f64], jac: &mut [f64]) -> bool {
        let t = t.clamp(self.start, self.last_inside);
        let x = Self::unscaled(self.work, self.scales, z);
        if let Some(view) = self.sens {
            // differences of the augmented right-hand side would move x by h·δ: rounding
            let n = x.len() / (1 + view.k());
            let (x, s) = x.split_at(n);
            view.augmented_jacobian(self.model, t, (x, self.params), s, jac);
        } else if !self.model.jacobian(t, x, self.params, jac) {
            return false;
        }
        let n = z.len();
        if !self.scales.is_empty() {
            for (i, row) in jac.chunks_exact_mut(n).enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v *= self.scales[j] / self.scales[i];
                }
            }
        }
        true
    }
}

/// The kernel settings of the options, for a system whose first `states` components are
/// the model's states.
fn settings(opts: &SolverOptions, states: usize) -> Settings {
    Settings::new(opts.rtol, opts.atol, opts.max_steps).with_states(states)
}

/// Adds a kernel's work between two counts to the simulation's.
fn add_counts(stats: &mut SolverStats, now: Counts, before: Counts) {
    stats.rhs_evaluations += now.rhs - before.rhs;
    stats.accepted_steps += now.accepted - before.accepted;
    stats.rejected_steps += now.rejected - before.rejected;
    stats.jacobians += now.jacobians - before.jacobians;
}

/// A failed run as the crate's error.
fn solver_error<M: Model>(model: &M, failure: StepFailure) -> Error {
    let (time, reason) = match failure {
        StepFailure::MaxSteps { time, steps } => (
            time,
            format!(
                "step budget exhausted ({steps} steps; raise SolverOptions::max_steps, or, if \
                 the model is stiff, integrate with Integrator::Rodasp)"
            ),
        ),
        StepFailure::Underflow { time } => (time, "step size underflow".into()),
        StepFailure::NotFinite { time, state } => {
            (time, format!("state #{state} became non-finite"))
        }
        StepFailure::Singular { time } => (
            time,
            "the implicit step's matrix I/(γh) − ∂f/∂y stayed singular as the step was halved"
                .into(),
        ),
        StepFailure::Stiff { time } => (time, "the problem is stiff".into()),
    };
    Error::Solver {
        model: model.name().to_owned(),
        time,
        reason,
    }
}
