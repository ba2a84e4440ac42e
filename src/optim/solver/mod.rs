//! Optimisers, one per file.
//!
//! - [`nelder_mead`]: restarted Nelder–Mead (argmin's), derivative-free;
//! - [`lbfgs`]: L-BFGS with the Moré–Thuente line search (argmin's);
//! - [`bfgs`]: BFGS with a capped backtracking line search, for objectives with
//!   finite-difference gradients (the outer FOCE-I problem), and its Nelder–Mead polish;
//! - [`marquardt`]: Levenberg–Marquardt damped Newton steps on a supplied Hessian (the EBE
//!   search, and individual fits on the Fisher-scoring matrix).

pub(crate) mod bfgs;
pub(crate) mod lbfgs;
pub(crate) mod marquardt;
pub(crate) mod nelder_mead;
