//! The individual-fit [`Objective`] as an argmin problem: `CostFunction` and `Gradient` on
//! the estimation-scale vector `θ`, for the objective and for a borrow of it.

use super::Objective;
use crate::model::Model;
use crate::optim::differences::{self, INDIVIDUAL_GRADIENT_STEP};

impl<M: Model> argmin::core::CostFunction for Objective<'_, M> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, theta: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.cost_or_infinity(theta))
    }
}

impl<M: Model> argmin::core::Gradient for Objective<'_, M> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    /// From the forward sensitivities of the predictions where the subject's model is
    /// solved as an ODE (see [`crate::simulate_sensitivities`]); otherwise central
    /// differences with step `10⁻⁴` on the estimation scale (one-sided where one side cannot
    /// be evaluated).
    fn gradient(&self, theta: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        if let Some(g) = self.sensitivity_gradient(theta) {
            return Ok(g);
        }
        differences::gradient(
            |u| self.cost_or_infinity(u),
            theta,
            INDIVIDUAL_GRADIENT_STEP,
        )
        .map_err(|e| {
            argmin::core::Error::msg(format!(
                "−2LL cannot be evaluated on either side of `{}`",
                self.slots[e.coordinate].name
            ))
        })
    }
}

/// So that an [`Executor`](argmin::core::Executor) can borrow the objective.
impl<M: Model> argmin::core::CostFunction for &Objective<'_, M> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, theta: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        (*self).cost(theta)
    }
}

impl<M: Model> argmin::core::Gradient for &Objective<'_, M> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, theta: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        (*self).gradient(theta)
    }
}
