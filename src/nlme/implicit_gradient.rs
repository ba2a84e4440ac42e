//! The gradient of the FOCE-I objective from every subject's linearisations around its EBE
//! (the implicit function theorem), without an EBE search at any moved point.
//!
//! A subject's contribution is `O(φ) = Õ(η̂(φ), φ)`, with
//! `Õ(η, φ) = l(η; φ) + ln|I + LᵀAL|` ([`super::subject`]) and `η̂(φ)` the root of
//! `g(η, φ) = ∇_η l`. Differentiating `g(η̂(φ), φ) = 0`,
//!
//! ```text
//! dη̂/dφ = −H⁻¹·∂g/∂φ,   H = ∂g/∂η (the exact Hessian of l at η̂),
//! dO/dφ = ∂Õ/∂φ + (∂Õ/∂η)ᵀ·dη̂/dφ.
//! ```
//!
//! Each partial derivative is a central difference of the linearisation at `η̂` moved
//! along one coordinate: `Õ` and `g` at `η̂ ± h·e_c` and at `φ ± h·e_m` (`h` from
//! [`implicit_step`](crate::optim::differences::implicit_step)), where `g = 2Ω⁻¹η + Gᵀt'`
//! and `A` come from forward sensitivities or exact solutions. Where `φ_m` does not move
//! the subject's model parameters (a variance of Ω, a residual SD) the predictions and `G`
//! at `η̂` are reused: no model solution. One subject then costs its EBE at `φ` (already found
//! by the cost at `φ`: one linearisation) and `2k + 2p'` linearisations (`k` random
//! effects, `p'` coordinates that move its parameters), where central differences of the
//! objective cost `2p` EBE searches of about 2.2 linearisations and as many solutions of
//! `l` each (model-2 cohort: 17 against about 44 linearisations and 44 solutions).
//!
//! It also gives every subject's `dη̂/dφ`, from which the next evaluations start their EBE
//! searches ([`super::fixed_starts`]), and the exact Hessian `H`, whose model part
//! (`H − 2Ω⁻¹ − Σ w_j·G_jᵀG_j`) their quasi-Newton steps use.
//!
//! It is not used (the differences of the objective serve) where a subject's `G` comes
//! from central differences of ODE solutions (where its forward sensitivities fail), whose
//! step-selection noise its second differences would amplify, where `H` is not positive
//! definite, or where a moved point cannot be evaluated.

use super::Foce;
use super::ebe::{Linearization, MapProblem};
use super::subject::{Shared, SubjectProblem, laplace_ln_det};
use crate::model::Model;
use crate::params::Parameters;
use nalgebra::DMatrix;
use rayon::prelude::*;

/// `Õ` and `g` at one point.
struct Point {
    /// `Õ = l + ln|I + LᵀAL|`.
    objective: f64,
    /// `g = ∇_η l`.
    gradient: Vec<f64>,
}

impl Point {
    fn of(lin: &Linearization, shared: &Shared) -> Self {
        Point {
            objective: lin.l + laplace_ln_det(&lin.information, &shared.omega_factor),
            gradient: lin.gradient.clone(),
        }
    }
}

/// Central differences of `Õ` and `g` along one coordinate.
struct Slope {
    objective: f64,
    gradient: Vec<f64>,
}

impl Slope {
    /// `None` where a difference is not finite (a side where the Laplacian determinant is
    /// not positive, say): the differences of the objective, which step around such
    /// sides, then serve.
    fn between(up: &Point, down: &Point, h: f64) -> Option<Self> {
        let gradient: Vec<f64> = (up.gradient.iter().zip(&down.gradient))
            .map(|(u, d)| (u - d) / (2.0 * h))
            .collect();
        let objective = (up.objective - down.objective) / (2.0 * h);
        let finite = objective.is_finite() && gradient.iter().all(|g| g.is_finite());
        finite.then_some(Slope {
            objective,
            gradient,
        })
    }
}

/// One subject's part of the gradient.
struct SubjectPart {
    gradient: Vec<f64>,
    /// `dη̂/dφ`, `k × p`.
    ebe_slopes: DMatrix<f64>,
    /// `H` less its Fisher-scoring part: the model curvature of `l` at `η̂`.
    curvature: DMatrix<f64>,
}

/// The population parameters at `φ` and either side of it along each coordinate.
struct Moves<'f> {
    centre: Shared<'f>,
    sides: Vec<[Shared<'f>; 2]>,
}

impl<M: Model> Foce<'_, M> {
    /// The gradient of −2LL at `φ` (module docs), every subject's EBE slope and model
    /// curvature stored for the evaluations that follow.
    ///
    /// `None` where it does not apply (module docs) or a subject cannot be evaluated at a
    /// point it needs: the differences of the objective then serve.
    pub(super) fn implicit_gradient(&self, phi: &[f64]) -> Option<Vec<f64>> {
        let h = self.implicit_step;
        let moved: Vec<[Vec<f64>; 2]> = (0..phi.len())
            .map(|m| {
                [h, -h].map(|d| {
                    let mut x = phi.to_vec();
                    x[m] += d;
                    x
                })
            })
            .collect();
        let moves = Moves {
            centre: self.shared(phi).ok()?,
            sides: (moved.iter())
                .map(|[up, down]| Some([self.shared(up).ok()?, self.shared(down).ok()?]))
                .collect::<Option<_>>()?,
        };
        self.evaluations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let parts = (self.subjects.par_iter())
            .map(|s| subject_part(s, &moves, h))
            .collect::<Option<Vec<_>>>()?;
        let mut gradient = vec![0.0; phi.len()];
        for part in &parts {
            for (g, d) in gradient.iter_mut().zip(&part.gradient) {
                *g += d;
            }
        }
        if !gradient.iter().all(|g| g.is_finite()) {
            return None;
        }
        (self.ebe_slopes).set(parts.iter().map(|p| p.ebe_slopes.clone()).collect());
        for (s, part) in self.subjects.iter().zip(parts) {
            s.start.set_curvature(Some(part.curvature));
        }
        Some(gradient)
    }
}

/// One subject's gradient, EBE slopes and model curvature (module docs); `None` where they
/// do not apply.
fn subject_part<M: Model>(
    subject: &SubjectProblem<'_, M>,
    moves: &Moves,
    h: f64,
) -> Option<SubjectPart> {
    let centre = &moves.centre;
    let map = MapProblem::new(subject, centre);
    let start = subject.start.read();
    let lin = map.solve(&start.eta, start.curvature.as_ref()).ok()?;
    subject.start.set(&lin.eta);
    if lin.g_from_solution_differences() {
        return None;
    }
    let eta = &lin.eta;
    let k = eta.len();
    let along_eta = (0..k)
        .map(|c| {
            let [up, down] = [h, -h].map(|d| {
                let mut x = eta.clone();
                x[c] += d;
                map.linearize(&x).ok().map(|l| Point::of(&l, centre))
            });
            Slope::between(&up?, &down?, h)
        })
        .collect::<Option<Vec<_>>>()?;
    let params = subject.params(centre, eta).ok()?;
    let along_phi = (moves.sides.iter())
        .map(|pair| {
            let [up, down] = pair
                .each_ref()
                .map(|s| moved_point(subject, s, &lin, &params));
            Slope::between(&up?, &down?, h)
        })
        .collect::<Option<Vec<_>>>()?;
    let hessian = DMatrix::from_fn(k, k, |r, c| {
        0.5 * (along_eta[c].gradient[r] + along_eta[r].gradient[c])
    });
    let cross = DMatrix::from_fn(k, along_phi.len(), |r, m| along_phi[m].gradient[r]);
    let ebe_slopes = -hessian.clone().cholesky()?.solve(&cross);
    let gradient = (along_phi.iter().enumerate())
        .map(|(m, s)| {
            let moved: f64 = (0..k)
                .map(|c| along_eta[c].objective * ebe_slopes[(c, m)])
                .sum();
            s.objective + moved
        })
        .collect();
    let fisher = &centre.omega_inv * 2.0 + &lin.information;
    Some(SubjectPart {
        gradient,
        ebe_slopes,
        curvature: hessian - fisher,
    })
}

/// `Õ` and `g` at the EBE `lin.eta` under the moved population parameters `shared`: from
/// the predictions and `G` at the centre where the subject's parameters (`params` at the
/// centre) do not move, else from a linearisation there (`None` where that fails or its
/// `G` comes from differences of ODE solutions).
fn moved_point<M: Model>(
    subject: &SubjectProblem<'_, M>,
    shared: &Shared,
    lin: &Linearization,
    params: &[M::Params],
) -> Option<Point> {
    let map = MapProblem::new(subject, shared);
    let moved = subject.params(shared, &lin.eta).ok()?;
    let same = moved
        .iter()
        .zip(params)
        .all(|(a, b)| a.values() == b.values());
    let at = if same {
        map.assemble(
            &lin.eta,
            lin.predictions.clone(),
            lin.transformed.clone(),
            lin.g.clone(),
        )
        .ok()?
    } else {
        let fresh = map.linearize(&lin.eta).ok()?;
        if fresh.g_from_solution_differences() {
            return None;
        }
        (*fresh).clone()
    };
    Some(Point::of(&at, shared))
}
