//! Derivatives of a simulation's outputs with respect to named parameters
//! ([`simulate_sensitivities`]).

use super::plan::Plan;
use super::sensitivity::{Directions, run_plan_sensitivities};
use super::{Simulation, SolverOptions, run_plan};
use crate::dose::Dose;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::params::{ParamName, Parameters};

/// The relative step of the parameters either side of the nominal set (absolute where the
/// value is 0): the differences are of the right-hand side or of exact solutions, so the
/// step balances rounding (`ε/h`) against truncation (`h²`), not solver noise.
pub const SENSITIVITY_STEP: f64 = 1e-5;

/// How [`simulate_sensitivities`] obtained the derivatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SensitivityMethod {
    /// The sensitivity equations, integrated with the states (an ODE solution).
    ForwardSensitivities,
    /// Central differences of exact solutions (a linear system or a closed form), which
    /// carry no solver noise.
    ExactDifferences,
}

/// A simulation and the derivatives of its outputs with respect to named parameters.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sensitivity {
    /// The outputs at the nominal parameters.
    pub simulation: Simulation,
    /// The parameters differentiated, in order.
    pub parameters: Vec<String>,
    /// `derivatives[p][a][i]`: `∂(analyte a at times[i]) / ∂(parameter p)`, in the
    /// analyte's unit per parameter unit.
    pub derivatives: Vec<Vec<Vec<f64>>>,
    /// How they were obtained.
    pub method: SensitivityMethod,
}

impl Sensitivity {
    /// `∂(analyte)/∂(parameter)` at every output time.
    ///
    /// # Errors
    /// [`Error::UnknownAnalyte`] or [`Error::UnknownParameter`] for a name not in the
    /// result.
    pub fn get(&self, analyte: &str, parameter: &str) -> Result<&[f64]> {
        let a = self.simulation.column(analyte)?;
        let p = self
            .parameters
            .iter()
            .position(|p| p == parameter)
            .ok_or_else(|| Error::UnknownParameter {
                name: parameter.to_owned(),
                known: self.parameters.join(", "),
            })?;
        Ok(&self.derivatives[p][a])
    }
}

/// Simulates as [`simulate`](crate::simulate()) does, with the derivatives of every output
/// with respect to the parameters `wrt`.
///
/// Where the ODE is solved, the derivatives come from the forward sensitivity equations,
/// integrated with the states under the same error control and carried through every
/// event (dose amounts, bioavailability, lag times, infusion rates and durations, resets,
/// steady states, model breakpoints that move with the parameters); where the solution is
/// exact, from central differences of it. Either way they are free of the solver's
/// step-selection noise that differences of adaptive solutions carry.
///
/// ```
/// use cart_pkpd::models::pk::{OneCmtOral, OneCmtOralParams};
/// use cart_pkpd::{simulate_sensitivities, Dose, SolverOptions};
/// let p = OneCmtOralParams::new(1.0, 5.0, 50.0)?;            // ka 1/h, CL L/h, V L
/// let opts = SolverOptions::default().ode();                  // the ODE, not the exact solution
/// let s = simulate_sensitivities(&OneCmtOral, &p, &["cl"], &[Dose::bolus(0.0, 100.0)],
///                                &[4.0], &opts)?;
/// // C = D·ka/(V(ka − k))·(e^(−kt) − e^(−ka·t)), k = CL/V: ∂C/∂CL = ∂C/∂k / V
/// let (ka, k, v, t) = (1.0f64, 0.1f64, 50.0, 4.0);
/// let dc_dk = 100.0 * ka / v * ((-(k * t)).exp() - (-(ka * t)).exp()) / (ka - k).powi(2)
///     - 100.0 * ka / (v * (ka - k)) * t * (-(k * t)).exp();
/// assert!((s.get("cp", "cl")?[0] - dc_dk / v).abs() < 1e-5 * (dc_dk / v).abs());
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
///
/// # Errors
/// As [`simulate`](crate::simulate()); [`Error::UnknownParameter`] for a name the model's
/// parameters do not have; [`Error::NoSensitivities`] for a parameter within
/// [`SENSITIVITY_STEP`] of the edge of its domain, or for a plan solved in part by the
/// ODE solver under a solution method that asks for an exact one (differences of those
/// solutions would carry the solver's noise).
pub fn simulate_sensitivities<M: Model, K: ParamName<M::Params>>(
    model: &M,
    params: &M::Params,
    wrt: &[K],
    doses: &[Dose],
    times: &[f64],
    opts: &SolverOptions,
) -> Result<Sensitivity> {
    let plan = Plan::from_doses(doses, times)?;
    let h = SENSITIVITY_STEP;
    let mut dirs = Directions {
        plus: Vec::with_capacity(wrt.len()),
        minus: Vec::with_capacity(wrt.len()),
        h,
    };
    let mut scales = Vec::with_capacity(wrt.len());
    for key in wrt {
        let name = key.param_name();
        let v = params.get(name)?;
        let c = if v == 0.0 { 1.0 } else { v.abs() };
        let at = |e: f64| {
            params
                .with(name, v + e * c)
                .map_err(|e| Error::NoSensitivities {
                    model: model.name().to_owned(),
                    reason: format!("`{name}` = {v} is at the edge of its domain ({e})"),
                })
        };
        dirs.plus.push(vec![at(h)?]);
        dirs.minus.push(vec![at(-h)?]);
        scales.push(c);
    }
    let one = std::slice::from_ref(params);
    let (flat, derivatives, stats, method) =
        match run_plan_sensitivities(model, one, &dirs, &plan, opts, false)? {
            Some(s) => (
                s.outputs,
                s.derivatives,
                s.stats,
                SensitivityMethod::ForwardSensitivities,
            ),
            None => exact_differences(model, params, &dirs, &plan, opts)?,
        };
    let n_out = model.outputs().len();
    let k = wrt.len();
    let derivatives = (0..k)
        .map(|j| {
            (0..n_out)
                .map(|a| {
                    (0..times.len())
                        .map(|i| derivatives[(i * k + j) * n_out + a] / scales[j])
                        .collect()
                })
                .collect()
        })
        .collect();
    Ok(Sensitivity {
        simulation: Simulation::from_rows(model, times.to_vec(), &flat, stats),
        parameters: wrt.iter().map(|k| k.param_name().to_owned()).collect(),
        derivatives,
        method,
    })
}

/// Outputs, their central differences along `dirs` (laid out as the sensitivities'), the
/// nominal run's work, for a plan solved exactly.
type Differenced = (Vec<f64>, Vec<f64>, super::SolverStats, SensitivityMethod);

fn exact_differences<M: Model>(
    model: &M,
    params: &M::Params,
    dirs: &Directions<M::Params>,
    plan: &Plan,
    opts: &SolverOptions,
) -> Result<Differenced> {
    let (flat, stats) = run_plan(model, std::slice::from_ref(params), plan, opts, false)?;
    if stats.rhs_evaluations > 0 {
        return Err(Error::NoSensitivities {
            model: model.name().to_owned(),
            reason: "the plan was solved in part by the ODE solver, whose differences carry its \
                     step-selection noise: solve it as an ODE (`SolverOptions::ode`) for forward \
                     sensitivities"
                .into(),
        });
    }
    let (k, n_out) = (dirs.plus.len(), model.outputs().len());
    let mut derivatives = vec![0.0; flat.len() * k];
    for j in 0..k {
        let (up, _) = run_plan(model, &dirs.plus[j], plan, opts, false)?;
        let (down, _) = run_plan(model, &dirs.minus[j], plan, opts, false)?;
        for slot in 0..plan.n_slots {
            for a in 0..n_out {
                let at = slot * n_out + a;
                derivatives[(slot * k + j) * n_out + a] = (up[at] - down[at]) / (2.0 * dirs.h);
            }
        }
    }
    Ok((
        flat,
        derivatives,
        stats,
        SensitivityMethod::ExactDifferences,
    ))
}
