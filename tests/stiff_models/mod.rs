//! Two stiff models through the typed API, shared by the stiff-solver tests and the
//! benchmarks: Robertson's chemical kinetics and a target-mediated drug disposition
//! (TMDD) model with fast binding.

use cart_pkpd::model::state_index;
use cart_pkpd::{DoseInput, Model, OutputSpec, indices, outputs, parameters};

parameters! {
    /// Rate constants of Robertson's reactions (A → B, B + B → C + B, B + C → A + C).
    pub struct RobertsonParams {
        /// A → B.
        k1: Positive = 0.04 => "1/s",
        /// B + B → C + B.
        k2: Positive = 3e7 => "1/s",
        /// B + C → A + C.
        k3: Positive = 1e4 => "1/s",
    }
}

indices! {
    /// Robertson's species (mole fractions).
    pub mod species { A, B, C }
}

outputs! {
    /// Robertson's outputs.
    pub mod robertson_output {
        A = "a" => "1", "mole fraction of A";
        B = "b" => "1", "mole fraction of B";
        C = "c" => "1", "mole fraction of C";
    }
}

/// Robertson's problem from (1, 0, 0): eigenvalues from about −0.04 to −10⁴, a classic
/// stiff test; `a + b + c = 1` is conserved.
pub struct Robertson;

impl Model for Robertson {
    type Params = RobertsonParams;

    fn name(&self) -> &str {
        "robertson"
    }

    fn state_names(&self, _: &Self::Params) -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    fn outputs(&self) -> &[OutputSpec] {
        robertson_output::SPECS
    }

    fn initial_state(&self, _: &Self::Params, x0: &mut [f64]) {
        x0.copy_from_slice(&[1.0, 0.0, 0.0]);
    }

    fn derivatives(&self, _t: f64, x: &[f64], p: &Self::Params, dx: &mut [f64]) {
        let (a, b, c) = (x[species::A], x[species::B], x[species::C]);
        dx[species::A] = -p.k1() * a + p.k3() * b * c;
        dx[species::B] = p.k1() * a - p.k3() * b * c - p.k2() * b * b;
        dx[species::C] = p.k2() * b * b;
    }

    fn output(&self, _t: f64, x: &[f64], _: &Self::Params, y: &mut [f64]) {
        y.copy_from_slice(x);
    }
}

parameters! {
    /// Parameters of the full TMDD model (hours, nM).
    pub struct TmddParams {
        /// Linear elimination of the free ligand.
        kel: Positive = 0.1 => "1/h",
        /// Association of ligand and target.
        kon: Positive = 100.0 => "1/(nM·h)",
        /// Dissociation of the complex.
        koff: Positive = 1.0 => "1/h",
        /// Internalisation of the complex.
        kint: Positive = 0.05 => "1/h",
        /// Synthesis of the target.
        ksyn: Positive = 1.0 => "nM/h",
        /// Degradation of the free target.
        kdeg: Positive = 0.1 => "1/h",
    }
}

indices! {
    /// The TMDD states (nM).
    pub mod tmdd_state { LIGAND, TARGET, COMPLEX }
}

outputs! {
    /// The TMDD outputs.
    pub mod tmdd_output {
        LIGAND = "ligand" => "nM", "free ligand";
        TARGET = "target" => "nM", "free target";
        COMPLEX = "complex" => "nM", "ligand–target complex";
    }
}

/// Target-mediated drug disposition (Mager & Jusko 2001, J Pharmacokinet Pharmacodyn):
/// `L' = −kel·L − kon·L·R + koff·P`, `R' = ksyn − kdeg·R − kon·L·R + koff·P`,
/// `P' = kon·L·R − koff·P − kint·P`, from the target's baseline `R = ksyn/kdeg`. With
/// `kon = 100 /(nM·h)` binding is about 10⁴ times faster than elimination. Doses (nmol
/// per litre of volume, nM) go into the free ligand. With `analytic_jacobian` the model
/// gives its Jacobian; without, the integrator takes differences.
pub struct Tmdd {
    pub analytic_jacobian: bool,
}

impl Model for Tmdd {
    type Params = TmddParams;

    fn name(&self) -> &str {
        "tmdd"
    }

    fn state_names(&self, _: &Self::Params) -> Vec<String> {
        vec!["ligand".into(), "target".into(), "complex".into()]
    }

    fn outputs(&self) -> &[OutputSpec] {
        tmdd_output::SPECS
    }

    fn initial_state(&self, p: &Self::Params, x0: &mut [f64]) {
        x0.copy_from_slice(&[0.0, p.ksyn() / p.kdeg(), 0.0]);
    }

    fn derivatives(&self, _t: f64, x: &[f64], p: &Self::Params, dx: &mut [f64]) {
        use tmdd_state::{COMPLEX, LIGAND, TARGET};
        let binding = p.kon() * x[LIGAND] * x[TARGET] - p.koff() * x[COMPLEX];
        dx[LIGAND] = -p.kel() * x[LIGAND] - binding;
        dx[TARGET] = p.ksyn() - p.kdeg() * x[TARGET] - binding;
        dx[COMPLEX] = binding - p.kint() * x[COMPLEX];
    }

    fn jacobian(&self, _t: f64, x: &[f64], p: &Self::Params, jac: &mut [f64]) -> bool {
        use tmdd_state::{COMPLEX, LIGAND, TARGET};
        if !self.analytic_jacobian {
            return false;
        }
        let (kon_l, kon_r) = (p.kon() * x[LIGAND], p.kon() * x[TARGET]);
        // the binding flux kon·L·R − koff·P by L, R and P
        let binding = [kon_r, kon_l, -p.koff()];
        let own = [-p.kel(), -p.kdeg(), -p.kint()];
        for (i, sign) in [(LIGAND, -1.0), (TARGET, -1.0), (COMPLEX, 1.0)] {
            for j in 0..3 {
                jac[i * 3 + j] = sign * binding[j] + if i == j { own[i] } else { 0.0 };
            }
        }
        true
    }

    fn output(&self, _t: f64, x: &[f64], _: &Self::Params, y: &mut [f64]) {
        y.copy_from_slice(x);
    }

    fn dose_input(
        &self,
        _: &Self::Params,
        target: Option<&str>,
        time: f64,
    ) -> cart_pkpd::Result<DoseInput> {
        let state = state_index(&["ligand"], target.unwrap_or("ligand"), time)?;
        Ok(DoseInput { state, scale: 1.0 })
    }
}
