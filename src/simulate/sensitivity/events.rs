//! The sensitivities through the event engine: their state at a reset, their jump
//! conditions at doses, infusion ends and breakpoints, and the outputs' derivatives.

use super::{Bracket, Directions, SensView};
use crate::dose::Dose;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::simulate::engine::{Engine, Infusion, Pending, Resolved};

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
pub(in crate::simulate) struct SensState<'a, P> {
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
    pub(in crate::simulate) fn view(&self, piece: usize, t: f64) -> SensView<'_, P> {
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
pub(super) fn full_rhs<M: Model>(
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
    pub(in crate::simulate) fn with_sensitivities(
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
    pub(in crate::simulate) fn sens_view(&self, piece: usize) -> Option<SensView<'a, M::Params>> {
        self.sens.as_ref().map(|s| SensView {
            dirs: s.dirs,
            piece,
            bracket: Bracket::NONE,
        })
    }

    /// The derivatives of the outputs, once the plan has run.
    pub(in crate::simulate) fn take_derivatives(&mut self) -> Vec<f64> {
        self.sens
            .as_mut()
            .map(|s| std::mem::take(&mut s.out))
            .unwrap_or_default()
    }

    /// `S = ∂x₀/∂ε` at a reset with `piece` in force.
    pub(in crate::simulate) fn reset_sensitivities(&mut self, piece: usize) {
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
    pub(in crate::simulate) fn output_sensitivities(&mut self, slot: usize, piece: usize) {
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
    pub(in crate::simulate) fn dose_sensitivities(
        &mut self,
        dose: &Dose,
        piece: usize,
    ) -> Result<usize> {
        self.record_dose(dose, piece, true)
    }

    /// `∂τ/∂ε` of the entry time of the dose recorded as `tag` (its lag time's derivative),
    /// per direction.
    pub(super) fn entry_time_derivatives(&self, tag: usize) -> Vec<f64> {
        let sens = self.sens.as_ref().expect("sensitivities");
        sens.doses[tag].d_time.clone()
    }

    /// As [`dose_sensitivities`](Self::dose_sensitivities) for a dose whose time does not
    /// move with its lag time (a steady-state regimen's, at phase 0 of its cycle).
    pub(super) fn fixed_dose_sensitivities(&mut self, dose: &Dose, piece: usize) -> Result<usize> {
        self.record_dose(dose, piece, false)
    }

    /// The jump conditions' record of `dose`, its entry time moving with the lag time
    /// where `moves`.
    fn record_dose(&mut self, dose: &Dose, piece: usize, moves: bool) -> Result<usize> {
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
            let d_time = (up.dosing.lag - down.dosing.lag) / (2.0 * h);
            record.d_time.push(if moves { d_time } else { 0.0 });
        }
        let doses = &mut self.sens.as_mut().expect("sensitivities").doses;
        doses.push(record);
        Ok(doses.len() - 1)
    }

    /// Adds the infusions' rate derivatives to the sensitivities' rates.
    pub(in crate::simulate) fn sensitivity_rates(&mut self) {
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
    pub(in crate::simulate) fn end_infusions(&mut self, t: f64) -> bool {
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
    pub(in crate::simulate) fn give(&mut self, p: &Pending) {
        let all = self.params;
        let params = &all[self.piece];
        let n = self.n;
        let shifted = self.sens.as_ref().and_then(|s| {
            let d = &s.doses[p.tag].d_time;
            d.iter().any(|&v| v != 0.0).then(|| d.clone())
        });
        // f⁻ in the regime of the run that has just ended (its time held below the stop)
        let before = shifted.as_ref().map(|_| {
            let t = self.t.next_down();
            full_rhs(self.model, params, t, &self.x[..n], &self.infusions)
        });
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
    pub(in crate::simulate) fn jump_at_breakpoint(&mut self, time: f64, piece: usize) {
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
