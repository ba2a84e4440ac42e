//! A user-defined model through the typed API: one compartment with first-order absorption.
//!
//! States `depot` and `central` (mg); parameters `ka` (1/h), `ke` (1/h), `cl` (L/h), with
//! `V = cl / ke`; output `concentration = central / V` (mg/L). Doses (mg) go into `depot`.
//! The model also gives its closed form, so the ODE solution can be checked against it:
//!
//! ```text
//! C(t) = Σ_doses  A·ka / (V·(ka − ke)) · (exp(−ke·τ) − exp(−ka·τ)),   τ = t − t_dose ≥ 0
//! ```
//!
//! Run: `cargo run --release --example user_model`

use cart_pkpd::model::state_index;
use cart_pkpd::{Dose, DoseInput, Model, OutputSpec, SolverOptions, indices, outputs, parameters};

parameters! {
    /// Parameters of the one-compartment oral model.
    pub struct OneCompartmentParams keys OneCompartmentKeys {
        /// First-order absorption rate constant.
        ka: Positive => "1/h",
        /// First-order elimination rate constant.
        ke: Positive => "1/h",
        /// Clearance.
        cl: Positive => "L/h",
    }
}

impl OneCompartmentParams {
    /// Volume of distribution `V = cl / ke` (L).
    pub fn volume(&self) -> f64 {
        self.cl() / self.ke()
    }
}

/// One compartment with first-order absorption from a depot.
pub struct OneCompartmentOral;

indices! {
    /// The model's states (mg), by name.
    pub mod state { DEPOT, CENTRAL }
}

outputs! {
    /// The model's output, by name.
    pub mod output {
        CONCENTRATION = "concentration" => "mg/L", "plasma concentration";
    }
}

impl Model for OneCompartmentOral {
    type Params = OneCompartmentParams;

    fn name(&self) -> &str {
        "one_compartment_oral"
    }

    fn state_names(&self, _: &Self::Params) -> Vec<String> {
        vec!["depot".into(), "central".into()]
    }

    fn outputs(&self) -> &[OutputSpec] {
        output::SPECS
    }

    fn initial_state(&self, _: &Self::Params, x0: &mut [f64]) {
        x0.fill(0.0);
    }

    fn derivatives(&self, _t: f64, x: &[f64], p: &Self::Params, dxdt: &mut [f64]) {
        dxdt[state::DEPOT] = -p.ka() * x[state::DEPOT];
        dxdt[state::CENTRAL] = p.ka() * x[state::DEPOT] - p.ke() * x[state::CENTRAL];
    }

    fn output(&self, _t: f64, x: &[f64], p: &Self::Params, y: &mut [f64]) {
        y[output::CONCENTRATION] = x[state::CENTRAL] / p.volume();
    }

    fn dose_input(
        &self,
        _: &Self::Params,
        target: Option<&str>,
        time: f64,
    ) -> cart_pkpd::Result<DoseInput> {
        let state = state_index(&["depot", "central"], target.unwrap_or("depot"), time)?;
        Ok(DoseInput { state, scale: 1.0 })
    }

    fn closed_form(
        &self,
        t: f64,
        p: &Self::Params,
        doses: &[Dose],
        y: &mut [f64],
    ) -> cart_pkpd::Result<()> {
        let (ka, ke, v) = (p.ka(), p.ke(), p.volume());
        y[output::CONCENTRATION] = doses
            .iter()
            .filter(|d| d.time <= t)
            .map(|d| {
                let tau = t - d.time;
                match d.target_name() {
                    Some("central") => d.amount / v * (-ke * tau).exp(),
                    _ if (ka - ke).abs() < 1e-12 * ka => {
                        d.amount / v * ka * tau * (-ke * tau).exp()
                    }
                    _ => d.amount * ka / (v * (ka - ke)) * ((-ke * tau).exp() - (-ka * tau).exp()),
                }
            })
            .sum();
        Ok(())
    }
}

/// Runs the example; an error is printed as its message.
#[allow(dead_code)] // tests and the population example include this file without calling main
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[allow(dead_code)]
fn run() -> cart_pkpd::Result<()> {
    let params = OneCompartmentParams::new(1.5, 0.08, 2.8)?;
    let doses = [Dose::bolus(0.0, 320.0), Dose::bolus(12.0, 320.0)];
    let times = [0.5, 1.0, 2.0, 4.0, 8.0, 12.0, 13.0, 24.0, 36.0];
    let ode = cart_pkpd::simulate(
        &OneCompartmentOral,
        &params,
        &doses,
        &times,
        &SolverOptions::accurate().ode(),
    )?;
    let exact = cart_pkpd::simulate_closed_form(&OneCompartmentOral, &params, &doses, &times)?;
    let (c_ode, c_exact) = (ode.get("concentration")?, exact.get("concentration")?);
    println!(
        "one-compartment oral, 320 mg at 0 h and 12 h (V = {:.1} L)",
        params.volume()
    );
    println!(
        "{:>6} {:>14} {:>14} {:>10}",
        "time h", "ODE mg/L", "closed mg/L", "rel diff"
    );
    for i in 0..times.len() {
        let rel = (c_ode[i] - c_exact[i]).abs() / c_exact[i];
        println!(
            "{:>6} {:>14.8} {:>14.8} {:>10.1e}",
            times[i], c_ode[i], c_exact[i], rel
        );
    }
    Ok(())
}
