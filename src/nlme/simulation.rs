//! Simulation from a population fit: new data sets with the design of the fitted data
//! (each subject's doses, sampling times, covariates and LLOQs), individual parameters
//! drawn from the fitted population (typical values, covariate effects, full Ω) and
//! observations drawn from the fitted residual error models, censored at their LLOQ as
//! the assay would report them. The basis of visual predictive checks and NPDE.
//!
//! Reproducible: replicate `r` of seed `s` draws from ChaCha8 seeded with `s` on stream
//! `r`, subjects in data order, so every replicate is the same on any number of threads.

use super::params::Layout;
use super::{PopulationFit, PopulationSpec};
use crate::data::{Dataset, Subject};
use crate::error::{Error, Result};
use crate::error_model::ErrorModel;
use crate::likelihood::{Censoring, FitSpec, Objective};
use crate::model::Model;
use crate::optim::covariance::factor_of_rows;
use crate::params::Parameters;
use crate::population::omega_factor;
use crate::sampling::{around, correlated_normal, stream};
use crate::simulate::SolverOptions;
use nalgebra::DMatrix;
use rand::Rng;
use rayon::prelude::*;

/// A fitted population model that simulates new data from a data set's design.
///
/// ```
/// # use cart_pkpd::models::{CellularKinetics, CellularKineticsParams};
/// # use cart_pkpd::nlme::{fit_population, FittedModel, PopulationOptions, PopulationSpec};
/// # use cart_pkpd::{Dataset, ErrorModel, Parameters, SolverOptions, Subject};
/// # let truth = CellularKineticsParams::stein_2019();
/// # let subjects = (0..4).map(|i| {
/// #     let f = [0.7, 1.0, 1.4, 1.1][i];
/// #     let mut b = Subject::builder(format!("S{i}")).dose(0.0, 10.0);
/// #     for (t, w) in [(4.0, 1.1), (9.0, 0.9), (14.0, 1.05), (28.0, 0.95), (90.0, 1.1)] {
/// #         b = b.observe(t, "transgene", f * w * truth.transgene(t));
/// #     }
/// #     b.build().unwrap()
/// # }).collect();
/// # let data = Dataset::new(subjects)?;
/// let spec = PopulationSpec::new(truth.clone())
///     .estimate(&["cmax"])
///     .random_diagonal(&[("cmax", 0.1)])
///     .residual("transgene", ErrorModel::LogAdditive { sd: 0.1 });
/// let fit = fit_population(&CellularKinetics, &data, &spec, &PopulationOptions::default())?;
/// let fitted = FittedModel::new(&CellularKinetics, &spec, &fit, SolverOptions::default())?;
/// let replicates = fitted.simulate_replicates(&data, 3, 2026)?;
/// assert_eq!(replicates.len(), 3);
/// assert_eq!(replicates[0].subjects()[0].observations().len(), 5);
/// // the same seed gives the same data
/// assert_eq!(fitted.simulate_replicate(&data, 2026, 1)?, replicates[1]);
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
pub struct FittedModel<'m, M: Model> {
    model: &'m M,
    spec: FitSpec<M>,
    interpolation: crate::data::CovariateInterpolation,
    layout: Layout,
    /// The estimates.
    estimates: Population,
    /// With parameter uncertainty: the Cholesky factor of the estimates' covariance
    /// (estimation scale), from which each replicate draws its own population.
    uncertainty: Option<DMatrix<f64>>,
    /// The covariance of the estimates (rows), if the fit's covariance step gave one.
    covariance: Option<Vec<Vec<f64>>>,
    solver: SolverOptions,
}

/// The population parameters a replicate is simulated with: `φ`, the factor of Ω and the
/// residual error models it implies.
struct Population {
    phi: Vec<f64>,
    /// Lower Cholesky factor of Ω.
    omega_factor: DMatrix<f64>,
    /// Residual error models, in the specification's order.
    errors: Vec<ErrorModel>,
}

impl Population {
    fn at(layout: &Layout, phi: Vec<f64>) -> Result<Self> {
        let omega = layout.omega(&phi);
        Ok(Population {
            omega_factor: omega_factor(&omega, layout.random.len())?,
            errors: layout.residuals(&phi)?,
            phi,
        })
    }
}

impl<'m, M: Model> FittedModel<'m, M> {
    /// The model of `fit`, which [`fit_population`](super::fit_population) returned for
    /// `model` and `spec`, solved with `solver` when it has no exact solution.
    ///
    /// # Errors
    /// [`Error::InvalidDesign`] when `fit` does not come from `spec` (its parameter vector
    /// has another length, or it was deserialised without one); the errors of
    /// [`fit_population`](super::fit_population)'s specification checks.
    pub fn new(
        model: &'m M,
        spec: &PopulationSpec<M>,
        fit: &PopulationFit,
        solver: SolverOptions,
    ) -> Result<Self> {
        let layout = Layout::new(spec)?;
        if fit.phi.len() != layout.len() {
            return Err(Error::InvalidDesign {
                reason: format!(
                    "the fit has {} estimated values where the specification has {}; simulate \
                     with the specification that was fitted",
                    fit.phi.len(),
                    layout.len()
                ),
            });
        }
        Ok(FittedModel {
            model,
            spec: FitSpec {
                initial: spec.initial.clone(),
                estimate: Vec::new(),
                residuals: spec.residuals.clone(),
                ignored: spec.ignored.clone(),
            },
            interpolation: spec.interpolation,
            estimates: Population::at(&layout, fit.phi.clone())?,
            layout,
            uncertainty: None,
            covariance: fit.phi_covariance.clone(),
            solver,
        })
    }

    /// The same model, each replicate drawing its own θ, β, Ω and σ from the estimates'
    /// sampling distribution, `φ ~ N(φ̂, Cov(φ̂))` on the estimation scale (log variances
    /// and residual parameters, so every draw is valid), before drawing its subjects: the
    /// simulations then carry the uncertainty of the estimates as well as the variability
    /// between and within subjects.
    ///
    /// # Errors
    /// [`Error::InvalidDesign`] when the fit has no covariance (the covariance step was
    /// not run or failed).
    pub fn with_parameter_uncertainty(mut self) -> Result<Self> {
        let cov = self
            .covariance
            .as_ref()
            .ok_or_else(|| Error::InvalidDesign {
                reason: "the fit has no covariance of its estimates (run the covariance step) to \
                     draw parameter uncertainty from"
                    .into(),
            })?;
        let factor = factor_of_rows(cov).ok_or_else(|| Error::InvalidDesign {
            reason: "the covariance of the estimates is not positive definite".into(),
        })?;
        self.uncertainty = Some(factor);
        Ok(self)
    }

    /// The population of one replicate: the estimates, or a draw around them.
    fn population<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Option<Population>> {
        let Some(l) = &self.uncertainty else {
            return Ok(None);
        };
        let phi = around(&self.estimates.phi, l, rng);
        Population::at(&self.layout, phi).map(Some)
    }

    /// Number of random effects.
    pub fn n_random(&self) -> usize {
        self.layout.random.len()
    }

    /// The design of `data` prepared for simulation: every subject's timeline with an
    /// output per observation of an analyte with a residual model (`MDV = 0`), and its
    /// covariate terms.
    ///
    /// # Errors
    /// A subject without observations of a fitted analyte, a covariate it lacks, or doses
    /// the model does not take, with the subject named.
    pub fn design<'d>(&self, data: &'d Dataset) -> Result<Design<'d, 'm, M>> {
        let subjects = data
            .subjects()
            .iter()
            .map(|s| {
                let mut objective =
                    Objective::new(self.model, s, &self.spec, Censoring::M3, self.solver)?;
                let pieces = self.layout.covariate_pieces(s)?;
                objective.set_pieces(&pieces.piece_of_record, self.interpolation);
                Ok(DesignSubject {
                    subject: s,
                    objective,
                    terms: pieces.terms,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Design { subjects })
    }

    /// Model predictions of one prepared subject's observations at random effects `eta`
    /// (`0` gives the typical subject with its covariates: PRED), at the estimates, in
    /// data order.
    ///
    /// # Errors
    /// Parameters outside their domain, or whatever the simulation reports, with the
    /// subject named.
    pub fn predictions(
        &self,
        subject: &DesignSubject<'_, 'm, M>,
        eta: &[f64],
    ) -> Result<Vec<Predicted>> {
        self.predictions_in(&self.estimates, subject, eta)
    }

    fn predictions_in(
        &self,
        population: &Population,
        subject: &DesignSubject<'_, 'm, M>,
        eta: &[f64],
    ) -> Result<Vec<Predicted>> {
        let params = subject
            .terms
            .iter()
            .map(|terms| {
                M::Params::from_values(&self.layout.individual(&population.phi, terms, eta))
            })
            .collect::<Result<Vec<_>>>()
            .map_err(|e| e.in_subject(subject.subject.id()))?;
        let predictions = subject.objective.predict(&params)?;
        Ok(subject
            .objective
            .observations()
            .iter()
            .zip(predictions)
            .map(|(o, prediction)| Predicted {
                observation: o.observation,
                prediction,
                error: population.errors[o.error],
            })
            .collect())
    }

    /// One subject's observations in the likelihood drawn (η, then residual error) from
    /// `population`, not censored: the values and the positions of their observations.
    fn draw_values<R: Rng + ?Sized>(
        &self,
        population: &Population,
        subject: &DesignSubject<'_, 'm, M>,
        rng: &mut R,
    ) -> Result<Vec<Drawn>> {
        let eta = correlated_normal(&population.omega_factor, rng);
        Ok(self
            .predictions_in(population, subject, &eta)?
            .into_iter()
            .map(|p| Drawn {
                observation: p.observation,
                value: p.error.sample(p.prediction, rng),
            })
            .collect())
    }

    /// One subject simulated: its drawn values censored below their LLOQ; other records as
    /// they were.
    fn simulate_subject<R: Rng + ?Sized>(
        &self,
        population: &Population,
        subject: &DesignSubject<'_, 'm, M>,
        rng: &mut R,
    ) -> Result<Subject> {
        let mut observations = subject.subject.observations().to_vec();
        for d in self.draw_values(population, subject, rng)? {
            let o = &mut observations[d.observation];
            let censored = o.lloq.is_some_and(|l| d.value < l);
            o.value = if censored {
                o.lloq.unwrap_or(d.value)
            } else {
                d.value
            };
            o.censored = censored;
        }
        subject.subject.with_observations(observations)
    }

    /// Replicate `replicate` of a prepared design with `seed`, before censoring: per
    /// subject, the drawn value of each observation in the likelihood (the same draws as
    /// [`simulate_design`](FittedModel::simulate_design) censors).
    ///
    /// # Errors
    /// As [`predictions`](FittedModel::predictions).
    pub fn simulate_values(
        &self,
        design: &Design<'_, 'm, M>,
        seed: u64,
        replicate: u64,
    ) -> Result<Vec<Vec<Drawn>>> {
        let mut rng = stream(seed, replicate);
        let drawn = self.population(&mut rng)?;
        let population = drawn.as_ref().unwrap_or(&self.estimates);
        design
            .subjects
            .iter()
            .map(|s| self.draw_values(population, s, &mut rng))
            .collect()
    }

    /// Replicate `replicate` of a prepared design with `seed`.
    ///
    /// # Errors
    /// As [`predictions`](FittedModel::predictions), for the first subject that fails.
    pub fn simulate_design(
        &self,
        design: &Design<'_, 'm, M>,
        seed: u64,
        replicate: u64,
    ) -> Result<Dataset> {
        let mut rng = stream(seed, replicate);
        let drawn = self.population(&mut rng)?;
        let population = drawn.as_ref().unwrap_or(&self.estimates);
        let subjects = design
            .subjects
            .iter()
            .map(|s| self.simulate_subject(population, s, &mut rng))
            .collect::<Result<Vec<_>>>()?;
        Dataset::new(subjects)
    }

    /// Replicate `replicate` of `data`'s design with `seed`.
    ///
    /// # Errors
    /// As [`design`](FittedModel::design) and [`predictions`](FittedModel::predictions).
    pub fn simulate_replicate(&self, data: &Dataset, seed: u64, replicate: u64) -> Result<Dataset> {
        self.simulate_design(&self.design(data)?, seed, replicate)
    }

    /// Replicates `0..n` of `data`'s design with `seed`, in parallel (rayon); the same
    /// on any number of threads.
    ///
    /// # Errors
    /// As [`simulate_replicate`](FittedModel::simulate_replicate).
    pub fn simulate_replicates(&self, data: &Dataset, n: u64, seed: u64) -> Result<Vec<Dataset>> {
        let design = self.design(data)?;
        (0..n)
            .into_par_iter()
            .map(|r| self.simulate_design(&design, seed, r))
            .collect()
    }
}

/// A data set's design prepared for simulation ([`FittedModel::design`]).
pub struct Design<'d, 'm, M: Model> {
    subjects: Vec<DesignSubject<'d, 'm, M>>,
}

impl<'d, 'm, M: Model> Design<'d, 'm, M> {
    /// The prepared subjects, in data order.
    pub fn subjects(&self) -> &[DesignSubject<'d, 'm, M>] {
        &self.subjects
    }
}

/// One subject of a [`Design`].
pub struct DesignSubject<'d, 'm, M: Model> {
    subject: &'d Subject,
    objective: Objective<'m, M>,
    /// Covariate terms per parameter set.
    terms: Vec<Vec<f64>>,
}

impl<M: Model> DesignSubject<'_, '_, M> {
    /// The subject.
    pub fn subject(&self) -> &Subject {
        self.subject
    }
}

/// A simulated value of one observation, before censoring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drawn {
    /// Position among the subject's observations.
    pub observation: usize,
    /// The value (analyte unit).
    pub value: f64,
}

/// A model prediction of one observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Predicted {
    /// Position among the subject's observations.
    pub observation: usize,
    /// Prediction (analyte unit).
    pub prediction: f64,
    /// The observation's fitted residual error model.
    pub error: ErrorModel,
}
