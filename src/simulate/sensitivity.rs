//! Forward sensitivities: the derivatives of every output along chosen directions in
//! parameter space, integrated with the states.
//!
//! # The sensitivity equations
//! A direction `j` is a path `p(ε)` through parameter space, given by the parameter sets
//! `p(±h)` either side of the nominal one (one set per piece when parameters change over
//! time); for a random effect `ηⱼ` they are the individual parameters at `η ± h·eⱼ`. The
//! sensitivities `Sⱼ = ∂x/∂ε` obey
//!
//! `dSⱼ/dt = ∂f/∂x·Sⱼ + ∂f/∂p·p'(0) = d/dε f(x + εSⱼ, p(ε)) at ε = 0`,
//!
//! taken as the central difference `[f(x + hSⱼ, p(h)) − f(x − hSⱼ, p(−h))] / 2h`
//! (`2K` right-hand sides per stage for `K` directions, error `O(h²)`, no Jacobian needed).
//! The augmented system `[x, S₁, …, S_K]` is integrated by the same kernels, with error
//! control over states and sensitivities. The differences are of the right-hand side along
//! one step sequence, not of solutions, so they carry none of the solver's step-selection
//! noise: a step `h = 10⁻⁵` is accurate where differences of adaptive solutions need `10⁻³`.
//!
//! # Events (jump conditions)
//! An event at time `τ` maps the state by `x⁺ = E(x⁻; p)` (a dose's
//! [`on_dose`](crate::Model::on_dose), then its amount for a bolus). With `τ' = ∂τ/∂ε`
//! (from the lag times either side) and `f∓` the full right-hand sides just before and
//! after,
//!
//! `S⁺ = ∂E/∂x·(S⁻ + f⁻τ') + ∂E/∂p·p'(0) − f⁺τ'`,
//!
//! the first two terms again by a central difference of `E` along `(S⁻ + f⁻τ', p)`. An
//! infusion ending at `τ + D` drops its rate `R` from compartment `s`:
//! `S⁺ = S⁻ + R·e_s·(τ' + D')`; its rate's derivative `R'` is added to `dS/dt` while it
//! runs. A model breakpoint at `τ(p)` gives `S⁺ = S⁻ + (f⁻ − f⁺)·τ'`. A reset sets
//! `S = ∂x₀/∂ε`, and an output `y = g(t, x; p)` has `∂y/∂ε` by the central difference
//! along `(S, p)`.
//!
//! # Not covered
//! Steady-state doses, and exact solutions (linear systems, closed forms): the caller
//! differentiates those by differences of solutions, which for an exact solution carry no
//! solver noise.

use super::engine::{Engine, Infusion, Pending, Propagator, Resolved};
use super::plan::Plan;
use super::{SolutionMethod, SolverOptions, SolverStats, closed_form, exact_systems, ode};
use crate::dose::{Dose, SteadyState};
use crate::error::{Error, Result};
use crate::model::Model;

/// The directions along which outputs are differentiated.
#[derive(Debug, Clone)]
pub(crate) struct Directions<P> {
    /// Per direction, the parameter sets (one per piece) at `ε = +h`.
    pub plus: Vec<Vec<P>>,
    /// Per direction, the parameter sets at `ε = −h`.
    pub minus: Vec<Vec<P>>,
    /// The step `h` (> 0).
    pub h: f64,
}

/// The outputs and their derivatives along each direction at every output slot.
#[derive(Debug, Clone)]
pub(crate) struct Sensitivities {
    /// `outputs().len()` values per slot.
    pub outputs: Vec<f64>,
    /// `∂y/∂ε`, slot by slot, direction by direction within a slot, output by output
    /// within a direction.
    pub derivatives: Vec<f64>,
    pub stats: SolverStats,
}

/// The directions as seen while parameter set `piece` is in force, between two model
/// breakpoints.
pub(crate) struct SensView<'a, P> {
    dirs: &'a Directions<P>,
    piece: usize,
    bracket: Bracket<'a>,
}

/// The model breakpoints either side of a run and the derivatives of their times (empty
/// where there is none).
#[derive(Debug, Clone, Copy)]
struct Bracket<'a> {
    lo: f64,
    d_lo: &'a [f64],
    hi: f64,
    d_hi: &'a [f64],
}

impl Bracket<'_> {
    const NONE: Bracket<'static> = Bracket {
        lo: f64::NEG_INFINITY,
        d_lo: &[],
        hi: f64::INFINITY,
        d_hi: &[],
    };

    /// The time at which the right-hand side at `p(e)` along direction `j` is in the same
    /// regime as the nominal one at `t`: `t` held inside the bracket as it moves with the
    /// parameters (a breakpoint at `τ(p)` moves to `τ + e·τ'`).
    fn time(&self, t: f64, j: usize, e: f64) -> f64 {
        let lo = self.d_lo.get(j).map_or(self.lo, |d| self.lo + e * d);
        let hi = self
            .d_hi
            .get(j)
            .map_or(self.hi, |d| (self.hi + e * d).next_down());
        t.max(lo).min(hi)
    }
}

impl<P> Clone for SensView<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for SensView<'_, P> {}

impl<'a, P> SensView<'a, P> {
    /// The number of directions.
    pub fn k(&self) -> usize {
        self.dirs.plus.len()
    }

    fn plus(&self, j: usize) -> &'a P {
        &self.dirs.plus[j][self.piece]
    }

    fn minus(&self, j: usize) -> &'a P {
        &self.dirs.minus[j][self.piece]
    }

    /// Writes `dSⱼ/dt` (without infusion rates) for every direction into `ds`, at state `x`
    /// with sensitivities `s` (both `K·n` long); `scratch` holds at least `4n` values.
    pub fn directional_rates<M: Model<Params = P>>(
        &self,
        model: &M,
        t: f64,
        x: &[f64],
        s: &[f64],
        ds: &mut [f64],
        scratch: &mut [f64],
    ) {
        let n = x.len();
        let h = self.dirs.h;
        let (xp, rest) = scratch.split_at_mut(n);
        let (xm, rest) = rest.split_at_mut(n);
        let (fp, rest) = rest.split_at_mut(n);
        let fm = &mut rest[..n];
        for (j, (sj, dj)) in s.chunks_exact(n).zip(ds.chunks_exact_mut(n)).enumerate() {
            for i in 0..n {
                xp[i] = x[i] + h * sj[i];
                xm[i] = x[i] - h * sj[i];
            }
            let (tp, tm) = (self.bracket.time(t, j, h), self.bracket.time(t, j, -h));
            model.derivatives(tp, xp, self.plus(j), fp);
            model.derivatives(tm, xm, self.minus(j), fm);
            for i in 0..n {
                dj[i] = (fp[i] - fm[i]) / (2.0 * h);
            }
        }
    }
}

impl<'a, P> SensView<'a, P> {
    /// The augmented system's Jacobian (`N = n·(1 + K)` square, row by row) at state `x`
    /// with sensitivities `s`: `J = ∂f/∂x` in every diagonal block and, in block row `j`,
    /// `Bⱼ = ∂(dSⱼ/dt)/∂x = d/dε J(x + εSⱼ, p(ε))` in the first block column (it carries
    /// `∂J/∂p`, which the implicit method needs for its order). With the model's own
    /// Jacobian, `Bⱼ = [J(x + hSⱼ, p(h)) − J(x − hSⱼ, p(−h))] / 2h`; without, `J` by forward
    /// differences and `Bⱼ` by mixed second differences of `f` with a state step
    /// `ε^(1/3)·max(|xᵢ|, 10⁻⁵)` (rounding and truncation both near 10⁻⁵ relative).
    pub fn augmented_jacobian<M: Model<Params = P>>(
        &self,
        model: &M,
        t: f64,
        (x, params): (&[f64], &P),
        s: &[f64],
        jac: &mut [f64],
    ) {
        let n = x.len();
        let big = n * (1 + self.k());
        let h = self.dirs.h;
        jac.fill(0.0);
        let mut j0 = vec![0.0; n * n];
        let exact = model_jacobian(model, t, x, params, &mut j0);
        for block in 0..=self.k() {
            for r in 0..n {
                let row = (block * n + r) * big + block * n;
                jac[row..row + n].copy_from_slice(&j0[r * n..(r + 1) * n]);
            }
        }
        let (mut xp, mut xm) = (vec![0.0; n], vec![0.0; n]);
        let (mut jp, mut jm) = (vec![0.0; n * n], vec![0.0; n * n]);
        for (j, sj) in s.chunks_exact(n).enumerate() {
            for i in 0..n {
                xp[i] = x[i] + h * sj[i];
                xm[i] = x[i] - h * sj[i];
            }
            if exact {
                model.jacobian(t, &xp, self.plus(j), &mut jp);
                model.jacobian(t, &xm, self.minus(j), &mut jm);
            } else {
                let step = f64::EPSILON.cbrt();
                differenced_jacobian(model, t, &xp, self.plus(j), step, &mut jp);
                differenced_jacobian(model, t, &xm, self.minus(j), step, &mut jm);
            }
            for r in 0..n {
                let row = ((j + 1) * n + r) * big;
                for c in 0..n {
                    jac[row + c] = (jp[r * n + c] - jm[r * n + c]) / (2.0 * h);
                }
            }
        }
    }
}

/// `∂f/∂x` at `(t, x)` into `jac` (row by row): the model's own (returns `true`), or by
/// forward differences with relative step `√ε` (returns `false`).
fn model_jacobian<M: Model>(model: &M, t: f64, x: &[f64], p: &M::Params, jac: &mut [f64]) -> bool {
    if model.jacobian(t, x, p, jac) {
        return true;
    }
    differenced_jacobian(model, t, x, p, f64::EPSILON.sqrt(), jac);
    false
}

/// `∂f/∂x` by forward differences, state `i` moved by `rel·max(|xᵢ|, 10⁻⁵)`.
fn differenced_jacobian<M: Model>(
    model: &M,
    t: f64,
    x: &[f64],
    p: &M::Params,
    rel: f64,
    jac: &mut [f64],
) {
    let n = x.len();
    let (mut f0, mut f1) = (vec![0.0; n], vec![0.0; n]);
    let mut y = x.to_vec();
    model.derivatives(t, x, p, &mut f0);
    for c in 0..n {
        let delta = rel * x[c].abs().max(1e-5);
        y[c] = x[c] + delta;
        model.derivatives(t, &y, p, &mut f1);
        y[c] = x[c];
        for r in 0..n {
            jac[r * n + c] = (f1[r] - f0[r]) / delta;
        }
    }
}

/// A dose's amount (state units) and infusion duration at one side of a direction.
#[derive(Debug, Clone, Copy)]
struct Side {
    amount: f64,
    duration: Option<f64>,
}

impl Side {
    fn rate(&self) -> f64 {
        self.duration.map_or(0.0, |d| self.amount / d)
    }
}

/// What a dose record's jump conditions need, per direction.
#[derive(Debug, Clone)]
struct DoseSens {
    plus: Vec<Side>,
    minus: Vec<Side>,
    /// `∂τ/∂ε` of its entry time (the lag time's derivative).
    d_time: Vec<f64>,
}

/// A model breakpoint and the derivative of its time, per direction.
#[derive(Debug, Clone)]
struct Breakpoint {
    time: f64,
    d_time: Vec<f64>,
}

/// The sensitivities' part of an engine.
pub(super) struct SensState<'a, P> {
    dirs: &'a Directions<P>,
    /// Per dose record scheduled (a dose's `tag`).
    doses: Vec<DoseSens>,
    /// Per piece, its breakpoints.
    breakpoints: Vec<Vec<Breakpoint>>,
    /// The derivatives of the outputs, as in [`Sensitivities::derivatives`].
    out: Vec<f64>,
}

impl<P> SensState<'_, P> {
    /// The view for a run from time `t` with `piece` in force: between the piece's
    /// breakpoints either side of `t`.
    pub(super) fn view(&self, piece: usize, t: f64) -> SensView<'_, P> {
        let list = &self.breakpoints[piece];
        let k = list.partition_point(|b| b.time <= t);
        let mut bracket = Bracket::NONE;
        if let Some(b) = k.checked_sub(1).map(|i| &list[i]) {
            (bracket.lo, bracket.d_lo) = (b.time, &b.d_time);
        }
        if let Some(b) = list.get(k) {
            (bracket.hi, bracket.d_hi) = (b.time, &b.d_time);
        }
        SensView {
            dirs: self.dirs,
            piece,
            bracket,
        }
    }
}

/// The right-hand side `f(t, x) + rates` with the rates of `infusions`.
fn full_rhs<M: Model>(
    model: &M,
    params: &M::Params,
    t: f64,
    x: &[f64],
    infusions: &[Infusion],
) -> Vec<f64> {
    let mut f = vec![0.0; x.len()];
    model.derivatives(t, x, params, &mut f);
    for i in infusions {
        f[i.state] += i.rate;
    }
    f
}

impl<'a, M: Model> Engine<'a, M> {
    /// Turns on sensitivities along `dirs` for a plan of `n_slots` output slots: the state
    /// grows to `n·(1 + K)`.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] when a direction's parameter sets give the model another
    /// number of breakpoints.
    pub(super) fn with_sensitivities(
        mut self,
        dirs: &'a Directions<M::Params>,
        n_slots: usize,
    ) -> Result<Self> {
        let k = dirs.plus.len();
        let n = self.n;
        let mut breakpoints = Vec::with_capacity(self.params.len());
        for (piece, p) in self.params.iter().enumerate() {
            let at = |q: &M::Params| self.model.breakpoints(q);
            let nominal = at(p);
            let mut list: Vec<Breakpoint> = nominal
                .iter()
                .map(|&time| Breakpoint {
                    time,
                    d_time: Vec::with_capacity(k),
                })
                .collect();
            for j in 0..k {
                let (up, down) = (at(&dirs.plus[j][piece]), at(&dirs.minus[j][piece]));
                if up.len() != nominal.len() || down.len() != nominal.len() {
                    return Err(Error::InvalidModel {
                        model: self.model.name().to_owned(),
                        reason: "the number of breakpoints changes with the parameters".into(),
                    });
                }
                for (b, (u, d)) in list.iter_mut().zip(up.iter().zip(&down)) {
                    b.d_time.push((u - d) / (2.0 * dirs.h));
                }
            }
            list.retain(|b| b.time.is_finite() && b.d_time.iter().all(|d| d.is_finite()));
            list.sort_by(|a, b| a.time.total_cmp(&b.time));
            breakpoints.push(list);
        }
        self.x = vec![0.0; n * (1 + k)];
        self.rates = vec![0.0; n * (1 + k)];
        self.sens = Some(SensState {
            dirs,
            doses: Vec::new(),
            breakpoints,
            out: vec![0.0; n_slots * k * self.model.outputs().len()],
        });
        Ok(self)
    }

    /// The sensitivities' view while `piece` is in force, away from model breakpoints.
    pub(super) fn sens_view(&self, piece: usize) -> Option<SensView<'a, M::Params>> {
        self.sens.as_ref().map(|s| SensView {
            dirs: s.dirs,
            piece,
            bracket: Bracket::NONE,
        })
    }

    /// The derivatives of the outputs, once the plan has run.
    pub(super) fn take_derivatives(&mut self) -> Vec<f64> {
        self.sens
            .as_mut()
            .map(|s| std::mem::take(&mut s.out))
            .unwrap_or_default()
    }

    /// `S = ∂x₀/∂ε` at a reset with `piece` in force.
    pub(super) fn reset_sensitivities(&mut self, piece: usize) {
        let Some(view) = self.sens_view(piece) else {
            return;
        };
        let (n, h) = (self.n, view.dirs.h);
        let mut down = vec![0.0; n];
        let (_, s) = self.x.split_at_mut(n);
        for (j, sj) in s.chunks_exact_mut(n).enumerate() {
            self.model.initial_state(view.plus(j), sj);
            self.model.initial_state(view.minus(j), &mut down);
            for (u, d) in sj.iter_mut().zip(&down) {
                *u = (*u - d) / (2.0 * h);
            }
        }
    }

    /// The derivatives of every output at output slot `slot`, with `piece` in force.
    pub(super) fn output_sensitivities(&mut self, slot: usize, piece: usize) {
        let Some(view) = self.sens_view(piece) else {
            return;
        };
        let (n, h, k) = (self.n, view.dirs.h, view.k());
        let n_out = self.model.outputs().len();
        let (x, s) = self.x.split_at(n);
        let (mut xp, mut xm) = (vec![0.0; n], vec![0.0; n]);
        let (mut yp, mut ym) = (vec![0.0; n_out], vec![0.0; n_out]);
        let out = &mut self.sens.as_mut().expect("sensitivities").out;
        let block = &mut out[slot * k * n_out..(slot + 1) * k * n_out];
        for (j, (sj, dy)) in s
            .chunks_exact(n)
            .zip(block.chunks_exact_mut(n_out))
            .enumerate()
        {
            for i in 0..n {
                xp[i] = x[i] + h * sj[i];
                xm[i] = x[i] - h * sj[i];
            }
            self.model.output(self.t, &xp, view.plus(j), &mut yp);
            self.model.output(self.t, &xm, view.minus(j), &mut ym);
            for ((d, u), l) in dy.iter_mut().zip(&yp).zip(&ym) {
                *d = (u - l) / (2.0 * h);
            }
        }
    }

    /// Resolves `dose` either side of every direction and records what its jump
    /// conditions need; returns its tag (0 without sensitivities).
    pub(super) fn dose_sensitivities(&mut self, dose: &Dose, piece: usize) -> Result<usize> {
        let Some(view) = self.sens_view(piece) else {
            return Ok(0);
        };
        let h = view.dirs.h;
        let mut record = DoseSens {
            plus: Vec::with_capacity(view.k()),
            minus: Vec::with_capacity(view.k()),
            d_time: Vec::with_capacity(view.k()),
        };
        let side = |r: &Resolved| Side {
            amount: r.amount,
            duration: r.duration,
        };
        for j in 0..view.k() {
            let up = self.resolve_with(dose, view.plus(j))?;
            let down = self.resolve_with(dose, view.minus(j))?;
            record.plus.push(side(&up));
            record.minus.push(side(&down));
            record
                .d_time
                .push((up.dosing.lag - down.dosing.lag) / (2.0 * h));
        }
        let doses = &mut self.sens.as_mut().expect("sensitivities").doses;
        doses.push(record);
        Ok(doses.len() - 1)
    }

    /// Adds the infusions' rate derivatives to the sensitivities' rates.
    pub(super) fn sensitivity_rates(&mut self) {
        let Some(sens) = &self.sens else {
            return;
        };
        let (n, h) = (self.n, sens.dirs.h);
        for inf in &self.infusions {
            let d = &sens.doses[inf.tag];
            for (j, (up, down)) in d.plus.iter().zip(&d.minus).enumerate() {
                self.rates[n * (1 + j) + inf.state] += (up.rate() - down.rate()) / (2.0 * h);
            }
        }
    }

    /// Ends the infusions due at time `t` (with their jump conditions); whether any ended.
    pub(super) fn end_infusions(&mut self, t: f64) -> bool {
        let before = self.infusions.len();
        if let Some(sens) = &self.sens {
            let (n, h) = (self.n, sens.dirs.h);
            for inf in self.infusions.iter().filter(|i| i.end <= t) {
                let d = &sens.doses[inf.tag];
                for j in 0..d.d_time.len() {
                    let dur = |s: &Side| s.duration.unwrap_or(0.0);
                    let d_end = d.d_time[j] + (dur(&d.plus[j]) - dur(&d.minus[j])) / (2.0 * h);
                    self.x[n * (1 + j) + inf.state] += inf.rate * d_end;
                }
            }
        }
        self.infusions.retain(|i| i.end > t);
        self.infusions.len() != before
    }

    /// Gives a dose now due: its `on_dose` and amount or infusion, with the jump conditions
    /// of its sensitivities.
    pub(super) fn give(&mut self, p: &Pending) {
        let all = self.params;
        let params = &all[self.piece];
        let n = self.n;
        let shifted = self.sens.as_ref().and_then(|s| {
            let d = &s.doses[p.tag].d_time;
            d.iter().any(|&v| v != 0.0).then(|| d.clone())
        });
        let before = shifted
            .as_ref()
            .map(|_| full_rhs(self.model, params, self.t, &self.x[..n], &self.infusions));
        self.jump_at_dose(p, before.as_deref());
        self.model.on_dose(params, p.state, &mut self.x[..n]);
        match p.duration {
            Some(d) if d > 0.0 => self.infusions.push(Infusion {
                state: p.state,
                rate: p.amount / d,
                end: p.time + d,
                tag: p.tag,
            }),
            _ => self.x[p.state] += p.amount,
        }
        if let Some(d_time) = shifted {
            let after = full_rhs(self.model, params, self.t, &self.x[..n], &self.infusions);
            let (_, s) = self.x.split_at_mut(n);
            for (sj, dt) in s.chunks_exact_mut(n).zip(&d_time) {
                for (v, f) in sj.iter_mut().zip(&after) {
                    *v -= f * dt;
                }
            }
        }
    }

    /// `S⁺ = [E(x + h·v; p(h)) − E(x − h·v; p(−h))] / 2h` with `v = S⁻ + f⁻τ'`, before the
    /// nominal state is changed (`before` = `f⁻` where the dose's time moves).
    fn jump_at_dose(&mut self, p: &Pending, before: Option<&[f64]>) {
        let Some(view) = self.sens_view(self.piece) else {
            return;
        };
        let (n, h) = (self.n, view.dirs.h);
        let d = &self.sens.as_ref().expect("sensitivities").doses[p.tag];
        let bolus = !matches!(p.duration, Some(t) if t > 0.0);
        let (x, s) = self.x.split_at_mut(n);
        let (mut xp, mut xm) = (vec![0.0; n], vec![0.0; n]);
        for (j, sj) in s.chunks_exact_mut(n).enumerate() {
            for i in 0..n {
                let v = sj[i] + before.map_or(0.0, |f| f[i] * d.d_time[j]);
                xp[i] = x[i] + h * v;
                xm[i] = x[i] - h * v;
            }
            self.model.on_dose(view.plus(j), p.state, &mut xp);
            self.model.on_dose(view.minus(j), p.state, &mut xm);
            if bolus {
                xp[p.state] += d.plus[j].amount;
                xm[p.state] += d.minus[j].amount;
            }
            for i in 0..n {
                sj[i] = (xp[i] - xm[i]) / (2.0 * h);
            }
        }
    }

    /// The jump of the sensitivities at a model breakpoint at `time` whose time moves with
    /// the parameters, `S⁺ = S⁻ + (f⁻ − f⁺)·τ'`, with `piece` in force.
    pub(super) fn jump_at_breakpoint(&mut self, time: f64, piece: usize) {
        let Some(sens) = &self.sens else {
            return;
        };
        let Some(b) = sens.breakpoints[piece].iter().find(|b| b.time == time) else {
            return;
        };
        if b.d_time.iter().all(|&d| d == 0.0) {
            return;
        }
        let n = self.n;
        let params = &self.params[piece];
        let x = &self.x[..n];
        let (mut before, mut after) = (vec![0.0; n], vec![0.0; n]);
        self.model
            .derivatives(time.next_down(), x, params, &mut before);
        self.model.derivatives(time, x, params, &mut after);
        let d_time = b.d_time.clone();
        let (_, s) = self.x.split_at_mut(n);
        for (sj, dt) in s.chunks_exact_mut(n).zip(&d_time) {
            for i in 0..n {
                sj[i] += (before[i] - after[i]) * dt;
            }
        }
    }
}

/// Runs `plan` with its sensitivities along `dirs`, or `None` where the plan is solved
/// exactly (linear system or closed form) or has steady-state doses: the caller then
/// differentiates solutions.
///
/// # Errors
/// As [`super::run_plan`]; [`Error::ParameterCount`] when a direction has fewer parameter
/// sets than the plan has pieces; [`Error::InvalidOptions`] for a step `h` that is not
/// finite and > 0.
pub(crate) fn run_plan_sensitivities<M: Model>(
    model: &M,
    params: &[M::Params],
    dirs: &Directions<M::Params>,
    plan: &Plan,
    opts: &SolverOptions,
    nocb: bool,
) -> Result<Option<Sensitivities>> {
    opts.check()?;
    let pieces = plan.n_pieces();
    for sets in [params.len()]
        .into_iter()
        .chain(dirs.plus.iter().chain(&dirs.minus).map(Vec::len))
    {
        if sets < pieces {
            return Err(Error::ParameterCount {
                expected: pieces,
                got: sets,
            });
        }
    }
    if !(dirs.h.is_finite() && dirs.h > 0.0) {
        return Err(Error::InvalidOptions {
            reason: format!(
                "the sensitivities' step must be finite and > 0, got {}",
                dirs.h
            ),
        });
    }
    if plan.doses.iter().any(|d| d.ss != SteadyState::No) {
        return Ok(None);
    }
    let n_out = model.outputs().len();
    let mut outputs = vec![0.0; plan.n_slots * n_out];
    if opts.method != SolutionMethod::Ode
        && (exact_systems(model, params)?.is_some()
            || closed_form::run(model, params, plan, &mut outputs).is_ok()
            || opts.method == SolutionMethod::ClosedForm)
    {
        return Ok(None);
    }
    let prop = Propagator::Ode(Box::new(ode::Stepper::new(opts)));
    let mut engine =
        Engine::new(model, params, prop, opts, nocb).with_sensitivities(dirs, plan.n_slots)?;
    let stats = engine.run(plan, &mut outputs)?;
    let derivatives = engine.take_derivatives();
    Ok(Some(Sensitivities {
        outputs,
        derivatives,
        stats,
    }))
}
