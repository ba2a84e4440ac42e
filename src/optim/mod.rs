//! The numerical toolbox that individual ([`fit`](crate::fit)) and population
//! ([`nlme`](crate::nlme)) estimation share; neither reaches into the other.
//!
//! - [`scale`]: the unconstrained scale each parameter is estimated on;
//! - [`differences`]: every finite-difference gradient, Hessian and Jacobian, with the
//!   step each uses and why;
//! - [`covariance`]: the covariance of the estimates from the Hessian of −2LL;
//! - [`estimate`]: an estimate with its SE and CI carried to the natural scale;
//! - [`limits`]: bounds on steps and tolerances, checked before a fit runs;
//! - [`status`]: the end-of-fit checks (boundary, unbounded, not identifiable);
//! - [`termination`]: how one optimisation run ended, as a type;
//! - [`multistart`]: seeded starts;
//! - [`map_in_order`]: a map over independent jobs, in parallel or not;
//! - [`solver`]: one optimiser per file, as argmin arranges its own (argmin's Nelder–Mead
//!   and L-BFGS driven with this crate's settings; BFGS and Levenberg–Marquardt solvers of
//!   this crate implementing argmin's `Solver`).

pub(crate) mod covariance;
pub(crate) mod differences;
pub(crate) mod estimate;
pub(crate) mod limits;
pub(crate) mod multistart;
pub(crate) mod scale;
pub(crate) mod solver;
pub(crate) mod status;
pub(crate) mod termination;

/// `f` over `items`, in parallel (rayon) where `parallel`, in order either way: each result
/// depends only on its item, so the results are the same on any number of threads.
pub(crate) fn map_in_order<T, R, F>(items: Vec<T>, parallel: bool, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync + Send,
{
    use rayon::prelude::*;
    if parallel {
        items.into_par_iter().map(f).collect()
    } else {
        items.into_iter().map(f).collect()
    }
}

pub use estimate::Estimate;
pub use scale::Scale;
pub use status::FitStatus;
pub use termination::Termination;
