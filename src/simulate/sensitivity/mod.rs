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
//! A steady-state dose sets `S` to the steady state's own sensitivities (see `steady.rs`:
//! the fixed point of one dosing cycle of the augmented system, or of the equilibrium of a
//! constant infusion).
//!
//! # Not covered
//! Exact solutions (linear systems, closed forms): the caller differentiates those by
//! differences of solutions, which for an exact solution carry no solver noise.

mod events;
mod jacobian;
mod steady;

pub(super) use events::SensState;

use super::engine::{Engine, Propagator};
use super::plan::Plan;
use super::{SolutionMethod, SolverOptions, SolverStats, closed_form, exact_systems, ode};
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

    /// Writes `f(t, x)` and `dSⱼ/dt` (without infusion rates) into `dz` for the augmented
    /// state `z = [x, S₁, …, S_K]`; `scratch` holds at least [`scratch_len`] values.
    #[inline(never)]
    pub fn augmented_rates<M: Model<Params = P>>(
        &self,
        model: &M,
        params: &P,
        t: f64,
        z: &[f64],
        dz: &mut [f64],
        scratch: &mut [f64],
    ) {
        let n = z.len() / (1 + self.k());
        let (x, s) = z.split_at(n);
        let (d, ds) = dz.split_at_mut(n);
        model.derivatives(t, x, params, d);
        self.directional_rates(model, t, x, s, ds, scratch);
    }

    /// Writes `dSⱼ/dt` (without infusion rates) for every direction into `ds`, at state `x`
    /// with sensitivities `s` (both `K·n` long); `scratch` holds at least `2n + 2Kn`
    /// values ([`scratch_len`]).
    ///
    /// Every direction's two rates are evaluated before any is differenced, so that the
    /// differences read the model's stores from the cache rather than wait on the store
    /// buffer (paired loads cannot take two separate stores from it); on a model-2 solution
    /// along 3 directions this measured within noise (250 against 253 µs).
    fn directional_rates<M: Model<Params = P>>(
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
        let rates = &mut rest[..2 * s.len()];
        for (j, (sj, fj)) in s
            .chunks_exact(n)
            .zip(rates.chunks_exact_mut(2 * n))
            .enumerate()
        {
            for i in 0..n {
                xp[i] = x[i] + h * sj[i];
                xm[i] = x[i] - h * sj[i];
            }
            let (tp, tm) = (self.bracket.time(t, j, h), self.bracket.time(t, j, -h));
            let (fp, fm) = fj.split_at_mut(n);
            model.derivatives(tp, xp, self.plus(j), fp);
            model.derivatives(tm, xm, self.minus(j), fm);
        }
        for (dj, fj) in ds.chunks_exact_mut(n).zip(rates.chunks_exact(2 * n)) {
            let (fp, fm) = fj.split_at(n);
            for i in 0..n {
                dj[i] = (fp[i] - fm[i]) / (2.0 * h);
            }
        }
    }
}

/// The scratch room [`SensView::augmented_rates`] needs for `n` states and an augmented
/// system of `dim` values (`2n` shifted states and two rates per direction).
pub(crate) fn scratch_len(n: usize, dim: usize) -> usize {
    2 * n + 2 * dim.saturating_sub(n)
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
