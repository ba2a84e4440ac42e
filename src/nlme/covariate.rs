//! Covariate effects on typical values; the forms are listed on [`CovariateModel`].

use crate::data::CovariateValue;
use std::fmt;
use std::sync::Arc;

/// A user-supplied covariate relation: the factor `f(β, cov)` on the natural-scale typical
/// value, with the coefficient `β` estimated from `initial`.
///
/// ```
/// use cart_pkpd::nlme::CovariateFunction;
/// // allometry with an estimated exponent: (WT/70)^β, starting at 0.75
/// let allometry = CovariateFunction::new("allometry", 0.75, |b, wt| (wt / 70.0).powf(b));
/// assert_eq!(allometry.factor(0.75, 70.0), 1.0);
/// ```
#[derive(Clone)]
pub struct CovariateFunction {
    name: String,
    initial: f64,
    f: Arc<dyn Fn(f64, f64) -> f64 + Send + Sync>,
}

impl CovariateFunction {
    /// A named relation `f(β, cov)` and the initial value of its coefficient.
    pub fn new(
        name: &str,
        initial: f64,
        f: impl Fn(f64, f64) -> f64 + Send + Sync + 'static,
    ) -> Self {
        CovariateFunction {
            name: name.to_owned(),
            initial,
            f: Arc::new(f),
        }
    }

    /// `f(β, cov)`.
    pub fn factor(&self, beta: f64, cov: f64) -> f64 {
        (self.f)(beta, cov)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for CovariateFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CovariateFunction({:?}, initial {})",
            self.name, self.initial
        )
    }
}

impl PartialEq for CovariateFunction {
    /// Same name, same initial value and the same closure.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.initial == other.initial && Arc::ptr_eq(&self.f, &other.f)
    }
}

/// A covariate effect on a typical value.
///
/// With `θ` a parameter's typical value, `g` its estimation scale (log for positive
/// parameters) and `β` the effect's coefficient (estimated):
///
/// | form | typical value | for a log-scale parameter |
/// |---|---|---|
/// | [`Categorical`](CovariateModel::Categorical) | `g(g⁻¹(θ) + β·[cov = level])` | `θ·exp(β)` in the category |
/// | [`Power`](CovariateModel::Power) | `g(g⁻¹(θ) + β·ln(cov/ref))` | `θ·(cov/ref)^β` |
/// | [`Exponential`](CovariateModel::Exponential) | `g(g⁻¹(θ) + β·(cov − ref))` | `θ·exp(β·(cov − ref))` |
/// | [`Linear`](CovariateModel::Linear) | `θ·(1 + β·(cov − ref))` | the same |
/// | [`Function`](CovariateModel::Function) | `θ·f(β, cov)` | the same |
/// | [`Value`](CovariateModel::Value) | `cov` (no `β`) | the same |
///
/// The additive forms act on the estimation scale first, then the multiplicative ones on
/// the natural scale; the random effect is added last, on the estimation scale. A covariate
/// that changes within a subject gives the subject one parameter set per distinct value
/// (see [`CovariateInterpolation`](crate::data::CovariateInterpolation)).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum CovariateModel {
    /// `+β` on the estimation scale when the covariate equals `level` (a factor `exp β` on a
    /// log-scale parameter), e.g. dose level 2 against dose level 1, or `SEX = "F"`.
    Categorical {
        /// Parameter affected.
        parameter: String,
        /// Covariate name in the data.
        covariate: String,
        /// The level (a number or a category label) that gets the effect.
        level: CovariateValue,
    },
    /// `+β·ln(cov/reference)`, i.e. a factor `(cov/reference)^β` (e.g. weight on clearance);
    /// the covariate must be > 0.
    Power {
        /// Parameter affected.
        parameter: String,
        /// Covariate name in the data.
        covariate: String,
        /// Reference value of the covariate (> 0).
        reference: f64,
    },
    /// `+β·(cov − reference)`, i.e. a factor `exp(β·(cov − reference))`.
    Exponential {
        /// Parameter affected.
        parameter: String,
        /// Covariate name in the data.
        covariate: String,
        /// Reference value of the covariate.
        reference: f64,
    },
    /// A factor `1 + β·(cov − reference)` on the natural scale (must stay in the
    /// parameter's domain).
    Linear {
        /// Parameter affected.
        parameter: String,
        /// Covariate name in the data.
        covariate: String,
        /// Reference value of the covariate.
        reference: f64,
    },
    /// The parameter *is* the covariate's value (no coefficient): how a model reads a
    /// covariate, e.g. a body weight or a co-medication level that changes over time.
    Value {
        /// Parameter set to the covariate's value (any domain; it cannot also be estimated
        /// or have a random effect).
        parameter: String,
        /// Covariate name in the data.
        covariate: String,
    },
    /// A factor `f(β, cov)` on the natural scale, user-supplied (not serialisable).
    #[serde(skip)]
    Function {
        /// Parameter affected.
        parameter: String,
        /// Covariate name in the data.
        covariate: String,
        /// The relation.
        function: CovariateFunction,
    },
}

/// How one effect enters, given its coefficient and covariate term.
pub(crate) enum Shift {
    /// Added on the estimation scale.
    Additive(f64),
    /// Multiplies the natural-scale typical value.
    Factor(f64),
}

impl CovariateModel {
    /// The parameter the effect acts on.
    pub fn parameter(&self) -> &str {
        match self {
            CovariateModel::Categorical { parameter, .. }
            | CovariateModel::Power { parameter, .. }
            | CovariateModel::Exponential { parameter, .. }
            | CovariateModel::Linear { parameter, .. }
            | CovariateModel::Value { parameter, .. }
            | CovariateModel::Function { parameter, .. } => parameter,
        }
    }

    /// The covariate it reads.
    pub fn covariate(&self) -> &str {
        match self {
            CovariateModel::Categorical { covariate, .. }
            | CovariateModel::Power { covariate, .. }
            | CovariateModel::Exponential { covariate, .. }
            | CovariateModel::Linear { covariate, .. }
            | CovariateModel::Value { covariate, .. }
            | CovariateModel::Function { covariate, .. } => covariate,
        }
    }

    /// Whether the effect has a coefficient `β` to estimate (all but
    /// [`Value`](CovariateModel::Value)).
    pub fn has_coefficient(&self) -> bool {
        !matches!(self, CovariateModel::Value { .. })
    }

    /// The coefficient's initial value (0: no effect; a function's own start).
    pub fn initial_coefficient(&self) -> f64 {
        match self {
            CovariateModel::Function { function, .. } => function.initial,
            _ => 0.0,
        }
    }

    /// A short label for reports, e.g. `cl~(WT/70)^b`.
    pub fn describe(&self) -> String {
        let (p, c) = (self.parameter(), self.covariate());
        match self {
            CovariateModel::Categorical { level, .. } => format!("{p}~{c}=={level}"),
            CovariateModel::Power { reference, .. } => format!("{p}~({c}/{reference})^b"),
            CovariateModel::Exponential { reference, .. } => {
                format!("{p}~exp(b*({c}-{reference}))")
            }
            CovariateModel::Linear { reference, .. } => format!("{p}~(1+b*({c}-{reference}))"),
            CovariateModel::Value { .. } => format!("{p}={c}"),
            CovariateModel::Function { function, .. } => format!("{p}~{}({c})", function.name),
        }
    }

    /// The number the effect reads from a covariate value (an indicator for a category,
    /// `ln(cov/ref)` for a power), or why the value does not fit the form.
    pub(crate) fn term(&self, value: &CovariateValue) -> std::result::Result<f64, String> {
        if let CovariateModel::Categorical { level, .. } = self {
            return Ok(f64::from(u8::from(value == level)));
        }
        let Some(v) = value.as_number() else {
            return Err(format!(
                "the value `{value}` is a category, and this effect needs a number"
            ));
        };
        Ok(match self {
            CovariateModel::Power { reference, .. } => {
                if !(v > 0.0 && *reference > 0.0) {
                    return Err(format!(
                        "a power effect needs the covariate and its reference > 0, got {v} and {reference}"
                    ));
                }
                (v / reference).ln()
            }
            CovariateModel::Exponential { reference, .. }
            | CovariateModel::Linear { reference, .. } => v - reference,
            _ => v,
        })
    }

    /// The effect of coefficient `beta` at covariate term `z`.
    pub(crate) fn shift(&self, beta: f64, z: f64) -> Shift {
        match self {
            CovariateModel::Linear { .. } => Shift::Factor(1.0 + beta * z),
            CovariateModel::Function { function, .. } => Shift::Factor(function.factor(beta, z)),
            _ => Shift::Additive(beta * z),
        }
    }
}
