//! The [`Model`] trait: what any ODE model, built-in or user-defined, provides.
//!
//! A model is a structure (states, outputs, equations) separate from its parameter values
//! (a [`Parameters`] struct), so that one model serves any parameter set, as in argmin a
//! problem is separate from the solver that runs it. Time is in days for the built-in models;
//! a user model may use any time unit consistently (the Theophylline example uses hours).

use crate::dose::Dose;
use crate::error::{Error, Result};
use crate::params::Parameters;
use crate::simulate::LinearCompartments;

/// Static description of one model output (an analyte that can be observed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct OutputSpec {
    /// Analyte name used in data files and lookups (e.g. `"transgene"`).
    pub name: &'static str,
    /// Unit (e.g. `"copies/µg"`).
    pub unit: &'static str,
    /// One-line meaning.
    pub description: &'static str,
}

/// Where a bolus dose goes and how its amount converts to the state's unit.
///
/// The state gains `scale × amount`. For the CAR-T × B-cell model the amount is in
/// 10^6 CAR+ T cells and the scale is `gamma` (copies/µg per 10^6 cells).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DoseInput {
    /// Index of the receiving state.
    pub state: usize,
    /// Factor from dose units to state units.
    pub scale: f64,
}

/// Bioavailability, lag time and modelled rate or duration of doses into one compartment:
/// NONMEM's `Fn`, `ALAGn`, `Rn` and `Dn`.
///
/// The default is `F = 1`, no lag, and no modelled rate or duration (a dose with
/// `RATE = -1` or `-2` into such a compartment is an error naming the compartment).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompartmentDosing {
    /// Fraction of each dose's amount that enters (`F`, ≥ 0; may exceed 1 for a relative
    /// bioavailability).
    pub bioavailability: f64,
    /// Delay between a dose record and the dose entering (`ALAG`, ≥ 0, time units).
    pub lag: f64,
    /// Infusion rate for `RATE = -1` doses (`R`, > 0, dose units per time unit).
    pub rate: Option<f64>,
    /// Infusion duration for `RATE = -2` doses (`D`, > 0, time units).
    pub duration: Option<f64>,
}

impl Default for CompartmentDosing {
    fn default() -> Self {
        CompartmentDosing {
            bioavailability: 1.0,
            lag: 0.0,
            rate: None,
            duration: None,
        }
    }
}

/// An ODE model with named parameters, states and outputs.
///
/// Implementors provide the right-hand side `dx/dt = f(t, x, θ)`, the initial state, the
/// outputs `y = g(t, x, θ)`, and where doses go. Optional: bioavailability, lag and modelled
/// infusion rate or duration per compartment ([`compartment_dosing`](Model::compartment_dosing)),
/// times where the right-hand side is discontinuous ([`breakpoints`](Model::breakpoints), the
/// integrator restarts there), the Jacobian of the right-hand side
/// ([`jacobian`](Model::jacobian), for the implicit integrator), and an exact solution: the linear compartment structure
/// ([`linear_system`](Model::linear_system), solved exactly for every kind of dose) or a
/// closed form of the outputs for bolus doses ([`closed_form`](Model::closed_form)).
///
/// NONMEM compartment numbers (`CMT`) are the 1-based positions in
/// [`state_names`](Model::state_names).
///
/// See `examples/user_model.rs` for a complete user-defined model (one compartment with
/// first-order absorption).
pub trait Model: Send + Sync {
    /// The model's validated parameter struct.
    type Params: Parameters;

    /// Short model name used in messages.
    fn name(&self) -> &str;

    /// State names, in state-vector order (may depend on structural parameters such as a
    /// transit-compartment count).
    fn state_names(&self, params: &Self::Params) -> Vec<String>;

    /// Number of states. Default: the length of [`state_names`](Model::state_names); override
    /// it to avoid allocating the names in every simulation.
    fn n_states(&self, params: &Self::Params) -> usize {
        self.state_names(params).len()
    }

    /// The outputs (analytes), in output-vector order.
    fn outputs(&self) -> &[OutputSpec];

    /// Fills `x0` (length = number of states) with the state at time 0, before any dose.
    fn initial_state(&self, params: &Self::Params, x0: &mut [f64]);

    /// Writes `dx/dt` at time `t` (days) and state `x` into `dxdt`.
    fn derivatives(&self, t: f64, x: &[f64], params: &Self::Params, dxdt: &mut [f64]);

    /// Writes the Jacobian of the right-hand side, `∂(dxᵢ/dt)/∂xⱼ` at time `t` and state `x`,
    /// into `jac[i·n + j]` (row by row, `n` = number of states) and returns `true`; or
    /// returns `false`, the default, when the model gives none.
    ///
    /// The implicit integrator ([`Integrator::Rodasp`](crate::Integrator)) uses it at every
    /// step; without it, it takes forward differences of
    /// [`derivatives`](Model::derivatives) (`n` more right-hand sides per step, accurate to
    /// about `√ε` relative). A model that gives one should check it against differences
    /// of its derivatives, as the built-in models' tests do.
    fn jacobian(&self, t: f64, x: &[f64], params: &Self::Params, jac: &mut [f64]) -> bool {
        let _ = (t, x, params, jac);
        false
    }

    /// Writes the outputs at time `t` and state `x` into `y` (length = number of outputs).
    fn output(&self, t: f64, x: &[f64], params: &Self::Params, y: &mut [f64]);

    /// Where a bolus dose at `time` goes. `target` names a state; `None` means the model's
    /// default dosing state. Default: the model takes no doses.
    fn dose_input(
        &self,
        params: &Self::Params,
        target: Option<&str>,
        time: f64,
    ) -> Result<DoseInput> {
        let _ = (params, target);
        Err(Error::InvalidDose {
            subject: None,
            time,
            reason: format!("model `{}` takes no doses", self.name()),
        })
    }

    /// Typical magnitude of each state, in state units: the ODE solver's absolute tolerance
    /// applies to each state in these units (`atol × scale`), so a state that lives far
    /// below `atol` in its own units is still solved to the relative tolerance. Default:
    /// all 1 (the absolute tolerance in state units).
    fn state_scales(&self, params: &Self::Params, scales: &mut [f64]) {
        let _ = params;
        scales.fill(1.0);
    }

    /// Called when a dose enters state `state` — just before a bolus is added, or when an
    /// infusion starts — for a model whose doses do more than add an amount (model 2
    /// applies the lymphodepletion that precedes a CAR-T infusion). Default: nothing.
    fn on_dose(&self, params: &Self::Params, state: usize, x: &mut [f64]) {
        let _ = (params, state, x);
    }

    /// Analytes observed in NONMEM compartments, as `(CMT, output name)` pairs: how an
    /// observation row's `CMT` maps to an output when a data file has no analyte column
    /// ([`CsvOptions::for_model`](crate::data::CsvOptions::for_model)). Default: none.
    fn observed_compartments(&self) -> Vec<(u32, &'static str)> {
        Vec::new()
    }

    /// Bioavailability `F`, lag time, and modelled rate `R` or duration `D` of doses into
    /// state `state`. Default: [`CompartmentDosing::default`] (F = 1, no lag, none modelled).
    fn compartment_dosing(&self, params: &Self::Params, state: usize) -> CompartmentDosing {
        let _ = (params, state);
        CompartmentDosing::default()
    }

    /// The model as a linear compartment system, if it is one: then it is solved exactly
    /// (matrix exponential in closed form) for bolus and infusion doses, lag, `F`, additional
    /// doses and steady state, and [`derivatives`](Model::derivatives) serves as its ODE
    /// form for checking. Default: `None`.
    fn linear_system(&self, params: &Self::Params) -> Option<LinearCompartments> {
        let _ = params;
        None
    }

    /// Times at which the right-hand side is discontinuous; the integrator stops and
    /// restarts there so that no step straddles a switch. Default: none.
    fn breakpoints(&self, params: &Self::Params) -> Vec<f64> {
        let _ = params;
        Vec::new()
    }

    /// The outputs at time `t` from a closed-form solution for bolus doses, if the model has
    /// one. `doses` are the doses given up to `t` (in the order given; an observation
    /// recorded before a dose at the same time does not see it), each a plain bolus already
    /// moved by its lag time and scaled by its bioavailability, with
    /// [`target`](Dose::target) as recorded (`None` for the default dosing state; a
    /// compartment number is replaced by its state's name). It is used only for subjects
    /// whose doses are all transient boluses and whose parameters do not change over time;
    /// otherwise the ODE is solved. Default: [`Error::NoClosedForm`].
    fn closed_form(
        &self,
        t: f64,
        params: &Self::Params,
        doses: &[Dose],
        y: &mut [f64],
    ) -> Result<()> {
        let _ = (t, params, doses, y);
        Err(Error::NoClosedForm {
            model: self.name().to_owned(),
            reason: "the model defines none".into(),
        })
    }

    /// Index of an output by analyte name.
    ///
    /// # Errors
    /// [`Error::UnknownAnalyte`] naming the known outputs when `analyte` is not one.
    fn output_index(&self, analyte: &str) -> Result<usize> {
        self.outputs()
            .iter()
            .position(|o| o.name == analyte)
            .ok_or_else(|| Error::UnknownAnalyte {
                name: analyte.to_owned(),
                subject: None,
                known: self
                    .outputs()
                    .iter()
                    .map(|o| o.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// Index of `name` in `names`, as a [`DoseInput`] target lookup helper for models.
///
/// # Errors
/// [`Error::InvalidDose`] naming the known states when `name` is not a state.
pub fn state_index(names: &[&str], name: &str, time: f64) -> Result<usize> {
    names
        .iter()
        .position(|n| *n == name)
        .ok_or_else(|| Error::InvalidDose {
            subject: None,
            time,
            reason: format!(
                "no dosable state named `{name}` (dosable: {})",
                names.join(", ")
            ),
        })
}
