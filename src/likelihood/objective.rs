//! The objective of an individual fit: −2 log-likelihood of one subject's data.
//!
//! [`Objective`] is an argmin problem (its `CostFunction` and `Gradient` are in `problem.rs`)
//! on the estimation-scale vector `θ` (model parameters first, then residual-error
//! parameters, in the order of [`Objective::slots`]), so any argmin solver can minimise it.
//! Points where the model cannot be evaluated (a relation between parameters violated, the
//! ODE solver failing) cost `+∞`, which Nelder–Mead treats as "worse than anything".

use super::{Censoring, FitSpec};
use crate::data::Subject;
use crate::error::{Error, Result};
use crate::error_model::ErrorModel;
use crate::model::Model;
use crate::optim::Scale;
use crate::params::Parameters;
use crate::simulate::plan::{Outputs, Plan};
use crate::simulate::{SolverOptions, run_plan, run_plan_until};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::normal::LN_2PI;

/// What an estimated parameter is.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Target {
    /// A model parameter, by index in the model's parameter vector.
    Model(usize),
    /// A residual-error parameter: which analyte's error model, which of its parameters.
    Residual {
        /// Index of the residual error model (order of [`FitSpec::residuals`]).
        error: usize,
        /// Index of the parameter within that error model.
        param: usize,
    },
}

/// One estimated parameter: name, unit, what it is and its estimation scale.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Slot {
    /// Name: the model parameter's name, or `analyte.sd` / `analyte.cv` for error parameters.
    pub name: String,
    /// Unit on the natural scale.
    pub unit: String,
    /// What the parameter is.
    pub target: Target,
    /// Scale it is estimated on.
    pub scale: Scale,
}

/// One observation as the objective uses it (the `k`-th has output slot `k`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Obs {
    /// Time (model time unit).
    pub time: f64,
    /// Position among the subject's observations ([`Subject::observations`]).
    pub observation: usize,
    /// Index of the model output observed.
    pub output: usize,
    /// Index of the residual error model (and of its analyte).
    pub error: usize,
    /// Observed value (the LLOQ when censored).
    pub value: f64,
    /// Lower limit of quantification, if any.
    pub lloq: Option<f64>,
    /// Below the LLOQ (M3).
    pub censored: bool,
}

/// What one observation contributes at given parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ObservationTerm {
    /// Model prediction (analyte unit).
    pub prediction: f64,
    /// `−2 ln L` of the observation.
    pub minus_two_ll: f64,
}

impl Obs {
    /// `−2 ln L` of this observation given the prediction `pred`: the density for a
    /// quantified value, `P(y < LLOQ)` for a censored one.
    pub(crate) fn term(&self, errors: &[ErrorModel], pred: f64) -> f64 {
        let m = &errors[self.error];
        match (self.censored, self.lloq) {
            (true, Some(lloq)) => m.minus_two_ll_censored(lloq, pred),
            _ => m.minus_two_ll(self.value, pred),
        }
    }

    /// The slope of [`term`](Obs::term) in the prediction on the error model's scale `q`,
    /// where it is constant-variance there (a quantified observation with an additive or
    /// log-additive error): `−2(y − q)/sd²`, `y` the observation on that scale. `None`
    /// otherwise (a censored observation, an SD that moves with the prediction).
    pub(crate) fn constant_variance_slope(&self, errors: &[ErrorModel], q: f64) -> Option<f64> {
        let m = &errors[self.error];
        match (*m, self.censored && self.lloq.is_some()) {
            (ErrorModel::Additive { sd } | ErrorModel::LogAdditive { sd }, false) => {
                Some(-2.0 * (m.transform(self.value) - q) / (sd * sd))
            }
            _ => None,
        }
    }

    /// The least [`term`](Obs::term) at any prediction: 0 for a censored observation (a
    /// probability is at most 1), [`ErrorModel::minus_two_ll_floor`] otherwise.
    fn floor(&self, errors: &[ErrorModel]) -> f64 {
        match (self.censored, self.lloq) {
            (true, Some(_)) => 0.0,
            _ => errors[self.error].minus_two_ll_floor(self.value),
        }
    }
}

/// −2 log-likelihood of one subject's observations under a model and residual error models.
pub struct Objective<'a, M: Model> {
    pub(super) model: &'a M,
    pub(super) subject: String,
    /// The subject's timeline, with an output slot per observation in the likelihood.
    pub(super) plan: Plan,
    /// Next value carried backward between records (else last value carried forward).
    pub(super) nocb: bool,
    pub(super) obs: Vec<Obs>,
    base: Vec<f64>,
    errors: Vec<(String, ErrorModel)>,
    pub(super) slots: Vec<Slot>,
    pub(super) solver: SolverOptions,
    pub(super) evaluations: AtomicU64,
    /// Whether the subject turned out to be solved exactly (no sensitivities to integrate),
    /// once known.
    pub(super) exact: std::sync::OnceLock<bool>,
}

fn error_param_unit(model: &ErrorModel, param: &str, analyte_unit: &str) -> String {
    match (model, param) {
        (ErrorModel::LogAdditive { .. }, _) => "ln units".into(),
        (_, "sd") => analyte_unit.to_owned(),
        _ => "fraction".into(),
    }
}

/// The observations a likelihood uses.
struct Selected {
    /// In data order.
    obs: Vec<Obs>,
    /// Per observation of the subject: whether it is in `obs`.
    included: Vec<bool>,
}

/// The observations in the likelihood, in data order, and which of the subject's
/// observations they are: all but `MDV = 1`, ignored analytes and (with
/// [`Censoring::Drop`]) censored values.
///
/// # Errors
/// [`Error::UnknownAnalyte`], [`Error::MissingErrorModel`], or a data error for a value
/// `≤ 0` under a log-scale error model.
fn likelihood_observations<M: Model>(
    model: &M,
    subject: &Subject,
    spec: &FitSpec<M>,
    errors: &[(String, ErrorModel)],
    censoring: Censoring,
) -> Result<Selected> {
    let id = subject.id();
    let outputs = model.outputs();
    let mut obs = Vec::new();
    let mut included = vec![false; subject.observations().len()];
    for (k, o) in subject.observations().iter().enumerate() {
        if o.mdv || spec.ignored.contains(&o.analyte) {
            continue;
        }
        let output = model
            .output_index(&o.analyte)
            .map_err(|_| Error::UnknownAnalyte {
                name: o.analyte.clone(),
                subject: Some(id.to_owned()),
                known: outputs
                    .iter()
                    .map(|x| x.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let error = errors
            .iter()
            .position(|(a, _)| a == &o.analyte)
            .ok_or_else(|| Error::MissingErrorModel {
                analyte: o.analyte.clone(),
            })?;
        if o.censored && censoring == Censoring::Drop {
            continue;
        }
        if !o.censored && errors[error].1.is_log_scale() && o.value <= 0.0 {
            return Err(Error::data(
                Some(id),
                Some("DV"),
                crate::error::DataErrorKind::NonPositiveForLogScale(o.value),
            ));
        }
        included[k] = true;
        obs.push(Obs {
            time: o.time,
            observation: k,
            output,
            error,
            value: o.value,
            lloq: o.lloq,
            censored: o.censored,
        });
    }
    Ok(Selected { obs, included })
}

/// The estimated parameters in `θ` order (model parameters, then residual-error
/// parameters) and the residual error models by analyte.
#[allow(clippy::type_complexity)]
fn estimated_slots<M: Model>(
    model: &M,
    spec: &FitSpec<M>,
) -> Result<(Vec<Slot>, Vec<(String, ErrorModel)>)> {
    let outputs = model.outputs();
    let mut errors = Vec::new();
    let mut slots = Vec::new();
    for name in &spec.estimate {
        let index = M::Params::index_of(name)?;
        if slots.iter().any(|s: &Slot| &s.name == name) {
            return Err(Error::DuplicateEstimate { name: name.clone() });
        }
        let p = M::Params::specs()[index];
        slots.push(Slot {
            name: name.clone(),
            unit: p.unit.to_owned(),
            target: Target::Model(index),
            scale: Scale::for_domain(name, p.domain)?,
        });
    }
    for (e, r) in spec.residuals.iter().enumerate() {
        let output = model.output_index(&r.analyte)?;
        r.model.validate()?;
        if errors.iter().any(|(a, _)| a == &r.analyte) {
            return Err(Error::DuplicateEstimate {
                name: format!("residual error of `{}`", r.analyte),
            });
        }
        errors.push((r.analyte.clone(), r.model));
        if r.estimate {
            for (k, pname) in r.model.param_names().iter().enumerate() {
                slots.push(Slot {
                    name: format!("{}.{pname}", r.analyte),
                    unit: error_param_unit(&r.model, pname, outputs[output].unit),
                    target: Target::Residual { error: e, param: k },
                    scale: Scale::Log,
                });
            }
        }
    }
    Ok((slots, errors))
}

impl<'a, M: Model> Objective<'a, M> {
    /// Prepares the objective for `subject`: checks the specification against the model and
    /// the data and decides where each observation goes.
    ///
    /// # Errors
    /// [`Error::UnknownParameter`], [`Error::NotEstimable`],
    /// [`Error::DuplicateEstimate`], [`Error::ParameterOutOfDomain`] (an initial value on its
    /// domain's boundary), [`Error::UnknownAnalyte`], [`Error::MissingErrorModel`],
    /// [`Error::NoObservations`], [`Error::AllCensored`], [`Error::InvalidDose`].
    pub fn new(
        model: &'a M,
        subject: &Subject,
        spec: &FitSpec<M>,
        censoring: Censoring,
        solver: SolverOptions,
    ) -> Result<Self> {
        let id = subject.id();
        let (slots, errors) = estimated_slots(model, spec)?;

        let Selected { obs, included } =
            likelihood_observations(model, subject, spec, &errors, censoring)?;
        for (analyte, _) in &errors {
            if !subject
                .observations()
                .iter()
                .any(|o| &o.analyte == analyte && !o.mdv)
            {
                return Err(Error::NoObservations {
                    subject: id.to_owned(),
                    analyte: analyte.clone(),
                });
            }
        }
        if obs.iter().all(|o| o.censored) {
            return Err(Error::AllCensored {
                subject: id.to_owned(),
            });
        }
        let objective = Objective {
            model,
            subject: id.to_owned(),
            plan: Plan::from_subject(subject, Outputs::Observations, |k| included[k]),
            nocb: false,
            obs,
            base: spec.initial.values(),
            errors,
            slots,
            solver,
            evaluations: AtomicU64::new(0),
            exact: std::sync::OnceLock::new(),
        };
        // fail now, not inside the optimiser, if the doses do not fit the model
        objective.predict(std::slice::from_ref(&spec.initial))?;
        Ok(objective)
    }

    /// The estimated parameters, in `θ` order.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The subject's identifier.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Number of observations that enter the likelihood (quantified + censored).
    pub fn n_observations(&self) -> usize {
        self.obs.len()
    }

    /// Number of censored observations that enter the likelihood.
    pub fn n_censored(&self) -> usize {
        self.obs.iter().filter(|o| o.censored).count()
    }

    /// Number of cost-function evaluations so far.
    pub fn evaluations(&self) -> u64 {
        self.evaluations.load(Ordering::Relaxed)
    }

    /// A copy that counts its own evaluations from zero (one per start of a parallel
    /// search); [`add_evaluations`](Self::add_evaluations) adds them back.
    pub(crate) fn recounted(&self) -> Self {
        Objective {
            model: self.model,
            subject: self.subject.clone(),
            plan: self.plan.clone(),
            nocb: self.nocb,
            obs: self.obs.clone(),
            base: self.base.clone(),
            errors: self.errors.clone(),
            slots: self.slots.clone(),
            solver: self.solver,
            evaluations: AtomicU64::new(0),
            exact: self.exact.clone(),
        }
    }

    /// Adds `n` evaluations (made by a [`recounted`](Self::recounted) copy) to the count.
    pub(crate) fn add_evaluations(&self, n: u64) {
        self.evaluations.fetch_add(n, Ordering::Relaxed);
    }

    /// Residual error models at the initial (or fixed) values, by analyte.
    pub fn residual_models(&self) -> &[(String, ErrorModel)] {
        &self.errors
    }

    /// `θ` at the initial values of the specification.
    ///
    /// # Errors
    /// [`Error::ParameterOutOfDomain`] for an initial value on its domain's boundary (say a
    /// fraction of exactly 1).
    pub fn initial_theta(&self) -> Result<Vec<f64>> {
        self.slots
            .iter()
            .map(|s| {
                let x = match s.target {
                    Target::Model(i) => self.base[i],
                    Target::Residual { error, param } => self.errors[error].1.values()[param],
                };
                s.scale.to_estimation(&s.name, x)
            })
            .collect()
    }

    /// Model parameters and error models at `θ` (validated).
    pub fn unpack(&self, theta: &[f64]) -> Result<(M::Params, Vec<ErrorModel>)> {
        if theta.len() != self.slots.len() {
            return Err(Error::ParameterCount {
                expected: self.slots.len(),
                got: theta.len(),
            });
        }
        let mut values = self.base.clone();
        let mut err_values: Vec<Vec<f64>> = self.errors.iter().map(|(_, m)| m.values()).collect();
        for (s, &u) in self.slots.iter().zip(theta) {
            let x = s.scale.to_natural(u);
            match s.target {
                Target::Model(i) => values[i] = x,
                Target::Residual { error, param } => err_values[error][param] = x,
            }
        }
        let params = M::Params::from_values(&values)?;
        let errors = self
            .errors
            .iter()
            .zip(&err_values)
            .map(|((_, m), v)| m.with_values(v))
            .collect::<Result<Vec<_>>>()?;
        Ok((params, errors))
    }

    /// Parameter sets by record: record `k` of the subject uses `pieces[piece_of_record[k]]`
    /// in [`predict`](Objective::predict) (time-varying covariates), with covariate changes
    /// applied between records as `interpolation` says.
    pub(crate) fn set_pieces(
        &mut self,
        piece_of_record: &[usize],
        interpolation: crate::data::CovariateInterpolation,
    ) {
        self.plan.set_pieces(piece_of_record);
        self.nocb = interpolation == crate::data::CovariateInterpolation::Nocb;
    }

    /// Number of parameter sets [`predict`](Objective::predict) needs (1 unless covariates
    /// change within the subject).
    pub fn n_pieces(&self) -> usize {
        self.plan.n_pieces()
    }

    /// Model predictions of the observations in the likelihood, in order, with one
    /// parameter set per piece (one, unless covariates change within the subject).
    ///
    /// # Errors
    /// Whatever the simulation reports ([`crate::simulate()`]), with the subject named.
    pub fn predict(&self, pieces: &[M::Params]) -> Result<Vec<f64>> {
        let mut flat = self.solve(pieces)?;
        // each observation's prediction moved to its place: the k-th is read from at or
        // after index k, and only places before k have been written
        let n_out = self.model.outputs().len();
        for (k, o) in self.obs.iter().enumerate() {
            flat[k] = flat[k * n_out + o.output];
        }
        flat.truncate(self.obs.len());
        Ok(flat)
    }

    /// Every output at every observation's slot.
    fn solve(&self, pieces: &[M::Params]) -> Result<Vec<f64>> {
        let (flat, _) = run_plan(self.model, pieces, &self.plan, &self.solver, self.nocb)
            .map_err(|e| e.in_subject(&self.subject))?;
        Ok(flat)
    }

    /// The observations' predictions from every output at every slot.
    fn predictions<'f>(&'f self, flat: &'f [f64]) -> impl Iterator<Item = f64> + 'f {
        let n_out = self.model.outputs().len();
        (self.obs.iter().enumerate()).map(move |(k, o)| flat[k * n_out + o.output])
    }

    /// Per-observation prediction and −2 ln L from every output at every slot.
    fn terms(&self, flat: &[f64], errors: &[ErrorModel]) -> Vec<ObservationTerm> {
        (self.obs.iter().zip(self.predictions(flat)))
            .map(|(o, prediction)| ObservationTerm {
                prediction,
                minus_two_ll: o.term(errors, prediction),
            })
            .collect()
    }

    /// Per-observation prediction and −2 ln L at given parameters (one set per piece).
    pub(crate) fn contributions(
        &self,
        pieces: &[M::Params],
        errors: &[ErrorModel],
    ) -> Result<Vec<ObservationTerm>> {
        let flat = self.solve(pieces)?;
        Ok(self.terms(&flat, errors))
    }

    /// As [`contributions`](Objective::contributions), or `None` once the observations
    /// solved so far show that −2LL is above `limit`: their terms plus the least terms the
    /// others can have ([`Obs::floor`]) exceed it (by more than rounding). A
    /// Metropolis–Hastings step that must reject such a proposal is spared the rest of the
    /// solution. With an unbounded floor (a proportional error on an observation of 0) or
    /// an infinite `limit`, the whole solution is taken.
    pub(crate) fn contributions_below(
        &self,
        pieces: &[M::Params],
        errors: &[ErrorModel],
        limit: f64,
    ) -> Result<Option<Vec<ObservationTerm>>> {
        let floors: Vec<f64> = self.obs.iter().map(|o| o.floor(errors)).collect();
        let mut unseen: f64 = floors.iter().sum();
        if !(unseen.is_finite() && limit.is_finite()) {
            return self.contributions(pieces, errors).map(Some);
        }
        let margin = 1e-9 * (1.0 + limit.abs());
        let mut seen = 0.0;
        let mut stop = |slot: usize, y: &[f64]| {
            let o = &self.obs[slot];
            let term = o.term(errors, y[o.output]);
            seen += term;
            unseen -= floors[slot];
            !term.is_finite() || seen + unseen > limit + margin
        };
        let run = run_plan_until(
            self.model,
            pieces,
            &self.plan,
            &self.solver,
            self.nocb,
            &mut stop,
        )
        .map_err(|e| e.in_subject(&self.subject))?;
        Ok(run.map(|(flat, _)| self.terms(&flat, errors)))
    }

    /// −2 log-likelihood at given model parameters and residual error models (one per
    /// residual specification, in order), including the `ln 2π` constants.
    pub fn minus_two_ll_at(&self, params: &M::Params, errors: &[ErrorModel]) -> Result<f64> {
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        Ok(self
            .contributions(std::slice::from_ref(params), errors)?
            .iter()
            .map(|c| c.minus_two_ll)
            .sum())
    }

    /// −2 log-likelihood at `θ` (estimation scale).
    ///
    /// # Errors
    /// As [`unpack`](Objective::unpack) and
    /// [`minus_two_ll_at`](Objective::minus_two_ll_at).
    pub fn minus_two_ll(&self, theta: &[f64]) -> Result<f64> {
        let (params, errors) = self.unpack(theta)?;
        self.minus_two_ll_at(&params, &errors)
    }

    /// The NONMEM objective-function value from −2 log-likelihood: the `ln 2π` of each
    /// quantified observation removed.
    pub fn ofv_from_minus_two_ll(&self, m2ll: f64) -> f64 {
        m2ll - (self.obs.len() - self.n_censored()) as f64 * LN_2PI
    }

    /// `+∞` where the model cannot be evaluated, else −2LL.
    pub(crate) fn cost_or_infinity(&self, theta: &[f64]) -> f64 {
        match self.minus_two_ll(theta) {
            Ok(v) if !v.is_nan() => v,
            _ => f64::INFINITY,
        }
    }

    /// The observations, in data order.
    pub(crate) fn observations(&self) -> &[Obs] {
        &self.obs
    }

    /// The analyte of an observation.
    pub(crate) fn analyte(&self, o: &Obs) -> &str {
        &self.errors[o.error].0
    }
}
