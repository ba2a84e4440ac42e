//! The sensitivities of a steady state (`SS = 1` and `SS = 2` doses).
//!
//! # A regimen
//! One dosing cycle of the augmented system maps the sensitivities just before a dose,
//! `S`, to those just before the next, `C(S) = Φ·S + s` (affine: the sensitivity equations
//! are linear in `S`; `Φ = ∂Ψ/∂x` is the cycle's state transition, `s` the cycle's own
//! dependence on the parameters, through its dose, its rate and its duration). The
//! steady state's sensitivities are the fixed point `S* = (I − Φ)⁻¹·s`. The cycle runs
//! through the engine's own events (the dose's jump conditions, the rate derivatives of
//! the regimen's infusions, their ends), with the regimen's phase held fixed; `s = C(0)`,
//! and `Φ` column by column from `C` of unit columns (`⌈n/K⌉` cycles for `K` directions),
//! followed by one correction `S* += (I − Φ)⁻¹·(C(S*) − S*)`. The record at phase `II − L`
//! of the cycle has `S = S(II − L) − ẋ·L'`: the phase moves with the lag time.
//!
//! # A constant infusion
//! The equilibrium `f(x*, p) + r(p) = 0` has `S* = −J⁻¹·(∂f/∂ε + r'·e_state)`, with
//! `J = ∂f/∂x` at `x*` (the model's, or central differences) and `∂f/∂ε` the central difference
//! along the direction.

use super::events::full_rhs;
use super::jacobian::accurate_jacobian;
use crate::dose::Dose;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::simulate::engine::{Engine, Resolved};
use crate::simulate::steady_state::{Orbit, Regimen, Source};
use nalgebra::{DMatrix, DVector};

impl<M: Model> Engine<'_, M> {
    /// The sensitivities (`n·K`, direction by direction) of the steady state `orbit` of
    /// `dose` (resolved as `r`, its jump conditions recorded as `tag`) at its record.
    pub(in crate::simulate) fn steady_sensitivities(
        &mut self,
        dose: &Dose,
        (piece, tag): (usize, usize),
        r: &Resolved,
        orbit: &Orbit,
    ) -> Result<Vec<f64>> {
        match &orbit.source {
            Source::Constant { state } => {
                self.equilibrium_sensitivities(dose, piece, *state, &orbit.x)
            }
            Source::Regimen {
                regimen,
                phase0,
                lag,
            } => {
                let saved = (
                    self.t,
                    std::mem::take(&mut self.x),
                    std::mem::take(&mut self.infusions),
                    std::mem::take(&mut self.pending),
                    self.horizon,
                );
                let s = self.regimen_sensitivities(dose, (piece, tag), r, regimen, (phase0, *lag));
                (self.t, self.x, self.infusions, self.pending, self.horizon) = saved;
                self.update_rates();
                s
            }
        }
    }

    /// `S` at the record (its dose's jump conditions recorded as `tag`) of a regimen whose
    /// amounts at phase 0 are `x0`, with lag time `lag`.
    fn regimen_sensitivities(
        &mut self,
        dose: &Dose,
        (piece, tag): (usize, usize),
        r: &Resolved,
        reg: &Regimen,
        (x0, lag): (&[f64], f64),
    ) -> Result<Vec<f64>> {
        let n = self.n;
        let k = self.sens_view(piece).map_or(0, |v| v.k());
        if k == 0 {
            return Ok(Vec::new());
        }
        let fixed = self.fixed_dose_sensitivities(dose, piece)?;
        let cycle = |engine: &mut Self, s: &[f64], until: f64| {
            engine.sensitivity_cycle(piece, (r, fixed), reg, (x0, s), until)
        };
        let s_of = |z: Vec<f64>| z[n..].to_vec();
        let c0 = s_of(cycle(self, &vec![0.0; n * k], reg.ii)?);
        // Φ, a block of up to K unit columns at a time
        let mut phi = DMatrix::zeros(n, n);
        for first in (0..n).step_by(k) {
            let mut s = vec![0.0; n * k];
            for j in 0..k.min(n - first) {
                s[j * n + first + j] = 1.0;
            }
            let c = s_of(cycle(self, &s, reg.ii)?);
            for j in 0..k.min(n - first) {
                for i in 0..n {
                    phi[(i, first + j)] = c[j * n + i] - c0[j * n + i];
                }
            }
        }
        let lu = (DMatrix::identity(n, n) - phi).lu();
        let solve = |b: &[f64]| -> Option<Vec<f64>> {
            let mut out = Vec::with_capacity(b.len());
            for column in b.chunks_exact(n) {
                let x = lu.solve(&DVector::from_column_slice(column))?;
                out.extend(x.iter());
            }
            Some(out)
        };
        let singular = "the steady state's sensitivities are singular";
        let mut s = solve(&c0).ok_or_else(|| self.steady_error(dose, singular))?;
        let residual: Vec<f64> = {
            let c = s_of(cycle(self, &s, reg.ii)?);
            c.iter().zip(&s).map(|(c, s)| c - s).collect()
        };
        let correction = solve(&residual).ok_or_else(|| self.steady_error(dose, singular))?;
        for (s, d) in s.iter_mut().zip(&correction) {
            *s += d;
        }
        if lag == 0.0 {
            return Ok(s);
        }
        let z = cycle(self, &s, reg.ii - lag)?;
        let rate = full_rhs(
            self.model,
            &self.params[piece],
            self.t,
            &z[..n],
            &self.infusions,
        );
        let d_lag = self.entry_time_derivatives(tag);
        let mut s = z[n..].to_vec();
        for (sj, dl) in s.chunks_exact_mut(n).zip(&d_lag) {
            for (v, f) in sj.iter_mut().zip(&rate) {
                *v -= f * dl;
            }
        }
        Ok(s)
    }

    /// The augmented state `[x, S]` at phase `until` of a cycle from `[x0, s0]` at phase
    /// 0, through the engine's events: the regimen's dose (resolved as `r`, its
    /// sensitivities recorded as `tag`) at phase 0, and its infusions of earlier cycles
    /// still running then.
    fn sensitivity_cycle(
        &mut self,
        piece: usize,
        (r, tag): (&Resolved, usize),
        reg: &Regimen,
        (x0, s0): (&[f64], &[f64]),
        until: f64,
    ) -> Result<Vec<f64>> {
        self.t = reg.origin;
        self.x = x0.iter().chain(s0).copied().collect();
        // those of the earlier cycles still running at phase 0, just before a dose
        self.infusions = reg.running(reg.origin, 0.0);
        for infusion in &mut self.infusions {
            infusion.tag = tag;
        }
        self.pending.clear();
        self.update_rates();
        self.schedule(reg.origin, 0, reg.ii, r, tag);
        let end = reg.origin + until;
        self.horizon = end;
        self.advance_to(end, piece)?;
        Ok(self.x.clone())
    }

    /// `S* = −J⁻¹·(∂f/∂ε + r'·e_state)` at the equilibrium `x` of a constant infusion.
    fn equilibrium_sensitivities(
        &mut self,
        dose: &Dose,
        piece: usize,
        state: usize,
        x: &[f64],
    ) -> Result<Vec<f64>> {
        let n = self.n;
        let Some(view) = self.sens_view(piece) else {
            return Ok(Vec::new());
        };
        let (t, h, params) = (dose.time, view.dirs.h, &self.params[piece]);
        let mut jac = vec![0.0; n * n];
        accurate_jacobian(self.model, t, x, params, &mut jac);
        let lu = DMatrix::from_row_slice(n, n, &jac).lu();
        let (mut fp, mut fm) = (vec![0.0; n], vec![0.0; n]);
        let mut s = Vec::with_capacity(n * view.k());
        for j in 0..view.k() {
            let (up, down) = (view.plus(j), view.minus(j));
            self.model.derivatives(t, x, up, &mut fp);
            self.model.derivatives(t, x, down, &mut fm);
            let rates = [self.resolve_with(dose, up)?, self.resolve_with(dose, down)?]
                .map(|r| self.constant_rate(dose, &r));
            let mut b: DVector<f64> = DVector::from_fn(n, |i, _| -(fp[i] - fm[i]) / (2.0 * h));
            b[state] -= (rates[0] - rates[1]) / (2.0 * h);
            let column = lu.solve(&b).ok_or_else(|| {
                self.steady_error(dose, "the model's Jacobian at the equilibrium is singular")
            })?;
            s.extend(column.iter());
        }
        Ok(s)
    }

    fn steady_error(&self, dose: &Dose, reason: &str) -> Error {
        Error::SteadyState {
            model: self.model.name().to_owned(),
            time: dose.time,
            reason: reason.to_owned(),
        }
    }
}
