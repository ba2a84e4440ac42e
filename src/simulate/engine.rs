//! The event engine: walks a subject's timeline, giving doses (bolus, infusion, lagged,
//! scaled, repeated, steady state), resetting, and recording outputs, with the states
//! advanced between stops by the ODE integrator or by a linear system's exact solution.
//!
//! # Order of events
//! Records are taken in order. Before a record at time `t`, the system is advanced to `t`,
//! giving on the way every dose that enters without a record of its own — an additional
//! dose (`ADDL`), a lagged dose, the start and end of an infusion — at its time; such a
//! dose entering exactly at `t` is given before the record (as NONMEM does), and a record's
//! own dose (without lag) is given when the record is reached, so an observation listed
//! before a dose at the same time is a pre-dose observation.
//!
//! # Parameters that change over time
//! Each record carries the parameter set ("piece") in force at it: its doses use that
//! record's bioavailability, lag and modelled rate or duration, and its outputs that
//! record's parameters. The advance from one record to the next uses the earlier record's
//! parameters (last value carried forward), or the later record's (next value carried
//! backward, NONMEM's PREDPP convention) when `nocb` is set.

use super::linear::ExactSystem;
use super::ode::Stepper;
use super::plan::{Plan, Step, StepKind};
use super::sensitivity::SensState;
use super::{SolverOptions, SolverStats, Stop};
use crate::dose::{Compartment, Dose, DoseRate, SteadyState};
use crate::error::{Error, Result};
use crate::model::{CompartmentDosing, Model};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// How the states are advanced between stops.
pub(crate) enum Propagator<'a> {
    /// An adaptive integrator (Dopri5 or RODASP).
    Ode(Box<Stepper<'a>>),
    /// Exact solution of a linear system, one per parameter set.
    Exact(Vec<ExactSystem>),
}

/// A zero-order infusion in progress.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Infusion {
    pub state: usize,
    /// State units per time unit.
    pub rate: f64,
    pub end: f64,
    /// The dose record it came from, for its sensitivities (0 without them).
    pub tag: usize,
}

/// A dose that enters at a time of its own (additional, lagged, or an infusion start).
/// Additional doses are generated one at a time, as each is given, so a long series costs
/// nothing beyond the last record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Pending {
    pub time: f64,
    /// Order of creation, which breaks ties in time.
    pub seq: u64,
    pub state: usize,
    /// Amount in state units.
    pub amount: f64,
    /// Infusion duration; `None` for a bolus.
    pub duration: Option<f64>,
    /// The series this dose belongs to: the first dose's time, the interval, this dose's
    /// index and the last index.
    pub series: Series,
    /// The dose record it came from, for its sensitivities (0 without them).
    pub tag: usize,
}

/// A dose and its additional doses: the `k`-th enters at `first + k·ii`, `k ≤ last`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Series {
    pub first: f64,
    pub ii: f64,
    pub k: u32,
    pub last: u32,
}

impl Eq for Pending {}

impl Ord for Pending {
    /// Reversed, so that a [`BinaryHeap`] pops the earliest (then the first created).
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .time
            .total_cmp(&self.time)
            .then(other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A dose resolved against the model at its record: where it goes and how it enters.
#[derive(Debug, Clone, Copy)]
pub(super) struct Resolved {
    pub state: usize,
    /// Dose-unit to state-unit factor.
    pub scale: f64,
    pub dosing: CompartmentDosing,
    /// Amount in state units, bioavailability applied.
    pub amount: f64,
    /// Infusion duration (bioavailability applied where the rate is fixed); `None`: bolus.
    pub duration: Option<f64>,
}

/// One walk through a timeline.
pub(crate) struct Engine<'a, M: Model> {
    pub(super) model: &'a M,
    pub(super) params: &'a [M::Params],
    pub(super) prop: Propagator<'a>,
    pub(super) opts: &'a SolverOptions,
    nocb: bool,
    breakpoints: Vec<f64>,
    pub(super) t: f64,
    /// The model's states, followed by their sensitivities where they are computed.
    pub(super) x: Vec<f64>,
    /// The number of the model's states.
    pub(super) n: usize,
    pub(super) infusions: Vec<Infusion>,
    pub(super) pending: BinaryHeap<Pending>,
    seq: u64,
    /// Infusion rates added to `dx/dt` (and to the sensitivities' rates), as long as `x`.
    pub(super) rates: Vec<f64>,
    pub(super) piece: usize,
    pub(super) sens: Option<SensState<'a, M::Params>>,
    state_names: Option<Vec<String>>,
    /// The time of the next record that is not an output (or of the last record): the
    /// integrator may step up to it between outputs.
    pub(super) horizon: f64,
}

impl<'a, M: Model> Engine<'a, M> {
    pub fn new(
        model: &'a M,
        params: &'a [M::Params],
        prop: Propagator<'a>,
        opts: &'a SolverOptions,
        nocb: bool,
    ) -> Self {
        let mut breakpoints: Vec<f64> = match prop {
            Propagator::Ode(_) => params.iter().flat_map(|p| model.breakpoints(p)).collect(),
            Propagator::Exact(_) => Vec::new(),
        };
        breakpoints.retain(|b| b.is_finite());
        breakpoints.sort_by(f64::total_cmp);
        breakpoints.dedup();
        let n = model.n_states(&params[0]);
        Engine {
            model,
            params,
            prop,
            opts,
            nocb,
            breakpoints,
            t: 0.0,
            x: vec![0.0; n],
            n,
            infusions: Vec::new(),
            pending: BinaryHeap::new(),
            seq: 0,
            rates: vec![0.0; n],
            piece: 0,
            sens: None,
            state_names: None,
            horizon: f64::INFINITY,
        }
    }

    /// Walks `plan`, writing every output at each output step into `out` (`n_outputs`
    /// values per slot).
    pub fn run(&mut self, plan: &Plan, out: &mut [f64]) -> Result<SolverStats> {
        let finished = self.run_until(plan, out, &mut |_, _| false)?;
        Ok(finished.unwrap_or_default())
    }

    /// As [`run`](Engine::run), calling `stop` with each output slot and its outputs as
    /// they are computed: `None` where `stop` returned `true` (the run ends there, and
    /// `out` holds the slots computed so far).
    pub fn run_until(
        &mut self,
        plan: &Plan,
        out: &mut [f64],
        stop: &mut Stop<'_>,
    ) -> Result<Option<SolverStats>> {
        let n_out = self.model.outputs().len();
        let Some(first) = plan.steps.first() else {
            return Ok(Some(SolverStats::default()));
        };
        self.reset(first.time, first.piece);
        let mut y = vec![0.0; n_out];
        for (step, &horizon) in plan.steps.iter().zip(&plan.horizons) {
            self.horizon = horizon;
            let resets = match step.kind {
                StepKind::Reset => true,
                StepKind::Dose(i) => plan.doses[i].reset,
                _ => false,
            };
            if resets {
                self.reset(step.time, step.piece);
            } else {
                if step.time < self.t {
                    return Err(Error::InvalidTimes {
                        reason: format!(
                            "a record at time {} comes after time {} without a reset",
                            step.time, self.t
                        ),
                    });
                }
                let piece = if self.nocb { step.piece } else { self.piece };
                self.advance_to(step.time, piece)?;
            }
            self.piece = step.piece;
            match step.kind {
                StepKind::Dose(i) => self.dose(&plan.doses[i], step)?,
                StepKind::Output(slot) => {
                    let p = &self.params[step.piece];
                    self.model.output(self.t, &self.x[..self.n], p, &mut y);
                    out[slot * n_out..(slot + 1) * n_out].copy_from_slice(&y);
                    self.output_sensitivities(slot, step.piece);
                    if stop(slot, &y) {
                        return Ok(None);
                    }
                }
                StepKind::Reset | StepKind::Mark => {}
            }
        }
        Ok(Some(match &self.prop {
            Propagator::Ode(s) => s.stats,
            Propagator::Exact(_) => SolverStats::default(),
        }))
    }

    /// The model's initial state at `time`, nothing in progress.
    fn reset(&mut self, time: f64, piece: usize) {
        self.t = time;
        self.model
            .initial_state(&self.params[piece], &mut self.x[..self.n]);
        self.reset_sensitivities(piece);
        self.infusions.clear();
        self.pending.clear();
        self.update_rates();
    }

    pub(super) fn update_rates(&mut self) {
        self.rates.fill(0.0);
        for inf in &self.infusions {
            self.rates[inf.state] += inf.rate;
        }
        self.sensitivity_rates();
        if let Propagator::Ode(s) = &mut self.prop {
            // a jump in the state or its inputs: a new run, with its step found afresh
            s.invalidate();
        }
    }

    /// Schedules a dose that enters at `first` and `addl` more every `ii` (`tag`: its
    /// record's sensitivities).
    pub(super) fn schedule(&mut self, first: f64, addl: u32, ii: f64, r: &Resolved, tag: usize) {
        self.seq += 1;
        self.pending.push(Pending {
            time: first,
            seq: self.seq,
            state: r.state,
            amount: r.amount,
            duration: r.duration,
            series: Series {
                first,
                ii,
                k: 0,
                last: addl,
            },
            tag,
        });
    }

    /// Gives everything due at the current time: infusion ends, then doses.
    fn settle(&mut self) {
        let mut changed = self.end_infusions(self.t);
        let t = self.t;
        while let Some(p) = self.pending.peek().copied().filter(|p| p.time <= t) {
            self.pending.pop();
            changed = true;
            let s = p.series;
            if s.k < s.last {
                self.seq += 1;
                let k = s.k + 1;
                self.pending.push(Pending {
                    time: s.first + f64::from(k) * s.ii,
                    seq: self.seq,
                    series: Series { k, ..s },
                    ..p
                });
            }
            self.give(&p);
        }
        if changed {
            self.update_rates();
        }
    }

    /// Advances to `target`, stopping at every pending dose, infusion end and model
    /// breakpoint on the way; the advance uses parameter set `piece`.
    pub(super) fn advance_to(&mut self, target: f64, piece: usize) -> Result<()> {
        loop {
            self.settle();
            if self.t >= target {
                return Ok(());
            }
            let mut stop = target;
            if let Some(p) = self.pending.peek() {
                stop = stop.min(p.time);
            }
            for i in &self.infusions {
                stop = stop.min(i.end);
            }
            let k = self.breakpoints.partition_point(|&b| b <= self.t);
            let breakpoint = self.breakpoints.get(k).copied().unwrap_or(f64::INFINITY);
            stop = stop.min(breakpoint);
            // the integrator may step past `stop` (an output time) up to the next change
            let mut horizon = self.horizon.min(breakpoint);
            if let Some(p) = self.pending.peek() {
                horizon = horizon.min(p.time);
            }
            for i in &self.infusions {
                horizon = horizon.min(i.end);
            }
            let rates = std::mem::take(&mut self.rates);
            let mut x = std::mem::take(&mut self.x);
            let result = self.propagate(piece, &mut x, (self.t, stop), &rates, Some(horizon));
            self.rates = rates;
            self.x = x;
            result?;
            self.t = stop;
            if stop == breakpoint {
                self.jump_at_breakpoint(stop, piece);
            }
        }
    }

    /// Advances `x` over `(from, to)` with constant `rates` using parameter set `piece`;
    /// nothing changes before `horizon` (where given), which the integrator may step to.
    pub(super) fn propagate(
        &mut self,
        piece: usize,
        x: &mut [f64],
        (from, to): (f64, f64),
        rates: &[f64],
        horizon: Option<f64>,
    ) -> Result<()> {
        let sens = self.sens.as_ref().map(|s| s.view(piece, from));
        match &mut self.prop {
            Propagator::Ode(stepper) => stepper.integrate(
                (self.model, &self.params[piece], sens.as_ref()),
                x,
                (from, to),
                rates,
                horizon,
            ),
            Propagator::Exact(systems) => {
                systems[piece].advance(x, to - from, rates);
                Ok(())
            }
        }
    }

    /// A dose record: resolved at its record's parameters, then scheduled (or, for a
    /// steady-state dose, the steady state set up).
    fn dose(&mut self, dose: &Dose, step: &Step) -> Result<()> {
        let r = self.resolve(dose, step.piece)?;
        if dose.ss != SteadyState::No {
            return self.steady_state(dose, step.piece, &r);
        }
        let tag = self.dose_sensitivities(dose, step.piece)?;
        self.schedule(dose.time + r.dosing.lag, dose.addl, dose.ii, &r, tag);
        Ok(())
    }

    fn invalid(&self, dose: &Dose, reason: String) -> Error {
        Error::InvalidDose {
            subject: None,
            time: dose.time,
            reason,
        }
    }

    /// Where `dose` goes and how it enters, at parameter set `piece`.
    pub(super) fn resolve(&mut self, dose: &Dose, piece: usize) -> Result<Resolved> {
        let params = self.params;
        self.resolve_with(dose, &params[piece])
    }

    /// Where `dose` goes and how it enters, at parameters `params`.
    pub(super) fn resolve_with(&mut self, dose: &Dose, params: &M::Params) -> Result<Resolved> {
        let name = match &dose.target {
            None => None,
            Some(Compartment::Name(s)) => Some(s.clone()),
            Some(Compartment::Number(n)) => {
                let names = self
                    .state_names
                    .get_or_insert_with(|| self.model.state_names(params));
                let i = (*n as usize).wrapping_sub(1);
                let name = names.get(i).cloned().ok_or_else(|| Error::InvalidDose {
                    subject: None,
                    time: dose.time,
                    reason: format!(
                        "CMT {n} is not a compartment of model `{}` (1 to {}: {})",
                        self.model.name(),
                        names.len(),
                        names.join(", ")
                    ),
                })?;
                Some(name)
            }
        };
        let input = self.model.dose_input(params, name.as_deref(), dose.time)?;
        let dosing = self.model.compartment_dosing(params, input.state);
        let what = || {
            name.clone()
                .map_or_else(|| "the default compartment".into(), |n| format!("`{n}`"))
        };
        let f = dosing.bioavailability;
        if !(f.is_finite() && f >= 0.0) {
            return Err(self.invalid(dose, format!("bioavailability F of {} is {f}", what())));
        }
        if !(dosing.lag.is_finite() && dosing.lag >= 0.0) {
            let lag = dosing.lag;
            return Err(self.invalid(dose, format!("lag time of {} is {lag}", what())));
        }
        let fa = f * dose.amount;
        let duration = match dose.rate {
            DoseRate::Bolus => None,
            DoseRate::Rate(r) => Some(fa / r),
            DoseRate::ModelledRate => match dosing.rate {
                Some(r) if r.is_finite() && r > 0.0 => Some(fa / r),
                other => {
                    let reason = format!(
                        "RATE = -1 needs a modelled rate R > 0 for {} (model `{}` gives {other:?})",
                        what(),
                        self.model.name()
                    );
                    return Err(self.invalid(dose, reason));
                }
            },
            DoseRate::ModelledDuration => match dosing.duration {
                Some(d) if d.is_finite() && d > 0.0 => Some(d),
                other => {
                    let reason = format!(
                        "RATE = -2 needs a modelled duration D > 0 for {} (model `{}` gives {other:?})",
                        what(),
                        self.model.name()
                    );
                    return Err(self.invalid(dose, reason));
                }
            },
        };
        Ok(Resolved {
            state: input.state,
            scale: input.scale,
            dosing,
            amount: fa * input.scale,
            duration,
        })
    }
}
