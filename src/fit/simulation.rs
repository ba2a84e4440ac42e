//! Simulation from an individual fit: replicates of the subject's own records (doses,
//! sampling times, LLOQs) at the estimates, with residual error drawn from the fitted error
//! models and values below the LLOQ censored; optionally with the estimates' uncertainty,
//! each replicate drawing `θ ~ N(θ̂, Cov(θ̂))` on the estimation scale first.

use super::{FitResult, FitSpec};
use crate::data::Subject;
use crate::error::{Error, Result};
use crate::likelihood::{Censoring, Objective};
use crate::model::Model;
use crate::optim::covariance::factor_of_rows;
use crate::sampling::{around, stream};
use crate::simulate::SolverOptions;
use nalgebra::DMatrix;
use rand::Rng;

/// Settings of a simulation from an individual fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitSimulation {
    /// Number of replicates.
    pub replicates: u64,
    /// Seed: replicate `r` draws from ChaCha8 with this seed on stream `r`.
    pub seed: u64,
    /// Draw the estimates from their covariance for every replicate.
    pub parameter_uncertainty: bool,
    /// ODE solver settings (unused for models with an exact solution).
    pub solver: SolverOptions,
}

impl Default for FitSimulation {
    fn default() -> Self {
        FitSimulation {
            replicates: 100,
            seed: 1,
            parameter_uncertainty: false,
            solver: SolverOptions::default(),
        }
    }
}

/// Replicates of `subject`'s data simulated from `fit`, the result of
/// [`fit_subject`](super::fit_subject) for `model`, `subject` and `spec`.
///
/// # Errors
/// The errors of [`Objective::new`] for `spec` and `subject`; [`Error::InvalidDesign`] when
/// `fit` does not match `spec` (other estimated parameters) or parameter uncertainty is
/// asked for without a covariance; simulation errors.
///
/// ```
/// use cart_pkpd::fit::{fit_subject, simulate_from_fit, FitOptions, FitSimulation, FitSpec};
/// use cart_pkpd::models::{CellularKinetics, CellularKineticsParams};
/// use cart_pkpd::{ErrorModel, Parameters, Subject};
/// let truth = CellularKineticsParams::stein_2019();
/// let mut b = Subject::builder("P01").dose(0.0, 10.0);
/// for (t, w) in [(4.0, 1.1), (7.0, 0.9), (14.0, 1.05), (28.0, 0.95), (90.0, 1.1)] {
///     b = b.observe(t, "transgene", truth.transgene(t) * w);
/// }
/// let subject = b.build()?;
/// let spec = FitSpec::new(truth.clone())
///     .estimate(&["cmax"])
///     .residual("transgene", ErrorModel::LogAdditive { sd: 0.1 });
/// let fit = fit_subject(&CellularKinetics, &subject, &spec, &FitOptions::default())?;
/// let copies = simulate_from_fit(&CellularKinetics, &subject, &spec, &fit, &FitSimulation::default())?;
/// assert_eq!(copies.len(), 100);
/// assert_eq!(copies[0].observations().len(), 5);
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
pub fn simulate_from_fit<M: Model>(
    model: &M,
    subject: &Subject,
    spec: &FitSpec<M>,
    fit: &FitResult,
    opts: &FitSimulation,
) -> Result<Vec<Subject>> {
    let objective = Objective::new(model, subject, spec, Censoring::M3, opts.solver)?;
    let slots = objective.slots();
    let matches = slots.len() == fit.estimates.len()
        && slots
            .iter()
            .zip(&fit.estimates)
            .all(|(s, e)| s.name == e.name);
    if !matches {
        return Err(Error::InvalidDesign {
            reason: "the fit's estimates are not the specification's; simulate with the \
                     specification that was fitted"
                .into(),
        });
    }
    let theta: Vec<f64> = slots
        .iter()
        .zip(&fit.estimates)
        .map(|(s, e)| s.scale.to_estimation(&e.name, e.value))
        .collect::<Result<_>>()?;
    let factor = if opts.parameter_uncertainty {
        Some(covariance_factor(fit)?)
    } else {
        None
    };
    (0..opts.replicates)
        .map(|r| {
            let mut rng = stream(opts.seed, r);
            let draw = match &factor {
                None => theta.clone(),
                Some(l) => around(&theta, l, &mut rng),
            };
            replicate(&objective, subject, &draw, &mut rng)
        })
        .collect()
}

/// The Cholesky factor of the estimates' covariance (estimation scale).
fn covariance_factor(fit: &FitResult) -> Result<DMatrix<f64>> {
    let rows = fit
        .covariance
        .as_ref()
        .ok_or_else(|| Error::InvalidDesign {
            reason: "the fit has no covariance of its estimates to draw parameter uncertainty from"
                .into(),
        })?;
    factor_of_rows(rows).ok_or_else(|| Error::InvalidDesign {
        reason: "the covariance of the estimates is not positive definite".into(),
    })
}

/// One replicate at `theta`: predictions, residual error, censoring at the LLOQ.
fn replicate<M: Model, R: Rng + ?Sized>(
    objective: &Objective<'_, M>,
    subject: &Subject,
    theta: &[f64],
    rng: &mut R,
) -> Result<Subject> {
    let (params, errors) = objective.unpack(theta)?;
    let predictions = objective.predict(std::slice::from_ref(&params))?;
    let mut observations = subject.observations().to_vec();
    for (o, prediction) in objective.observations().iter().zip(predictions) {
        let y = errors[o.error].sample(prediction, rng);
        let target = &mut observations[o.observation];
        let censored = target.lloq.is_some_and(|l| y < l);
        target.value = if censored {
            target.lloq.unwrap_or(y)
        } else {
            y
        };
        target.censored = censored;
    }
    subject.with_observations(observations)
}
