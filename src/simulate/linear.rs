//! Linear compartment systems and their exact solution.
//!
//! A mammillary system: a central compartment with first-order elimination `k10`,
//! peripheral compartments exchanging with it (`k1j` out, `kj1` back), and optionally a
//! depot absorbed into the central compartment at rate `ka`, with zero-order inputs
//! (infusions) into any compartment. This covers NONMEM's ADVAN1–4, 11 and 12.
//!
//! The exact solution is described on [`LinearCompartments`].

use crate::error::{Error, Result};
use nalgebra::{DMatrix, DVector};

/// Largest number of disposition compartments (central and peripherals) solved exactly.
pub const MAX_MODES: usize = 8;

/// A peripheral compartment of a [`LinearCompartments`] system.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Peripheral {
    /// Its index in the state vector.
    pub state: usize,
    /// Rate constant central → peripheral (`k1j = Q/Vc`, 1/time).
    pub k_in: f64,
    /// Rate constant peripheral → central (`kj1 = Q/Vp`, 1/time).
    pub k_out: f64,
}

/// First-order absorption from a depot into the central compartment.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Absorption {
    /// Index of the depot in the state vector.
    pub depot: usize,
    /// Absorption rate constant (1/time, > 0).
    pub ka: f64,
}

/// A linear mammillary compartment system: a central compartment with first-order
/// elimination `k10`, peripheral compartments exchanging with it (`k1j` out, `kj1` back),
/// and optionally a depot absorbed into the central compartment at rate `ka`, with
/// zero-order inputs (infusions) into any compartment — what a model returns from
/// [`Model::linear_system`](crate::Model::linear_system) to be solved exactly. Every state
/// of the model is exactly one of: the central compartment, a peripheral, the depot.
///
/// # The solution
/// With `y` the disposition amounts (central and peripherals), `dy/dt = A·y + u(t)`. `A` is
/// similar to a symmetric matrix: with `D = diag(d)`, `d_1 = 1`, `d_j = √(k1j/kj1)`,
/// `S = D⁻¹AD` has `S_1j = S_j1 = √(k1j·kj1)`, so `S = UΛUᵀ` with real eigenvalues
/// `λ_i = −μ_i < 0` and orthogonal `U`. In modal coordinates `w = UᵀD⁻¹y` the modes
/// decouple, `dw_i/dt = −μ_i·w_i + g_i(t)`. Over an interval of length `τ` with constant
/// infusion rates `r` (depot rate `r_a`), the depot amount is
/// `a(τ) = a₀·e^(−ka·τ) + r_a·τ·φ(ka·τ)` and the input to the modes is
/// `g(s) = p + q·e^(−ka·s)`, `p = UᵀD⁻¹(r_a·e_c + r_d)`, `q = UᵀD⁻¹e_c·(ka·a₀ − r_a)`, so
///
/// ```text
/// w_i(τ) = w_i(0)·e^(−μ_i·τ) + p_i·τ·φ(μ_i·τ) + q_i·τ·e^(−min(μ_i, ka)·τ)·φ(|μ_i − ka|·τ)
/// φ(z) = (1 − e^(−z))/z   (φ(0) = 1, computed with expm1)
/// ```
///
/// exactly, without cancellation, including `ka = μ_i` (where the last term is
/// `q_i·τ·e^(−ka·τ)`). Everything else — doses, lag, bioavailability, steady state — is the
/// event engine's, shared with the ODE solution.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinearCompartments {
    /// Index of the central compartment in the state vector.
    pub central: usize,
    /// Elimination rate constant from the central compartment (`k10 = CL/Vc`, 1/time).
    pub k10: f64,
    /// Peripheral compartments.
    pub peripherals: Vec<Peripheral>,
    /// First-order absorption, if the model has a depot.
    pub absorption: Option<Absorption>,
}

impl LinearCompartments {
    /// Number of states the system describes.
    pub fn n_states(&self) -> usize {
        1 + self.peripherals.len() + usize::from(self.absorption.is_some())
    }

    /// The matrix `A` of `dx/dt = A·x` over the whole state vector.
    pub fn matrix(&self) -> DMatrix<f64> {
        let n = self.n_states();
        let c = self.central;
        let mut a = DMatrix::zeros(n, n);
        a[(c, c)] = -self.k10;
        for p in &self.peripherals {
            a[(c, c)] -= p.k_in;
            a[(c, p.state)] += p.k_out;
            a[(p.state, c)] += p.k_in;
            a[(p.state, p.state)] -= p.k_out;
        }
        if let Some(abs) = self.absorption {
            a[(abs.depot, abs.depot)] = -abs.ka;
            a[(c, abs.depot)] = abs.ka;
        }
        a
    }

    /// Checks the structure against a model with `n_states` states: indices in range and
    /// each state used once, rate constants finite and > 0 (≥ 0 for `k10`).
    pub(crate) fn check(&self, model: &str, n_states: usize) -> Result<()> {
        let bad = |reason: String| Error::InvalidModel {
            model: model.to_owned(),
            reason,
        };
        let mut seen = vec![false; n_states];
        let states = std::iter::once(self.central)
            .chain(self.peripherals.iter().map(|p| p.state))
            .chain(self.absorption.map(|a| a.depot));
        for s in states {
            if s >= n_states || std::mem::replace(&mut seen[s], true) {
                return Err(bad(format!(
                    "linear system uses state {s} twice or out of range ({n_states} states)"
                )));
            }
        }
        if seen.iter().any(|s| !s) {
            return Err(bad("linear system does not cover every state".into()));
        }
        if self.peripherals.len() >= MAX_MODES {
            return Err(bad(format!(
                "{} peripheral compartments: the exact solution takes at most {}",
                self.peripherals.len(),
                MAX_MODES - 1
            )));
        }
        let rates = self
            .peripherals
            .iter()
            .flat_map(|p| [p.k_in, p.k_out])
            .chain(self.absorption.map(|a| a.ka));
        for k in rates {
            if !(k.is_finite() && k > 0.0) {
                return Err(bad(format!("rate constant {k} must be finite and > 0")));
            }
        }
        if !(self.k10.is_finite() && self.k10 >= 0.0) {
            return Err(bad(format!("k10 = {} must be finite and >= 0", self.k10)));
        }
        Ok(())
    }
}

/// `φ(z) = (1 − e^(−z))/z` for `z ≥ 0`, with `φ(0) = 1`.
fn phi(z: f64) -> f64 {
    if z < 1e-300 { 1.0 } else { -(-z).exp_m1() / z }
}

/// A [`LinearCompartments`] system prepared for exact propagation.
#[derive(Debug, Clone)]
pub(crate) struct ExactSystem {
    system: LinearCompartments,
    /// Disposition states in modal order: central first, then the peripherals.
    disposition: Vec<usize>,
    /// `μ_i = −λ_i` of each mode.
    mu: Vec<f64>,
    /// `UᵀD⁻¹`: disposition amounts → modes.
    to_modes: DMatrix<f64>,
    /// `DU`: modes → disposition amounts.
    from_modes: DMatrix<f64>,
    /// `UᵀD⁻¹e_c`: where absorbed drug enters the modes.
    central_in_modes: DVector<f64>,
}

impl ExactSystem {
    pub fn new(system: LinearCompartments) -> Self {
        let m = 1 + system.peripherals.len();
        let mut d = vec![1.0; m];
        let mut s = DMatrix::zeros(m, m);
        s[(0, 0)] = -system.k10;
        for (j, p) in system.peripherals.iter().enumerate() {
            let j = j + 1;
            d[j] = (p.k_in / p.k_out).sqrt();
            s[(0, 0)] -= p.k_in;
            s[(j, j)] = -p.k_out;
            let off = (p.k_in * p.k_out).sqrt();
            s[(0, j)] = off;
            s[(j, 0)] = off;
        }
        let eigen = s.symmetric_eigen();
        let u = eigen.eigenvectors;
        let mu = eigen.eigenvalues.iter().map(|l| (-l).max(0.0)).collect();
        let to_modes = DMatrix::from_fn(m, m, |i, j| u[(j, i)] / d[j]);
        let from_modes = DMatrix::from_fn(m, m, |i, j| d[i] * u[(i, j)]);
        let central_in_modes = to_modes.column(0).into_owned();
        let disposition = std::iter::once(system.central)
            .chain(system.peripherals.iter().map(|p| p.state))
            .collect();
        ExactSystem {
            system,
            disposition,
            mu,
            to_modes,
            from_modes,
            central_in_modes,
        }
    }

    /// Advances the amounts `x` by `tau ≥ 0` with constant infusion rates `rates` (per
    /// state, amount per time). Works on the stack: at most [`MAX_MODES`] disposition
    /// compartments ([`LinearCompartments::check`] enforces it).
    pub fn advance(&self, x: &mut [f64], tau: f64, rates: &[f64]) {
        let m = self.disposition.len();
        let (mut y, mut r_d) = ([0.0; MAX_MODES], [0.0; MAX_MODES]);
        for (k, &s) in self.disposition.iter().enumerate() {
            y[k] = x[s];
            r_d[k] = rates[s];
        }
        let (mut ka, mut r_a, mut a0) = (0.0, 0.0, 0.0);
        if let Some(abs) = self.system.absorption {
            (ka, a0, r_a) = (abs.ka, x[abs.depot], rates[abs.depot]);
            x[abs.depot] = a0 * (-ka * tau).exp() + r_a * tau * phi(ka * tau);
        }
        let mut w = [0.0; MAX_MODES];
        for (i, wi) in w.iter_mut().enumerate().take(m) {
            let row =
                |v: &[f64; MAX_MODES]| (0..m).map(|j| self.to_modes[(i, j)] * v[j]).sum::<f64>();
            let mu = self.mu[i];
            let c = self.central_in_modes[i];
            let p = row(&r_d) + c * r_a;
            let q = c * (ka * a0 - r_a);
            *wi = row(&y) * (-mu * tau).exp() + p * tau * phi(mu * tau);
            if q != 0.0 {
                *wi += q * tau * (-mu.min(ka) * tau).exp() * phi((mu - ka).abs() * tau);
            }
        }
        for (k, &s) in self.disposition.iter().enumerate() {
            x[s] = (0..m).map(|i| self.from_modes[(k, i)] * w[i]).sum();
        }
    }

    /// The amounts at which a constant infusion at `rates` is in equilibrium:
    /// `A·x + r = 0`. `None` when `A` is singular (no elimination).
    pub fn equilibrium(&self, rates: &[f64]) -> Option<Vec<f64>> {
        let a = self.system.matrix();
        let r = DVector::from_column_slice(rates);
        a.lu().solve(&(-r)).map(|x| x.iter().copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_cmt_oral() -> LinearCompartments {
        LinearCompartments {
            central: 1,
            k10: 0.1,
            peripherals: vec![Peripheral {
                state: 2,
                k_in: 0.3,
                k_out: 0.05,
            }],
            absorption: Some(Absorption { depot: 0, ka: 1.2 }),
        }
    }

    /// `e^(Aτ)·x₀` by a 40-term Taylor series on `τ/2^10` and squaring, as an independent
    /// reference for the bolus response.
    fn expm_reference(a: &DMatrix<f64>, tau: f64) -> DMatrix<f64> {
        let n = a.nrows();
        let h = tau / 1024.0;
        let mut term = DMatrix::identity(n, n);
        let mut sum = DMatrix::identity(n, n);
        for k in 1..40 {
            term = &term * a * (h / k as f64);
            sum += &term;
        }
        for _ in 0..10 {
            sum = &sum * &sum;
        }
        sum
    }

    #[test]
    fn bolus_response_is_the_matrix_exponential() {
        let sys = two_cmt_oral();
        let exact = ExactSystem::new(sys.clone());
        for tau in [0.0, 0.3, 2.0, 17.0] {
            let mut x = vec![100.0, 5.0, 1.0];
            exact.advance(&mut x, tau, &[0.0; 3]);
            let reference =
                expm_reference(&sys.matrix(), tau) * DVector::from_vec(vec![100.0, 5.0, 1.0]);
            for i in 0..3 {
                assert!(
                    (x[i] - reference[i]).abs() <= 1e-11 * (1.0 + reference[i].abs()),
                    "tau {tau} state {i}: {} vs {}",
                    x[i],
                    reference[i]
                );
            }
        }
    }

    #[test]
    fn equal_absorption_and_elimination_rates_have_the_t_exp_form() {
        // 1-cpt oral with ka = k: central = D·k·t·e^(−kt)
        let sys = LinearCompartments {
            central: 1,
            k10: 0.5,
            peripherals: vec![],
            absorption: Some(Absorption { depot: 0, ka: 0.5 }),
        };
        let exact = ExactSystem::new(sys);
        let mut x = vec![10.0, 0.0];
        exact.advance(&mut x, 3.0, &[0.0, 0.0]);
        let expected = 10.0 * 0.5 * 3.0 * (-1.5f64).exp();
        assert!((x[1] - expected).abs() < 1e-14 * expected, "{}", x[1]);
    }

    #[test]
    fn infusion_is_the_integral_of_the_bolus_response() {
        // rate 2 into the depot for 5 time units = the limit of many small boluses;
        // check against a fine midpoint sum of bolus responses.
        let sys = two_cmt_oral();
        let exact = ExactSystem::new(sys.clone());
        let mut x = vec![0.0; 3];
        exact.advance(&mut x, 5.0, &[2.0, 0.0, 0.0]);
        let n = 20_000;
        let h = 5.0 / n as f64;
        let mut sum = DVector::zeros(3);
        let a = sys.matrix();
        let step = expm_reference(&a, h);
        // response at τ = 5 of a bolus 2h given at s = (k+½)h is e^(A(5−s))·2h·e_0
        let mut state = expm_reference(&a, h / 2.0) * DVector::from_vec(vec![2.0 * h, 0.0, 0.0]);
        for _ in 0..n {
            sum += &state;
            state = &step * state;
        }
        for i in 0..3 {
            assert!(
                (x[i] - sum[i]).abs() < 1e-7 * sum[i].abs().max(1e-3),
                "{i}: {} vs {}",
                x[i],
                sum[i]
            );
        }
    }
}
