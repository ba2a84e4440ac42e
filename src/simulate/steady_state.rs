//! Steady-state doses (`SS = 1` and `SS = 2`).
//!
//! # Repeated doses
//! The regimen — the dose every `II`, bolus or infusion of duration `D` — is taken on its
//! own. One dosing cycle from a dose instant maps the amounts just before it, `x`, to the
//! amounts just before the next, `Ψ(x)`; within the cycle the infusion rate is `r·n(s)`,
//! with `n(s)` the number of the regimen's infusions running at phase `s` (more than one
//! when `D > II`). The steady state is the fixed point `x* = Ψ(x*)`:
//! - for a linear system solved exactly, `Ψ` is affine, `Ψ(x) = M·x + c`, and
//!   `(I − M)·x* = c` is solved directly (`M` column by column from `n + 1` cycles);
//! - otherwise by Newton's method on `Ψ(x) − x` from the model's initial state, with the
//!   Jacobian of `Ψ` by forward differences (step `√rtol` relative to the amounts), until
//!   one more cycle changes no amount by more than `max(ss_tolerance, 10·rtol)` relative
//!   (plus `10·atol`: amounts below the absolute tolerance are held only to it);
//!   [`Error::SteadyState`] if that takes more than `ss_max_iterations`
//!   Newton steps.
//!
//! With a lag `L < II`, the amounts at the record's time are those at phase `II − L` of the
//! cycle; the record's own dose then enters at `TIME + L` (NONMEM: "steady state is computed
//! as if there were no lag, then advanced to the point II − ALAG of the cycle"). Infusions
//! of the regimen still running at the record's time continue to their ends.
//!
//! # Constant infusion (`AMT = 0`, `II = 0`)
//! The amounts where the infusion rate balances the model, `f(x) + r = 0`: `A·x = −r` for a
//! linear system, Newton's method on the right-hand side otherwise. As in NONMEM, the
//! record marks the end of that infusion.

use super::engine::{Engine, Infusion, Propagator, Resolved};
use crate::dose::{Dose, DoseRate, SteadyState};
use crate::error::{Error, Result};
use crate::model::Model;
use nalgebra::{DMatrix, DVector};

/// Largest number of a steady-state regimen's infusions running at once (infusion duration
/// over the dosing interval).
const MAX_OVERLAP: f64 = 100_000.0;

/// A regimen at steady state: `amount` (state units) into `state` every `ii`, as a bolus or
/// over `duration`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Regimen {
    pub state: usize,
    pub amount: f64,
    pub duration: Option<f64>,
    pub ii: f64,
    /// Absolute time of phase 0 (for a model whose right-hand side reads time).
    pub origin: f64,
}

impl Regimen {
    /// The regimen's infusions still running at time `at`, a dose of it entering at
    /// `at + lag` (`lag < ii`): those of the doses `k·ii` before that, `k ≥ 1`.
    pub fn running(&self, at: f64, lag: f64) -> Vec<Infusion> {
        let Some(d) = self.duration.filter(|&d| d > 0.0) else {
            return Vec::new();
        };
        let rate = self.amount / d;
        (1..)
            .map(|k| f64::from(k) * self.ii)
            .take_while(|&back| back < lag + d)
            .map(|back| Infusion {
                state: self.state,
                rate,
                end: at + lag - back + d,
                tag: 0,
            })
            .collect()
    }

    /// Breakpoints of the infusion profile in `[0, ii)` and the rate multiplier after each:
    /// `n(s) = #{k ≥ 0 : s + k·ii < D}`.
    fn profile(&self) -> Vec<(f64, f64)> {
        let Some(d) = self.duration else {
            return vec![(0.0, 0.0)];
        };
        let m = (d / self.ii).floor();
        let rem = d - m * self.ii;
        if rem > 0.0 {
            vec![(0.0, m + 1.0), (rem, m)]
        } else {
            vec![(0.0, m)]
        }
    }
}

/// A steady state as the record finds it: the amounts at its time, the regimen's
/// infusions still running, and where they came from.
pub(super) struct Orbit {
    /// The amounts at the record's time.
    pub x: Vec<f64>,
    pub tails: Vec<Infusion>,
    pub source: Source,
}

/// What a steady state balances.
pub(super) enum Source {
    /// A constant infusion into `state`.
    Constant { state: usize },
    /// A regimen, with the amounts at phase 0 (just before a dose) and its lag time.
    Regimen {
        regimen: Regimen,
        phase0: Vec<f64>,
        lag: f64,
    },
}

impl<M: Model> Engine<'_, M> {
    /// Sets up the steady state of `dose` (already resolved as `r`) at its record, and its
    /// sensitivities where they are computed.
    pub(super) fn steady_state(&mut self, dose: &Dose, piece: usize, r: &Resolved) -> Result<()> {
        // the steady state of the model's own states
        let sens = self.sens.take();
        let x = std::mem::take(&mut self.x);
        self.x = x[..self.n].to_vec();
        let orbit = self.orbit(dose, piece, r);
        self.x = x;
        self.sens = sens;
        let mut orbit = orbit?;
        let tag = self.dose_sensitivities(dose, piece)?;
        let s_ss = match self.sens {
            Some(_) => self.steady_sensitivities(dose, (piece, tag), r, &orbit)?,
            None => Vec::new(),
        };
        for tail in &mut orbit.tails {
            tail.tag = tag;
        }
        let steady = orbit.x.iter().chain(&s_ss);
        match dose.ss {
            SteadyState::Add => {
                for (x, s) in self.x.iter_mut().zip(steady) {
                    *x += s;
                }
                self.infusions.extend(orbit.tails);
            }
            _ => {
                for (x, s) in self.x.iter_mut().zip(steady) {
                    *x = *s;
                }
                self.infusions = orbit.tails;
                self.pending.clear();
            }
        }
        self.update_rates();
        if dose.amount > 0.0 {
            self.schedule(dose.time + r.dosing.lag, dose.addl, dose.ii, r, tag);
        }
        Ok(())
    }

    /// The steady state of `dose` at its record, of the states alone.
    fn orbit(&mut self, dose: &Dose, piece: usize, r: &Resolved) -> Result<Orbit> {
        let fail = |reason: String| Error::SteadyState {
            model: self.model.name().to_owned(),
            time: dose.time,
            reason,
        };
        let linear = match &self.prop {
            Propagator::Exact(_) => true,
            Propagator::Ode(_) => self.model.linear_system(&self.params[piece]).is_some(),
        };
        if dose.ss == SteadyState::Add && !linear {
            return Err(fail(format!(
                "SS = 2 adds steady-state amounts, which needs superposition: model `{}` is \
                 not a linear compartment system",
                self.model.name()
            )));
        }
        if dose.amount == 0.0 && dose.ii == 0.0 {
            let rate = self.constant_rate(dose, r);
            return Ok(Orbit {
                x: self.equilibrium(piece, r.state, rate, dose.time)?,
                tails: Vec::new(),
                source: Source::Constant { state: r.state },
            });
        }
        let lag = r.dosing.lag;
        let overlap = r.duration.unwrap_or(0.0) / dose.ii;
        if overlap > MAX_OVERLAP {
            return Err(fail(format!(
                "an infusion lasting {overlap:.3e} dosing intervals: at most {MAX_OVERLAP} \
                 infusions of a steady-state regimen may run at once"
            )));
        }
        if lag >= dose.ii {
            return Err(fail(format!(
                "the lag time {lag} is not shorter than the dosing interval II = {}",
                dose.ii
            )));
        }
        let regimen = Regimen {
            state: r.state,
            amount: r.amount,
            duration: r.duration,
            ii: dose.ii,
            origin: dose.time + lag - dose.ii,
        };
        let phase0 = self.periodic_state(piece, &regimen, dose.time)?;
        let mut x = phase0.clone();
        if lag > 0.0 {
            self.cycle(piece, &mut x, &regimen, dose.ii - lag)?;
        }
        Ok(Orbit {
            x,
            tails: regimen.running(dose.time, lag),
            source: Source::Regimen {
                regimen,
                phase0,
                lag,
            },
        })
    }

    /// The rate of a constant infusion in state units (bioavailability applied).
    pub(super) fn constant_rate(&self, dose: &Dose, r: &Resolved) -> f64 {
        let rate = match dose.rate {
            DoseRate::Rate(v) => v,
            _ => r.dosing.rate.unwrap_or(f64::NAN),
        };
        rate * r.dosing.bioavailability * r.scale
    }

    /// Advances `x` from phase 0 (just before a dose of the regimen) to phase `until`.
    fn cycle(&mut self, piece: usize, x: &mut [f64], reg: &Regimen, until: f64) -> Result<()> {
        self.model.on_dose(&self.params[piece], reg.state, x);
        // an infusion of no duration (no amount: F = 0) is a bolus, as outside steady state
        let rate = match reg.duration {
            Some(d) if d > 0.0 => reg.amount / d,
            _ => {
                x[reg.state] += reg.amount;
                0.0
            }
        };
        let profile = reg.profile();
        let mut rates = vec![0.0; x.len()];
        for (j, &(start, count)) in profile.iter().enumerate() {
            let end = profile.get(j + 1).map_or(reg.ii, |p| p.0).min(until);
            if end <= start {
                break;
            }
            rates[reg.state] = rate * count;
            self.propagate(
                piece,
                x,
                (reg.origin + start, reg.origin + end),
                &rates,
                None,
            )?;
        }
        Ok(())
    }

    /// The amounts just before a dose instant at steady state.
    fn periodic_state(&mut self, piece: usize, reg: &Regimen, time: f64) -> Result<Vec<f64>> {
        let n = self.x.len();
        let psi = |engine: &mut Self, x: &[f64]| -> Result<Vec<f64>> {
            let mut y = x.to_vec();
            engine.cycle(piece, &mut y, reg, reg.ii)?;
            Ok(y)
        };
        if matches!(self.prop, Propagator::Exact(_)) {
            let c = psi(self, &vec![0.0; n])?;
            let mut a = DMatrix::identity(n, n);
            for j in 0..n {
                let mut e = vec![0.0; n];
                e[j] = 1.0;
                let col = psi(self, &e)?;
                for i in 0..n {
                    a[(i, j)] -= col[i] - c[i];
                }
            }
            return a
                .lu()
                .solve(&DVector::from_vec(c))
                .map(|x| x.iter().copied().collect())
                .ok_or_else(|| self.ss_error(time, "the steady state is singular".into()));
        }
        let mut x = vec![0.0; n];
        self.model.initial_state(&self.params[piece], &mut x);
        let x = psi(self, &x)?;
        self.newton(
            time,
            x,
            reg.amount,
            |engine, x| {
                let y = psi(engine, x)?;
                Ok(y.iter().zip(x).map(|(y, x)| y - x).collect())
            },
            true,
        )
    }

    /// The amounts where a constant infusion of `rate` into `state` is in equilibrium.
    fn equilibrium(
        &mut self,
        piece: usize,
        state: usize,
        rate: f64,
        time: f64,
    ) -> Result<Vec<f64>> {
        let n = self.x.len();
        let mut rates = vec![0.0; n];
        rates[state] = rate;
        if let Propagator::Exact(systems) = &self.prop {
            return systems[piece].equilibrium(&rates).ok_or_else(|| {
                self.ss_error(time, "the model has no equilibrium (no elimination)".into())
            });
        }
        let mut x = vec![0.0; n];
        self.model.initial_state(&self.params[piece], &mut x);
        let (model, params) = (self.model, &self.params[piece]);
        // the amount the infusion gives in one time unit sets the scale of the steps
        self.newton(
            time,
            x,
            rate.abs(),
            |_, x| {
                let mut g = vec![0.0; n];
                model.derivatives(time, x, params, &mut g);
                Ok(g.iter().zip(&rates).map(|(g, r)| g + r).collect())
            },
            false,
        )
    }

    /// Newton's method for `g(x) = 0` with a forward-difference Jacobian (steps relative
    /// to the amounts, or to `reference`, an amount typical of the problem, where they are
    /// 0); `noisy` marks a `g` computed through the ODE solver (larger difference steps,
    /// convergence tested on one more application of `g` relative to the solver's
    /// tolerance, give or take 10 times its absolute tolerance).
    fn newton(
        &mut self,
        time: f64,
        mut x: Vec<f64>,
        reference: f64,
        mut g: impl FnMut(&mut Self, &[f64]) -> Result<Vec<f64>>,
        noisy: bool,
    ) -> Result<Vec<f64>> {
        let n = x.len();
        let opts = *self.opts;
        let tol = if noisy {
            opts.ss_tolerance.max(10.0 * opts.rtol)
        } else {
            opts.ss_tolerance
        };
        let rel_step = if noisy { opts.rtol.sqrt() } else { 1e-7 };
        let mut last = f64::INFINITY;
        for _ in 0..opts.ss_max_iterations {
            let gx = g(self, &x)?;
            let scale = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let floor = 1e-6 * scale + opts.atol;
            let worst = gx
                .iter()
                .zip(&x)
                .map(|(d, v)| d.abs() / (v.abs() + floor))
                .fold(0.0, f64::max);
            last = worst;
            // amounts the solver holds only to its absolute tolerance (the trough of a
            // regimen cleared within the interval, say) converge to that, not to `tol`
            let noise = if noisy { 10.0 * opts.atol } else { 0.0 };
            let converged = gx
                .iter()
                .zip(&x)
                .all(|(d, v)| d.abs() <= tol * (v.abs() + floor) + noise);
            if noisy && converged {
                return Ok(x.iter().zip(&gx).map(|(x, d)| x + d).collect());
            }
            let mut jac = DMatrix::zeros(n, n);
            for j in 0..n {
                let h = rel_step * x[j].abs().max(1e-3 * scale.max(reference)).max(opts.atol);
                let mut xh = x.clone();
                xh[j] += h;
                let gh = g(self, &xh)?;
                for i in 0..n {
                    jac[(i, j)] = (gh[i] - gx[i]) / h;
                }
            }
            let step = jac
                .lu()
                .solve(&(-DVector::from_vec(gx.clone())))
                .ok_or_else(|| {
                    self.ss_error(
                        time,
                        "the Jacobian of the steady-state equations is singular".into(),
                    )
                })?;
            let converged = step
                .iter()
                .zip(&x)
                .all(|(d, v)| d.abs() <= tol * (v.abs() + floor));
            for (v, d) in x.iter_mut().zip(step.iter()) {
                *v += d;
            }
            if !noisy && converged {
                return Ok(x);
            }
        }
        Err(self.ss_error(
            time,
            format!(
                "not reached after {} Newton iterations (last relative change {last:.2e}, \
                 tolerance {tol:.1e}; raise SolverOptions::ss_max_iterations)",
                opts.ss_max_iterations
            ),
        ))
    }

    fn ss_error(&self, time: f64, reason: String) -> Error {
        Error::SteadyState {
            model: self.model.name().to_owned(),
            time,
            reason,
        }
    }
}
