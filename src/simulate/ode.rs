//! Adaptive Dopri5 integration (ode_solvers) of a model over one segment between stops.
//!
//! Within a segment `[a, b]` the right-hand side is evaluated with `t` held inside `[a, b)`,
//! so a piecewise model sees the regime of the segment it is in, even in the Runge–Kutta
//! stage that lands exactly on `b`; zero-order infusion rates (state units per time unit)
//! are added to it.

use super::{SolverOptions, SolverStats};
use crate::error::{Error, Result};
use crate::model::Model;
use nalgebra::{Const, DefaultAllocator, Dim, Dyn, OVector, allocator::Allocator};
use ode_solvers::{Dopri5, System, dop_shared::IntegrationError};

/// The right-hand side as ode_solvers sees it, with time held inside the current segment,
/// on the states divided by `scales` (`None`: all 1).
struct Segment<'a, M: Model> {
    model: &'a M,
    params: &'a M::Params,
    rates: &'a [f64],
    scales: Option<&'a [f64]>,
    start: f64,
    last_inside: f64,
}

impl<M: Model, D: Dim> System<f64, OVector<f64, D>> for Segment<'_, M>
where
    DefaultAllocator: Allocator<D>,
{
    fn system(&self, t: f64, z: &OVector<f64, D>, dzdt: &mut OVector<f64, D>) {
        let t = t.clamp(self.start, self.last_inside);
        match self.scales {
            None => {
                self.model
                    .derivatives(t, z.as_slice(), self.params, dzdt.as_mut_slice());
                for (d, r) in dzdt.iter_mut().zip(self.rates) {
                    *d += r;
                }
            }
            Some(s) => {
                // the unscaled state, on the stack for up to 16 states
                let mut stack = [0.0; 16];
                let mut heap = Vec::new();
                let x: &mut [f64] = if z.len() <= 16 {
                    &mut stack[..z.len()]
                } else {
                    heap.resize(z.len(), 0.0);
                    &mut heap
                };
                for ((x, z), s) in x.iter_mut().zip(z.iter()).zip(s) {
                    *x = z * s;
                }
                self.model
                    .derivatives(t, x, self.params, dzdt.as_mut_slice());
                for ((d, r), s) in dzdt.iter_mut().zip(self.rates).zip(s) {
                    *d = (*d + r) / s;
                }
            }
        }
    }
}

/// Integrator state carried from one segment to the next.
pub(crate) struct Stepper<'a> {
    pub opts: &'a SolverOptions,
    pub stats: SolverStats,
    /// Step size to start the next segment with (0: let Dopri5 choose).
    pub next_step: f64,
}

impl<'a> Stepper<'a> {
    pub fn new(opts: &'a SolverOptions) -> Self {
        Stepper {
            opts,
            stats: SolverStats::default(),
            next_step: 0.0,
        }
    }

    /// Integrates `x` from `from` to `to` with infusion `rates` added to `dx/dt`, on the
    /// stack for up to 16 states.
    pub fn integrate<M: Model>(
        &mut self,
        model: &M,
        params: &M::Params,
        x: &mut [f64],
        (from, to): (f64, f64),
        rates: &[f64],
    ) -> Result<()> {
        let mut scales = vec![1.0; x.len()];
        model.state_scales(params, &mut scales);
        let scaled = scales.iter().any(|&s| s != 1.0);
        if scaled && scales.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
            return Err(Error::InvalidModel {
                model: model.name().to_owned(),
                reason: format!("state scales must be finite and > 0, got {scales:?}"),
            });
        }
        if scaled {
            for (x, s) in x.iter_mut().zip(&scales) {
                *x /= s;
            }
        }
        let segment = Segment {
            model,
            params,
            rates,
            scales: scaled.then_some(&scales[..]),
            start: from,
            last_inside: to.next_down().max(from),
        };
        macro_rules! on_stack {
            ($($n:literal)*) => {
                match x.len() {
                    $($n => self.integrate_in(Const::<$n>, segment, x, (from, to)),)*
                    n => self.integrate_in(Dyn(n), segment, x, (from, to)),
                }
            };
        }
        let result = on_stack!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
        if scaled {
            for (x, s) in x.iter_mut().zip(&scales) {
                *x *= s;
            }
        }
        result
    }

    fn integrate_in<M: Model, D: Dim>(
        &mut self,
        dim: D,
        segment: Segment<'_, M>,
        x: &mut [f64],
        (from, to): (f64, f64),
    ) -> Result<()>
    where
        DefaultAllocator: Allocator<D>,
    {
        let y0 = OVector::<f64, D>::from_column_slice_generic(dim, Const::<1>, x);
        let solver_error = |time: f64, reason: String| Error::Solver {
            model: segment.model.name().to_owned(),
            time,
            reason,
        };
        self.stats.segments += 1;
        // Dopri5 reports step-size underflow for a segment within ~10 ulps of its start
        // time; such a segment (two stops a rounding error apart) is one explicit Euler
        // step, whose error O(h²) is far below any tolerance.
        if to - from <= 100.0 * f64::EPSILON * to.abs().max(from.abs()).max(1.0) {
            let mut dxdt = y0.clone();
            segment.system(from, &y0, &mut dxdt);
            for (xi, di) in x.iter_mut().zip(dxdt.iter()) {
                *xi += (to - from) * di;
            }
            self.stats.rhs_evaluations += 1;
            return Ok(());
        }
        let opts = self.opts;
        let mut dopri = Dopri5::from_param(
            segment,
            from,
            to,
            to - from,
            y0,
            opts.rtol,
            opts.atol,
            0.9,
            0.04,
            0.2,
            10.0,
            to - from,
            self.next_step.min(to - from),
            opts.max_steps,
            // no stiffness test: a long stretch near equilibrium (a long infusion) has
            // stability-limited steps that ode_solvers would report as stiffness and stop;
            // error control keeps those steps accurate, and max_steps bounds the work
            u32::MAX,
            ode_solvers::OutputType::Sparse,
        );
        let s = dopri.integrate().map_err(|e| match e {
            IntegrationError::MaxNumStepReached { x, n_step } => solver_error(
                x,
                format!("step budget exhausted ({n_step} steps; raise SolverOptions::max_steps)"),
            ),
            IntegrationError::StepSizeUnderflow { x } => {
                solver_error(x, "step size underflow".into())
            }
            IntegrationError::StiffnessDetected { x } => {
                solver_error(x, "the problem became stiff".into())
            }
        })?;
        self.stats.rhs_evaluations += u64::from(s.num_eval);
        self.stats.accepted_steps += u64::from(s.accepted_steps);
        self.stats.rejected_steps += u64::from(s.rejected_steps);
        let end = dopri
            .y_out()
            .last()
            .ok_or_else(|| solver_error(from, "no step was taken".into()))?;
        if let Some(i) = end.iter().position(|v| !v.is_finite()) {
            return Err(solver_error(to, format!("state #{i} became non-finite")));
        }
        x.copy_from_slice(end.as_slice());
        // The mean accepted step of this segment is a good first step for the next one
        // (it saves Dopri5's start-up step-size estimate); the error control still
        // accepts or rejects it.
        self.next_step = (to - from) / f64::from(s.accepted_steps.max(1));
        Ok(())
    }
}
