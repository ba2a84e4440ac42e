//! Populations and virtual cohorts: typical values, between-subject variability (BSV),
//! covariate effects by group, and seeded, parallel simulation.
//!
//! Individual parameters are `x_i = g(g⁻¹(x_pop) + η_i)` with `η_i ~ N(0, Ω)`, where `g` is
//! the parameter's estimation scale ([`Scale`]): log-normal for positive parameters
//! (`x_pop·exp(η)`), logit-normal for fractions. `η` is drawn as `L·z`, `L` the Cholesky
//! factor of `Ω` and `z` standard normal, so `Ω` may be diagonal or full. All random numbers
//! come from a ChaCha8 stream seeded by the caller and are drawn before the subjects are
//! simulated in parallel (rayon), so the same seed gives the same cohort on any number of
//! threads.

use crate::dose::Dose;
use crate::error::{Error, Result};
use crate::fit::{FitResult, Scale};
use crate::model::Model;
use crate::params::Parameters;
use crate::simulate::{Simulation, SolverOptions, simulate};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Draws that may be rejected in a row (a relation between parameters violated) before
/// sampling gives up with an error.
const MAX_REJECTIONS: usize = 1000;

/// Typical parameter values and between-subject variability of some of them.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationModel<M: Model> {
    typical: M::Params,
    names: Vec<String>,
    indices: Vec<usize>,
    scales: Vec<Scale>,
    omega: DMatrix<f64>,
    cholesky: DMatrix<f64>,
}

fn invalid_omega(reason: String) -> Error {
    Error::InvalidOmega { reason }
}

/// The lower Cholesky factor `L` of a covariance matrix `Ω = LLᵀ` of `k` random effects:
/// the one check of Ω that simulation and estimation share.
///
/// # Errors
/// [`Error::InvalidOmega`] when Ω is not `k × k`, has an element that is not finite, is not
/// symmetric (to `10⁻¹²` relative to its largest element), or is not positive definite.
pub(crate) fn omega_factor(omega: &DMatrix<f64>, k: usize) -> Result<DMatrix<f64>> {
    if omega.nrows() != k || omega.ncols() != k {
        return Err(invalid_omega(format!(
            "Ω is {}×{} but {k} parameters have BSV",
            omega.nrows(),
            omega.ncols()
        )));
    }
    if omega.iter().any(|v| !v.is_finite()) {
        return Err(invalid_omega("Ω has a non-finite element".into()));
    }
    if (omega - omega.transpose()).abs().max() > 1e-12 * omega.abs().max().max(1.0) {
        return Err(invalid_omega("Ω is not symmetric".into()));
    }
    Ok(omega
        .clone()
        .cholesky()
        .ok_or_else(|| invalid_omega("Ω is not positive definite".into()))?
        .l())
}
impl<M: Model> PopulationModel<M> {
    /// A population with BSV on `names`, with covariance `omega` of `η` (on each parameter's
    /// estimation scale: variance of `ln x` for positive parameters). `omega` must be
    /// symmetric and positive definite.
    ///
    /// # Errors
    /// [`Error::InvalidOmega`] when Ω is not a symmetric positive definite `k × k` matrix;
    /// [`Error::UnknownParameter`] or [`Error::DuplicateEstimate`] for the names;
    /// [`Error::NotEstimable`] for a parameter without an estimation scale;
    /// [`Error::ParameterOutOfDomain`] for a typical value on its domain's boundary.
    ///
    /// ```
    /// use cart_pkpd::models::{CarTBCell, CarTBCellParams};
    /// use cart_pkpd::population::PopulationModel;
    /// use nalgebra::DMatrix;
    /// let omega = DMatrix::from_row_slice(2, 2, &[0.09, 0.03, 0.03, 0.16]);
    /// let pop = PopulationModel::<CarTBCell>::new(CarTBCellParams::default(), &["rho", "kmax"], omega)?;
    /// assert_eq!(pop.names(), ["rho", "kmax"]);
    /// # Ok::<(), cart_pkpd::Error>(())
    /// ```
    pub fn new(typical: M::Params, names: &[&str], omega: DMatrix<f64>) -> Result<Self> {
        let k = names.len();
        let cholesky = omega_factor(&omega, k)?;
        let mut indices = Vec::with_capacity(k);
        let mut scales = Vec::with_capacity(k);
        for name in names {
            let i = M::Params::index_of(name)?;
            if indices.contains(&i) {
                return Err(Error::DuplicateEstimate {
                    name: (*name).to_owned(),
                });
            }
            let scale = Scale::for_domain(name, M::Params::specs()[i].domain)?;
            scale.to_estimation(name, typical.values()[i])?;
            indices.push(i);
            scales.push(scale);
        }
        Ok(PopulationModel {
            typical,
            names: names.iter().map(|s| s.to_string()).collect(),
            indices,
            scales,
            omega,
            cholesky,
        })
    }

    /// A population with independent BSV given as variances `ω²` per parameter.
    ///
    /// # Errors
    /// As [`PopulationModel::new`]; a variance must be finite and > 0.
    pub fn diagonal(typical: M::Params, variances: &[(&str, f64)]) -> Result<Self> {
        let names: Vec<&str> = variances.iter().map(|v| v.0).collect();
        let omega = DMatrix::from_diagonal(&nalgebra::DVector::from_iterator(
            variances.len(),
            variances.iter().map(|v| v.1),
        ));
        Self::new(typical, &names, omega)
    }

    /// Standard two-stage (STS) estimate from individual fits: the typical value is the
    /// back-transformed mean of each parameter's estimation-scale estimates, `Ω` their
    /// sample covariance (which includes estimation error, so it overstates the true BSV);
    /// parameters without BSV keep their values in `base`. Needs more fits than names.
    ///
    /// # Errors
    /// [`Error::InvalidOmega`] with no more fits than names (the sample covariance would be
    /// singular); the errors of [`PopulationModel::new`].
    pub fn standard_two_stage(
        base: M::Params,
        fits: &[&FitResult],
        names: &[&str],
    ) -> Result<Self> {
        let k = names.len();
        if fits.len() <= k {
            return Err(invalid_omega(format!(
                "the two-stage estimate of a {k}×{k} Ω needs more than {k} fits, got {}",
                fits.len()
            )));
        }
        let mut u = DMatrix::zeros(fits.len(), k);
        for (r, fit) in fits.iter().enumerate() {
            for (c, name) in names.iter().enumerate() {
                let e = fit.estimate(name).ok_or_else(|| Error::UnknownParameter {
                    name: (*name).to_owned(),
                    known: fit
                        .estimates
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
                u[(r, c)] = e.scale.to_estimation(name, e.value)?;
            }
        }
        let n = fits.len() as f64;
        let mean = u.row_mean();
        let centred = DMatrix::from_fn(u.nrows(), k, |r, c| u[(r, c)] - mean[c]);
        let omega = centred.transpose() * &centred / (n - 1.0);
        let mut typical = base;
        for (c, name) in names.iter().enumerate() {
            let i = M::Params::index_of(name)?;
            let scale = Scale::for_domain(name, M::Params::specs()[i].domain)?;
            typical = typical.with(name, scale.to_natural(mean[c]))?;
        }
        Self::new(typical, names, omega)
    }

    /// Typical values.
    pub fn typical(&self) -> &M::Params {
        &self.typical
    }

    /// Parameters with BSV, in `Ω` order.
    pub fn names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }

    /// Covariance of `η`.
    pub fn omega(&self) -> &DMatrix<f64> {
        &self.omega
    }

    /// Individual parameters for a given `η` (with typical values multiplied by `effects`
    /// first, `(name, factor)`), validated.
    ///
    /// # Errors
    /// [`Error::UnknownParameter`] for an effect on an unknown parameter;
    /// [`Error::ParameterOutOfDomain`] when the individual values break a parameter's
    /// domain or relation.
    pub fn individual(&self, eta: &[f64], effects: &[(String, f64)]) -> Result<M::Params> {
        let mut values = self.typical.values();
        for (name, factor) in effects {
            values[M::Params::index_of(name)?] *= factor;
        }
        for (j, &i) in self.indices.iter().enumerate() {
            let u = self.scales[j].to_estimation(&self.names[j], values[i])?;
            values[i] = self.scales[j].to_natural(u + eta[j]);
        }
        M::Params::from_values(&values)
    }

    /// Draws `η ~ N(0, Ω)`.
    pub fn sample_eta<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        crate::sampling::correlated_normal(&self.cholesky, rng)
    }

    /// Draws individual parameters; a draw that violates a relation between parameters is
    /// rejected and drawn again (returns the parameters, their `η` and the rejections).
    fn sample_individual<R: Rng + ?Sized>(
        &self,
        effects: &[(String, f64)],
        rng: &mut R,
    ) -> Result<(M::Params, Vec<f64>, usize)> {
        let mut last_error = None;
        for rejected in 0..MAX_REJECTIONS {
            let eta = self.sample_eta(rng);
            match self.individual(&eta, effects) {
                Ok(p) => return Ok((p, eta, rejected)),
                Err(e @ Error::ParameterOutOfDomain { .. }) => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.expect("at least one draw"))
    }
}

/// A group of virtual subjects: a label (e.g. a dose level), their doses, how many, and
/// covariate effects on typical values as `(parameter, factor)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Group {
    /// Label, e.g. `"DL1"`.
    pub label: String,
    /// Doses every subject of the group receives.
    pub doses: Vec<Dose>,
    /// Number of subjects.
    pub n: usize,
    /// Multiplicative effects on typical values for this group.
    pub effects: Vec<(String, f64)>,
}

impl Group {
    /// A group with one CAR-T infusion of `dose` (10^6 CAR+ T cells) at day 0.
    pub fn infusion(label: &str, dose: f64, n: usize) -> Self {
        Group {
            label: label.to_owned(),
            doses: vec![Dose::bolus(0.0, dose)],
            n,
            effects: Vec::new(),
        }
    }

    /// The same group with a typical value multiplied by `factor` (a categorical covariate).
    pub fn with_effect(mut self, parameter: &str, factor: f64) -> Self {
        self.effects.push((parameter.to_owned(), factor));
        self
    }
}

/// One virtual subject.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VirtualSubject {
    /// Index of its group.
    pub group: usize,
    /// Its random effects.
    pub eta: Vec<f64>,
    /// All its model parameters, in the model's order.
    pub params: Vec<f64>,
    /// Its simulated outputs.
    pub simulation: Simulation,
}

/// A simulated virtual cohort.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VirtualCohort {
    /// The groups, in input order.
    pub groups: Vec<Group>,
    /// The subjects, group by group.
    pub subjects: Vec<VirtualSubject>,
    /// Draws rejected because they violated a relation between parameters.
    pub rejected_draws: usize,
}

impl VirtualCohort {
    /// The simulations of one group's subjects.
    pub fn simulations(&self, group: usize) -> Vec<Simulation> {
        self.subjects
            .iter()
            .filter(|s| s.group == group)
            .map(|s| s.simulation.clone())
            .collect()
    }
}

/// Simulates every group's subjects at `times` from the population, seeded.
///
/// ```
/// use cart_pkpd::models::{CarTBCell, CarTBCellParams};
/// use cart_pkpd::population::{simulate_cohort, Group, PopulationModel};
/// use cart_pkpd::SolverOptions;
/// let pop = PopulationModel::<CarTBCell>::diagonal(CarTBCellParams::default(),
///                                                   &[("rho", 0.01), ("kmax", 0.09)])?;
/// let groups = [Group::infusion("DL1", 10.0, 50), Group::infusion("DL2", 25.0, 50)];
/// let cohort = simulate_cohort(&CarTBCell, &pop, &groups, &[7.0, 28.0], &SolverOptions::default(), 7)?;
/// assert_eq!(cohort.subjects.len(), 100);
/// assert_eq!(cohort.simulations(1).len(), 50);
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
pub fn simulate_cohort<M: Model>(
    model: &M,
    population: &PopulationModel<M>,
    groups: &[Group],
    times: &[f64],
    opts: &SolverOptions,
    seed: u64,
) -> Result<VirtualCohort> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draws = Vec::new();
    let mut rejected_draws = 0;
    for (g, group) in groups.iter().enumerate() {
        for _ in 0..group.n {
            let (params, eta, rejected) = population.sample_individual(&group.effects, &mut rng)?;
            rejected_draws += rejected;
            draws.push((g, params, eta));
        }
    }
    let subjects = draws
        .into_par_iter()
        .map(|(g, params, eta)| {
            let simulation = simulate(model, &params, &groups[g].doses, times, opts)?;
            Ok(VirtualSubject {
                group: g,
                eta,
                params: params.values(),
                simulation,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(VirtualCohort {
        groups: groups.to_vec(),
        subjects,
        rejected_draws,
    })
}
