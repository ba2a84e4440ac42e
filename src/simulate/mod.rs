//! Simulation of a [`Model`] with NONMEM dose records: adaptive Dopri5 or Dop853 with dense
//! output, the exact solution of a linear compartment system, or a model's closed form.
//!
//! # Events
//! Doses are boluses or zero-order infusions (fixed, modelled rate or modelled duration),
//! with bioavailability, lag time, additional doses and steady state (see [`Dose`]);
//! subjects also carry resets (EVID 3 and 4) and other-type records (EVID 2). A subject's
//! simulation starts at its first record (times may be negative) from the model's initial
//! state. The order of events is that of the records; a dose that enters at a time of its
//! own (additional or lagged) is given before any record at that time.
//!
//! # How the ODE is integrated
//! By default ([`Integrator::Auto`]) the Dormand–Prince 5(4) method with Hairer's
//! step-size control (the DOPRI5 code's settings), which watches for stiffness and, if it
//! finds it, hands the rest of the simulation to the Rosenbrock method RODASP
//! ([`Integrator::Rodasp`]: linearly implicit, L-stable, with a finite-difference Jacobian
//! per step and a 3rd-order dense output). A stiff model (fast binding next to slow
//! elimination, as in target-mediated drug disposition) would otherwise take steps as
//! short as its fastest time constant for the whole simulation; [`SolverStats`] reports
//! the switch. A *run* integrates from one change of the system to the next — a dose, an
//! infusion start or end, a model breakpoint (discontinuity of the right-hand side), a reset,
//! a record that is not an output — and ends exactly there; output times inside a run do
//! not stop it: the state there comes from the method's dense output of the step that
//! contains it (Hairer, Nørsett & Wanner 1993). Within a run over `[a, b]` the
//! right-hand side is evaluated with `t` held inside `[a, b)`, so a piecewise model sees the
//! regime of the run it is in, even in the Runge–Kutta stage that lands exactly on `b`. The
//! next run starts with the last step size, unless the state jumped (a dose, a reset, a
//! change of infusion rates), when the starting step is estimated afresh.
//!
//! # Derivatives
//! [`simulate_sensitivities`] gives the derivatives of every output with respect to named
//! parameters: for an ODE solution by the forward sensitivity equations, integrated with the
//! states under the same error control and carried through every event (their jump
//! conditions at doses, lagged entries, infusion ends, resets and breakpoints that move with
//! the parameters); for an exact solution by its central differences. The fits use the same
//! machinery for `∂f/∂η` and gradients.
//!
//! # Which solution
//! [`SolutionMethod::Auto`] (the default) solves a model exactly where it can: a
//! [linear compartment system](LinearCompartments) for every kind of dose, a model's
//! [closed form](Model::closed_form) for subjects with bolus doses only; anything else by
//! the ODE. [`SolutionMethod::Ode`] always integrates (to check a closed form against its
//! ODE form); [`SolutionMethod::ClosedForm`] never does.
//!
//! # Accuracy
//! Both integrators control the local error per step to `atol + rtol·|x|` for each state. With the
//! defaults (`rtol = 1e-6`, `atol = 1e-9`) the built-in models are accurate to about 1e-5
//! relative; with [`SolverOptions::accurate`] (`rtol = 1e-10`, `atol = 1e-14`) both built-in
//! models agree with an independent fixed-step RK4 reference to better than 1e-6 relative at
//! every output above 1e-6 of its unit (tested in `tests/model2_accuracy.rs`). RODASP at
//! `rtol = 1e-8` solves Robertson's problem and a TMDD model with fast binding to 1e-6
//! relative of an independent reference (`tests/stiff.rs`), where Dopri5 exhausts its step
//! budget or needs 19 times the right-hand sides. Exact solutions are accurate to rounding (about
//! 1e-14 relative).

mod closed_form;
mod derivatives;
mod dop853;
mod dopri5;
mod engine;
mod explicit;
mod kernel;
mod linear;
mod ode;
pub(crate) mod plan;
mod rodasp;
pub(crate) mod sensitivity;
mod steady_state;

pub use derivatives::{SENSITIVITY_STEP, Sensitivity, SensitivityMethod, simulate_sensitivities};
pub use kernel::Integrator;
pub use linear::{Absorption, LinearCompartments, MAX_MODES, Peripheral};

use crate::data::Subject;
use crate::dose::Dose;
use crate::error::{Error, Result};
use crate::model::Model;
use engine::{Engine, Propagator};
use linear::ExactSystem;
use plan::{Outputs, Plan};
use std::io::Write;

/// Which solution of the model to use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SolutionMethod {
    /// Exact where the model allows (linear system, or closed form for bolus doses), else
    /// the ODE.
    #[default]
    Auto,
    /// Always integrate the ODE.
    Ode,
    /// Always the exact solution; [`Error::NoClosedForm`] where there is none.
    ClosedForm,
}

/// Settings of the solution: method, integrator and its tolerances, steady-state
/// convergence.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SolverOptions {
    /// Relative tolerance of the local error per step (in (0, 0.1]).
    pub rtol: f64,
    /// Absolute tolerance of the local error per step, in units of each state's scale
    /// ([`Model::state_scales`]: the state's own units unless the model sets them; > 0).
    pub atol: f64,
    /// Largest number of steps in one run between changes of the system (> 0).
    pub max_steps: u32,
    /// Which solution to use.
    pub method: SolutionMethod,
    /// Which integrator solves the ODE (when the ODE is solved): by default Dopri5,
    /// handing over to Rodasp if the problem turns out stiff ([`Integrator::Auto`]).
    #[serde(default)]
    pub integrator: Integrator,
    /// Relative change of the amounts over one more dosing interval below which an ODE
    /// steady state has converged (the test uses `max(ss_tolerance, 10·rtol)`; > 0).
    pub ss_tolerance: f64,
    /// Largest number of Newton iterations of a steady-state search (> 0).
    pub ss_max_iterations: u32,
}

impl Default for SolverOptions {
    /// `rtol = 1e-6`, `atol = 1e-9`, `max_steps = 100_000`, [`SolutionMethod::Auto`],
    /// [`Integrator::Auto`], `ss_tolerance = 1e-12`, `ss_max_iterations = 50`.
    fn default() -> Self {
        SolverOptions {
            rtol: 1e-6,
            atol: 1e-9,
            max_steps: 100_000,
            method: SolutionMethod::Auto,
            integrator: Integrator::Auto,
            ss_tolerance: 1e-12,
            ss_max_iterations: 50,
        }
    }
}

impl SolverOptions {
    /// Tight tolerances (`rtol = 1e-10`, `atol = 1e-14`) for reference-quality solutions.
    pub fn accurate() -> Self {
        SolverOptions {
            rtol: 1e-10,
            atol: 1e-14,
            ..Self::default()
        }
    }

    /// These options with other tolerances.
    pub fn with_tolerances(self, rtol: f64, atol: f64) -> Self {
        SolverOptions { rtol, atol, ..self }
    }

    /// These options with another integrator (e.g. [`Integrator::Rodasp`] for a model known
    /// to be stiff).
    pub fn with_integrator(self, integrator: Integrator) -> Self {
        SolverOptions { integrator, ..self }
    }

    /// These options, always integrating the ODE ([`SolutionMethod::Ode`]).
    pub fn ode(self) -> Self {
        SolverOptions {
            method: SolutionMethod::Ode,
            ..self
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        let bad = |reason: &str| {
            Err(Error::InvalidOptions {
                reason: reason.to_owned(),
            })
        };
        if !(self.rtol.is_finite() && self.rtol > 0.0 && self.rtol <= 0.1) {
            return bad("rtol must be in (0, 0.1]: a looser tolerance gives no accuracy at all");
        }
        if !(self.atol.is_finite() && self.atol > 0.0) {
            return bad("atol must be finite and > 0");
        }
        if self.max_steps == 0 {
            return bad("max_steps must be > 0");
        }
        if !(self.ss_tolerance.is_finite() && self.ss_tolerance > 0.0 && self.ss_tolerance <= 0.1) {
            return bad("ss_tolerance must be in (0, 0.1]");
        }
        if self.ss_max_iterations == 0 {
            return bad("ss_max_iterations must be > 0");
        }
        Ok(())
    }
}

/// Work done by the integrator over a whole simulation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SolverStats {
    /// Right-hand-side evaluations.
    pub rhs_evaluations: u64,
    /// Accepted steps.
    pub accepted_steps: u64,
    /// Rejected steps.
    pub rejected_steps: u64,
    /// Runs integrated (restarts at doses, infusion changes, breakpoints and records that
    /// are not outputs).
    pub segments: u64,
    /// Jacobians `∂f/∂x` computed (by the implicit integrator).
    #[serde(default)]
    pub jacobians: u64,
    /// Simulations that [`Integrator::Auto`] switched from an explicit method to Rodasp because the
    /// problem turned out stiff.
    #[serde(default)]
    pub stiff_switches: u64,
}

/// Simulated outputs: one column per analyte, one row per output time.
///
/// ```
/// use cart_pkpd::{models::{CarTBCell, CarTBCellParams}, simulate, Dose, SolverOptions};
/// let sim = simulate(&CarTBCell, &CarTBCellParams::default(), &[Dose::bolus(0.0, 10.0)],
///                    &[0.0, 7.0, 28.0], &SolverOptions::default()).unwrap();
/// let transgene = sim.get("transgene").unwrap();   // copies/µg
/// assert!(transgene[1] > transgene[0]);
/// assert_eq!(sim.unit("b_cells").unwrap(), "cells/µL");
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Simulation {
    /// Output times.
    pub times: Vec<f64>,
    /// Analyte names, in column order.
    pub analytes: Vec<String>,
    /// Unit of each analyte.
    pub units: Vec<String>,
    /// `values[j][i]`: analyte `j` at `times[i]`.
    pub values: Vec<Vec<f64>>,
    /// Integrator work (zero for an exact solution).
    pub stats: SolverStats,
}

impl Simulation {
    pub(crate) fn column(&self, analyte: &str) -> Result<usize> {
        self.analytes
            .iter()
            .position(|a| a == analyte)
            .ok_or_else(|| Error::UnknownAnalyte {
                name: analyte.to_owned(),
                subject: None,
                known: self.analytes.join(", "),
            })
    }

    /// The values of one analyte at every output time.
    ///
    /// # Errors
    /// [`Error::UnknownAnalyte`] naming the simulated analytes.
    pub fn get(&self, analyte: &str) -> Result<&[f64]> {
        Ok(&self.values[self.column(analyte)?])
    }

    /// The unit of one analyte.
    ///
    /// # Errors
    /// [`Error::UnknownAnalyte`] naming the simulated analytes.
    pub fn unit(&self, analyte: &str) -> Result<&str> {
        Ok(&self.units[self.column(analyte)?])
    }

    /// Writes a wide CSV table: `time` then one column per analyte (header names carry no
    /// units; see [`Simulation::units`]). Numbers are written in shortest round-trip form.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Csv`] when writing fails.
    ///
    /// ```
    /// # use cart_pkpd::{models::{CellularKinetics, CellularKineticsParams}, simulate_closed_form};
    /// let p = CellularKineticsParams::stein_2019();
    /// let sim = simulate_closed_form(&CellularKinetics, &p, &[], &[0.0, 9.3]).unwrap();
    /// let mut buf = Vec::new();
    /// sim.write_csv(&mut buf).unwrap();
    /// assert!(String::from_utf8(buf).unwrap().starts_with("time,transgene\n0,"));
    /// ```
    pub fn write_csv<W: Write>(&self, writer: W) -> Result<()> {
        let mut w = csv::Writer::from_writer(writer);
        let mut header = vec!["time".to_owned()];
        header.extend(self.analytes.iter().cloned());
        w.write_record(&header)?;
        for (i, t) in self.times.iter().enumerate() {
            let mut row = vec![t.to_string()];
            row.extend(self.values.iter().map(|col| col[i].to_string()));
            w.write_record(&row)?;
        }
        w.flush()?;
        Ok(())
    }

    /// Columns from a flat table of `times.len()` rows of every output.
    fn from_rows<M: Model>(model: &M, times: Vec<f64>, flat: &[f64], stats: SolverStats) -> Self {
        let outs = model.outputs();
        let n = outs.len();
        Simulation {
            analytes: outs.iter().map(|o| o.name.to_owned()).collect(),
            units: outs.iter().map(|o| o.unit.to_owned()).collect(),
            values: (0..n)
                .map(|j| (0..times.len()).map(|i| flat[i * n + j]).collect())
                .collect(),
            times,
            stats,
        }
    }
}

/// The exact systems of every parameter set, if the model is linear at all of them.
fn exact_systems<M: Model>(model: &M, params: &[M::Params]) -> Result<Option<Vec<ExactSystem>>> {
    let mut systems = Vec::new();
    for p in params {
        let Some(sys) = model.linear_system(p) else {
            return Ok(None);
        };
        systems.reserve_exact(params.len());
        sys.check(model.name(), model.n_states(p))?;
        systems.push(ExactSystem::new(sys));
    }
    Ok(Some(systems))
}

/// Runs `plan` with parameter sets `params` (one per piece), returning every output at each
/// output slot (`outputs().len()` values per slot) and the integrator's work.
pub(crate) fn run_plan<M: Model>(
    model: &M,
    params: &[M::Params],
    plan: &Plan,
    opts: &SolverOptions,
    nocb: bool,
) -> Result<(Vec<f64>, SolverStats)> {
    let finished = run_plan_until(model, params, plan, opts, nocb, &mut |_, _| false)?;
    Ok(finished.expect("a run that is never stopped finishes"))
}

/// What a run calls with each output slot and every output there, as they are computed
/// in time order; `true` stops the run.
pub(crate) type Stop<'a> = dyn FnMut(usize, &[f64]) -> bool + 'a;

/// As [`run_plan`], calling `stop` with each output slot as an ODE or exact-linear run
/// computes it: `None` where `stop` returned `true`. A model's closed form computes every
/// slot at once and is never stopped.
pub(crate) fn run_plan_until<M: Model>(
    model: &M,
    params: &[M::Params],
    plan: &Plan,
    opts: &SolverOptions,
    nocb: bool,
    stop: &mut Stop<'_>,
) -> Result<Option<(Vec<f64>, SolverStats)>> {
    opts.check()?;
    if params.len() < plan.n_pieces() {
        return Err(Error::ParameterCount {
            expected: plan.n_pieces(),
            got: params.len(),
        });
    }
    let mut out = vec![0.0; plan.n_slots * model.outputs().len()];
    let prop = match opts.method {
        SolutionMethod::Ode => None,
        _ => exact_systems(model, params)?.map(Propagator::Exact),
    };
    let prop = match (prop, opts.method) {
        (Some(p), _) => p,
        (None, SolutionMethod::Ode) => Propagator::Ode(Box::new(ode::Stepper::new(opts))),
        (None, method) => match closed_form::run(model, params, plan, &mut out) {
            Ok(()) => return Ok(Some((out, SolverStats::default()))),
            Err(e) if method == SolutionMethod::ClosedForm => return Err(e),
            Err(_) => Propagator::Ode(Box::new(ode::Stepper::new(opts))),
        },
    };
    let finished = Engine::new(model, params, prop, opts, nocb).run_until(plan, &mut out, stop)?;
    Ok(finished.map(|stats| (out, stats)))
}

/// Simulates `model` with `params` and `doses`, returning every output at `times`.
///
/// `times` must be finite and sorted (ties allowed; negative times are fine); doses may
/// come in any order and are given before outputs at the same time. The simulation starts
/// at the earliest dose or output time. See the [module docs](self) for how the solution is
/// chosen and how accurate it is.
///
/// ```
/// use cart_pkpd::{models::{CarTBCell, CarTBCellParams}, simulate, Dose, SolverOptions};
/// let (model, params) = (CarTBCell, CarTBCellParams::default());
/// let days: Vec<f64> = (0..=365).step_by(5).map(f64::from).collect();
/// let sim = simulate(&model, &params, &[Dose::bolus(0.0, 10.0)], &days,
///                    &SolverOptions::default()).unwrap();
/// let b = sim.get("b_cells").unwrap();          // cells/µL
/// assert!(b[4] < 1.0);                            // depleted by day 20
/// ```
///
/// # Errors
/// [`Error::InvalidTimes`], [`Error::InvalidDose`] (a dose the model does not take or a
/// record that is inconsistent), [`Error::InvalidOptions`], [`Error::Solver`],
/// [`Error::SteadyState`], [`Error::NoClosedForm`] with [`SolutionMethod::ClosedForm`].
pub fn simulate<M: Model>(
    model: &M,
    params: &M::Params,
    doses: &[Dose],
    times: &[f64],
    opts: &SolverOptions,
) -> Result<Simulation> {
    let plan = Plan::from_doses(doses, times)?;
    let (flat, stats) = run_plan(model, std::slice::from_ref(params), &plan, opts, false)?;
    Ok(Simulation::from_rows(model, times.to_vec(), &flat, stats))
}

/// Simulates with the model's exact solution: its linear system, or its closed form
/// ([`Model::closed_form`], bolus doses only).
///
/// # Errors
/// [`Error::NoClosedForm`] for a model without one; the errors of [`simulate`] otherwise.
///
/// ```
/// use cart_pkpd::{models::{CellularKinetics, CellularKineticsParams}, simulate_closed_form};
/// let p = CellularKineticsParams::stein_2019();
/// let sim = simulate_closed_form(&CellularKinetics, &p, &[], &[9.3]).unwrap();
/// assert!((sim.get("transgene").unwrap()[0] - 24_000.0).abs() < 1e-9);  // Cmax at Tmax
/// ```
pub fn simulate_closed_form<M: Model>(
    model: &M,
    params: &M::Params,
    doses: &[Dose],
    times: &[f64],
) -> Result<Simulation> {
    let opts = SolverOptions {
        method: SolutionMethod::ClosedForm,
        ..SolverOptions::default()
    };
    simulate(model, params, doses, times, &opts)
}

/// Simulates one subject's records: every output at every record, after the record is
/// processed (so a dose record's row includes its dose, as NONMEM's prediction does), in
/// record order; row `i` of the result is record `i` of [`Subject::records`].
///
/// ```
/// use cart_pkpd::models::pk::{OneCmtOral, OneCmtOralParams};
/// use cart_pkpd::{simulate_subject, Dose, SolverOptions, Subject};
/// let p = OneCmtOralParams::new(1.0, 5.0, 50.0)?;        // ka 1/h, CL L/h, V L
/// let s = Subject::builder("1")
///     .dose_event(Dose::bolus(0.0, 100.0).repeat(2, 12.0))  // 100 mg at 0, 12, 24 h
///     .observe(12.0, "cp", 1.0)                              // trough: before the 12 h dose
///     .observe(30.0, "cp", 1.0)
///     .build()?;
/// let sim = simulate_subject(&OneCmtOral, &p, &s, &SolverOptions::default())?;
/// assert_eq!(sim.times, [0.0, 12.0, 30.0]);
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
///
/// # Errors
/// As [`simulate`], with the subject named in dose errors.
pub fn simulate_subject<M: Model>(
    model: &M,
    params: &M::Params,
    subject: &Subject,
    opts: &SolverOptions,
) -> Result<Simulation> {
    let plan = Plan::from_subject(subject, Outputs::AllRecords, |_| true);
    let (flat, stats) = run_plan(model, std::slice::from_ref(params), &plan, opts, false)
        .map_err(|e| e.in_subject(subject.id()))?;
    let times = subject.records().map(|r| r.time()).collect();
    Ok(Simulation::from_rows(model, times, &flat, stats))
}

/// Simulates one subject whose parameters change over its records (time-varying
/// covariates): `params_at(k, record)` gives the parameters in force at record `k`, and
/// `interpolation` says how a change applies between two records. Otherwise as
/// [`simulate_subject`].
///
/// ```
/// use cart_pkpd::data::CovariateInterpolation;
/// use cart_pkpd::models::pk::{OneCmtIv, OneCmtIvParams};
/// use cart_pkpd::{simulate_subject_with, Dose, Parameters, SolverOptions, Subject};
/// let s = Subject::builder("1")
///     .covariate("CRCL", 100.0)
///     .dose_event(Dose::bolus(0.0, 100.0).repeat(3, 12.0))
///     .covariate_at(24.0, "CRCL", 50.0)                   // renal function halves
///     .observe(47.9, "cp", 1.0)
///     .build()?;
/// let base = OneCmtIvParams::new(5.0, 50.0)?;
/// let sim = simulate_subject_with(&OneCmtIv, &s, &SolverOptions::default(),
///     CovariateInterpolation::Locf, |k, _| {
///         let crcl = s.covariate_series("CRCL").unwrap().at(k).as_number().unwrap();
///         base.with("cl", 5.0 * crcl / 100.0)             // CL proportional to CRCL
///     })?;
/// let trough = sim.get("cp")?[2];
/// // from 24 h on, k = 0.05/h: the amount at 24 h decays for 23.9 h, plus the 36 h dose
/// let at_24: f64 = [0.0, 12.0].iter().map(|t| 100.0 * (-0.1f64 * (24.0 - t)).exp()).sum::<f64>() + 100.0;
/// let expected = (at_24 * (-0.05f64 * 23.9).exp() + 100.0 * (-0.05f64 * 11.9).exp()) / 50.0;
/// assert!((trough - expected).abs() < 1e-12 * expected);
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
///
/// # Errors
/// As [`simulate`], and whatever `params_at` returns.
pub fn simulate_subject_with<M: Model>(
    model: &M,
    subject: &Subject,
    opts: &SolverOptions,
    interpolation: crate::data::CovariateInterpolation,
    mut params_at: impl FnMut(usize, crate::data::Record<'_>) -> Result<M::Params>,
) -> Result<Simulation> {
    let mut pieces: Vec<M::Params> = Vec::new();
    let mut piece_of_record = Vec::with_capacity(subject.n_records());
    for (k, record) in subject.records().enumerate() {
        let p = params_at(k, record)?;
        if pieces.last() != Some(&p) {
            pieces.push(p);
        }
        piece_of_record.push(pieces.len() - 1);
    }
    let mut plan = Plan::from_subject(subject, Outputs::AllRecords, |_| true);
    plan.set_pieces(&piece_of_record);
    let nocb = interpolation == crate::data::CovariateInterpolation::Nocb;
    let (flat, stats) =
        run_plan(model, &pieces, &plan, opts, nocb).map_err(|e| e.in_subject(subject.id()))?;
    let times = subject.records().map(|r| r.time()).collect();
    Ok(Simulation::from_rows(model, times, &flat, stats))
}
