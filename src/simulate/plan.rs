//! A subject's timeline as the event engine walks it: its records in order, each with the
//! parameter set ("piece") in force at it.

use crate::data::{Record, Subject};
use crate::dose::Dose;
use crate::error::{Error, Result};

/// What one record asks of the engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum StepKind {
    /// Give dose `doses[i]`.
    Dose(usize),
    /// Record every output into slot `i` (after processing everything up to this record).
    Output(usize),
    /// Reset the system (EVID 3).
    Reset,
    /// A record with nothing to do but mark a time (EVID 2 without a prediction asked for,
    /// an observation left out).
    Mark,
}

/// One record of the timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Step {
    pub time: f64,
    pub kind: StepKind,
    /// Index of the parameter set in force at this record.
    pub piece: usize,
    /// Position of the record in its subject (0 for plans built from doses and times).
    pub record: usize,
}

/// A timeline: steps in record order, the doses they refer to, and how many output slots
/// they fill.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub steps: Vec<Step>,
    pub doses: Vec<Dose>,
    pub n_slots: usize,
    /// For each step, the time of the first step from it on that is not an output (or of
    /// the last step): an ODE run may step up to it between outputs.
    pub horizons: Vec<f64>,
    /// Number of distinct parameter sets the steps refer to (kept by
    /// [`set_pieces`](Self::set_pieces)).
    pieces: usize,
}

/// Which records of a subject get outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outputs {
    /// Every record, in record order (slot = record position).
    AllRecords,
    /// Only these observation indices (slot = position in the list); others are marks.
    Observations,
}

impl Plan {
    /// The timeline of `doses` and output `times`: doses sorted by time (stably), each
    /// given before the outputs at its time. `times` must be finite and sorted.
    pub fn from_doses(doses: &[Dose], times: &[f64]) -> Result<Self> {
        check_times(times)?;
        for d in doses {
            d.check()?;
        }
        let mut order: Vec<usize> = (0..doses.len()).collect();
        order.sort_by(|&a, &b| doses[a].time.total_cmp(&doses[b].time));
        let mut steps = Vec::with_capacity(doses.len() + times.len());
        let mut next = order.iter().peekable();
        for (slot, &t) in times.iter().enumerate() {
            while let Some(&&i) = next.peek().filter(|&&&i| doses[i].time <= t) {
                steps.push(dose_step(&doses[i], i));
                next.next();
            }
            steps.push(Step {
                time: t,
                kind: StepKind::Output(slot),
                piece: 0,
                record: 0,
            });
        }
        steps.extend(next.map(|&i| dose_step(&doses[i], i)));
        Ok(Plan {
            horizons: horizons(&steps),
            steps,
            doses: doses.to_vec(),
            n_slots: times.len(),
            pieces: 1,
        })
    }

    /// The timeline of a subject's records. With [`Outputs::Observations`], the
    /// observations for which `wanted(observation index)` is true get slots in order.
    pub fn from_subject(
        subject: &Subject,
        outputs: Outputs,
        mut wanted: impl FnMut(usize) -> bool,
    ) -> Self {
        let mut steps = Vec::with_capacity(subject.n_records());
        let mut doses = Vec::with_capacity(subject.doses().len());
        let mut n_slots = 0;
        let mut obs_index = 0;
        for (position, record) in subject.records().enumerate() {
            let time = record.time();
            let mut slot = || {
                n_slots += 1;
                StepKind::Output(n_slots - 1)
            };
            let kind = match record {
                Record::Dose(d) => {
                    doses.push(d.clone());
                    let step = Step {
                        record: position,
                        ..dose_step(d, doses.len() - 1)
                    };
                    if outputs == Outputs::AllRecords {
                        // a dose record's prediction is taken after the dose (NONMEM)
                        steps.push(step);
                        slot()
                    } else {
                        step.kind
                    }
                }
                Record::Observation(_) => {
                    let k = obs_index;
                    obs_index += 1;
                    match outputs {
                        Outputs::AllRecords => slot(),
                        Outputs::Observations if wanted(k) => slot(),
                        Outputs::Observations => StepKind::Mark,
                    }
                }
                Record::Reset { .. } => {
                    if outputs == Outputs::AllRecords {
                        steps.push(Step {
                            time,
                            kind: StepKind::Reset,
                            piece: 0,
                            record: position,
                        });
                        slot()
                    } else {
                        StepKind::Reset
                    }
                }
                Record::Other { .. } => match outputs {
                    Outputs::AllRecords => slot(),
                    Outputs::Observations => StepKind::Mark,
                },
            };
            steps.push(Step {
                time,
                kind,
                piece: 0,
                record: position,
            });
        }
        Plan {
            horizons: horizons(&steps),
            steps,
            doses,
            n_slots,
            pieces: 1,
        }
    }

    /// Sets the parameter set of each record: `piece_of_record[k]` for the `k`-th record of
    /// the subject the plan was built from.
    pub fn set_pieces(&mut self, piece_of_record: &[usize]) {
        for step in &mut self.steps {
            step.piece = piece_of_record.get(step.record).copied().unwrap_or(0);
        }
        self.pieces = self.steps.iter().map(|s| s.piece + 1).max().unwrap_or(1);
    }

    /// Number of distinct parameter sets the steps refer to.
    pub fn n_pieces(&self) -> usize {
        self.pieces
    }
}

fn dose_step(d: &Dose, index: usize) -> Step {
    Step {
        time: d.time,
        kind: StepKind::Dose(index),
        piece: 0,
        record: 0,
    }
}

/// Checks that output times are finite and sorted (ties allowed).
pub(crate) fn check_times(times: &[f64]) -> Result<()> {
    let bad = |reason: String| Err(Error::InvalidTimes { reason });
    for (i, &t) in times.iter().enumerate() {
        if !t.is_finite() {
            return bad(format!("time #{i} is not finite"));
        }
        if i > 0 && t < times[i - 1] {
            return bad(format!(
                "times must be sorted: #{i} = {t} < #{} = {}",
                i - 1,
                times[i - 1]
            ));
        }
    }
    Ok(())
}

/// For each of `steps`, the time of the first step from it on that is not an output (or of
/// the last step).
fn horizons(steps: &[Step]) -> Vec<f64> {
    let mut horizons = vec![0.0; steps.len()];
    let mut next = steps.last().map_or(0.0, |s| s.time);
    for (h, step) in horizons.iter_mut().zip(steps).rev() {
        if !matches!(step.kind, StepKind::Output(_)) {
            next = step.time;
        }
        *h = next;
    }
    horizons
}
