//! Outputs from a model's own closed form ([`Model::closed_form`]) for subjects whose doses
//! are all transient boluses and whose parameters do not change over time.
//!
//! The timeline is walked as the event engine walks it (record order, additional and
//! lagged doses before a record at the same time, resets), but without states: at each
//! output the closed form gets the doses given so far, each moved by its lag and scaled by
//! its bioavailability, with its target as recorded (a compartment number replaced by its
//! state's name; `None` for the model's default).

use super::plan::{Plan, StepKind};
use crate::dose::{Compartment, Dose, DoseRate, SteadyState};
use crate::error::{Error, Result};
use crate::model::{CompartmentDosing, Model};

fn no_closed_form<M: Model>(model: &M, reason: &str) -> Error {
    Error::NoClosedForm {
        model: model.name().to_owned(),
        reason: reason.to_owned(),
    }
}

/// Fills `out` (every output per slot) from the closed form, or says why it cannot.
pub(super) fn run<M: Model>(
    model: &M,
    params: &[M::Params],
    plan: &Plan,
    out: &mut [f64],
) -> Result<()> {
    if plan.n_pieces() > 1 {
        return Err(no_closed_form(model, "parameters change over time"));
    }
    let p = &params[0];
    let n_out = model.outputs().len();
    // a model without a closed form says so before anything is walked (into the first
    // slot, which the walk overwrites)
    let t0 = plan.steps.first().map_or(0.0, |s| s.time);
    match out.get_mut(..n_out) {
        Some(first) => model.closed_form(t0, p, &[], first)?,
        None => model.closed_form(t0, p, &[], &mut vec![0.0; n_out])?,
    }
    if plan
        .doses
        .iter()
        .any(|d| d.rate != DoseRate::Bolus || d.ss != SteadyState::No)
    {
        return Err(no_closed_form(
            model,
            "its closed form takes bolus doses only (no infusion or steady state)",
        ));
    }
    let mut names: Option<Vec<String>> = None;
    // additional doses only up to the last record (a long series costs nothing)
    let end = plan
        .steps
        .iter()
        .fold(f64::NEG_INFINITY, |m, s| m.max(s.time));
    let mut queue = Queue::default();
    for step in &plan.steps {
        let resets = match step.kind {
            StepKind::Reset => true,
            StepKind::Dose(i) => plan.doses[i].reset,
            _ => false,
        };
        if resets {
            queue.clear();
        }
        queue.give_due(step.time);
        match step.kind {
            StepKind::Dose(i) => {
                let d = &plan.doses[i];
                let target = named_target(model, p, &mut names, d)?;
                let input = model.dose_input(p, target_name(&target), d.time)?;
                let dosing = model.compartment_dosing(p, input.state);
                queue.enter_series(d, target, &dosing, end, step.time);
                queue.give_due(step.time);
            }
            StepKind::Output(slot) => {
                let y = &mut out[slot * n_out..(slot + 1) * n_out];
                model.closed_form(step.time, p, &queue.given, y)?;
            }
            StepKind::Reset | StepKind::Mark => {}
        }
    }
    Ok(())
}

/// The doses of a closed-form run: those entered (moved by their lag) and those still to
/// enter.
#[derive(Default)]
struct Queue {
    pending: Vec<Dose>,
    given: Vec<Dose>,
}

impl Queue {
    /// Forgets every dose (a reset).
    fn clear(&mut self) {
        self.pending.clear();
        self.given.clear();
    }

    /// Queues `dose` at the record of time `now`: given at once where it is due and no
    /// earlier dose is pending.
    fn enter(&mut self, dose: Dose, now: f64) {
        if dose.time <= now && self.pending.is_empty() {
            self.given.push(dose);
        } else {
            self.pending.push(dose);
        }
    }

    /// Queues the entries of dose record `d` at the record of time `now`: the dose and its
    /// additional doses up to `end` (the first always), each a plain bolus moved by the lag
    /// and scaled by the bioavailability of `dosing`, with `target`.
    fn enter_series(
        &mut self,
        d: &Dose,
        target: Option<Compartment>,
        dosing: &CompartmentDosing,
        end: f64,
        now: f64,
    ) {
        let amount = d.amount * dosing.bioavailability;
        let time = |k: u32| d.time + dosing.lag + f64::from(k) * d.ii;
        let last = (1..=d.addl).take_while(|&k| time(k) <= end).last();
        let entries = last.unwrap_or(0);
        let mut target = Some(target);
        for k in 0..=entries {
            // the last entry takes the target, the others a copy
            let target = if k == entries {
                target.take().flatten()
            } else {
                target.clone().flatten()
            };
            let dose = Dose {
                target,
                ..Dose::bolus(time(k), amount)
            };
            self.enter(dose, now);
        }
    }

    /// Moves the doses entering at or before `time` from pending to given.
    fn give_due(&mut self, time: f64) {
        if self.pending.is_empty() {
            return;
        }
        self.pending.sort_by(|a, b| a.time.total_cmp(&b.time));
        let due = self.pending.partition_point(|d| d.time <= time);
        self.given.extend(self.pending.drain(..due));
    }
}

/// A dose's target with a compartment number replaced by its state's name (the state
/// names are computed once, on first need).
///
/// # Errors
/// [`Error::InvalidDose`] for a number that is not a compartment of the model.
fn named_target<M: Model>(
    model: &M,
    p: &M::Params,
    names: &mut Option<Vec<String>>,
    d: &Dose,
) -> Result<Option<Compartment>> {
    match &d.target {
        Some(Compartment::Number(n)) => {
            let names = names.get_or_insert_with(|| model.state_names(p));
            let name =
                names
                    .get((*n as usize).wrapping_sub(1))
                    .ok_or_else(|| Error::InvalidDose {
                        subject: None,
                        time: d.time,
                        reason: format!("CMT {n} is not a compartment of model `{}`", model.name()),
                    })?;
            Ok(Some(Compartment::Name(name.clone())))
        }
        other => Ok(other.clone()),
    }
}

fn target_name(target: &Option<Compartment>) -> Option<&str> {
    match target {
        Some(Compartment::Name(s)) => Some(s),
        _ => None,
    }
}
