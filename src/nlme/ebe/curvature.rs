//! The model's curvature in the EBE search: `Σ_j t_j'(q_j)·∂²q_j/∂η²` by central second
//! differences of the predictions (the Newton steps after Fisher scoring; the population
//! fit's frozen curvature where its outer gradient is a difference of the objective).

use super::{Linearization, MapProblem, Sides};
use crate::error::Result;
use crate::model::Model;
use crate::optim::differences::ETA_STEP;
use nalgebra::DMatrix;

impl<M: Model> MapProblem<'_, '_, M> {
    /// Predictions on the error models' scales at `η` moved by `moves` (coordinate, step).
    fn transformed_at(&self, eta: &[f64], moves: &[(usize, f64)]) -> Result<Vec<f64>> {
        self.transformed_moved(eta, &mut eta.to_vec(), moves)
    }

    /// As [`transformed_at`](Self::transformed_at), with `x` a copy of `eta` to move (and
    /// left as it was).
    pub(super) fn transformed_moved(
        &self,
        eta: &[f64],
        x: &mut [f64],
        moves: &[(usize, f64)],
    ) -> Result<Vec<f64>> {
        for &(c, d) in moves {
            x[c] = eta[c] + d;
        }
        let predictions = self.predictions(x);
        for &(c, _) in moves {
            x[c] = eta[c];
        }
        Ok(self.transformed(predictions?))
    }

    /// The model-curvature part of the exact Hessian of `l` at a linearisation,
    /// `Σ_j t_j'(q_j)·∂²q_j/∂η²`, by central second differences of `q` (the diagonal from
    /// the points the linearisation already has, `2k(k−1)` model solutions for the rest).
    pub(super) fn curvature(&self, lin: &Linearization) -> Result<DMatrix<f64>> {
        let k = lin.eta.len();
        let h = ETA_STEP;
        let weighted = |q: &[f64]| -> f64 { q.iter().zip(&lin.slopes).map(|(q, s)| q * s).sum() };
        let mut c = DMatrix::zeros(k, k);
        let centre = weighted(&lin.transformed);
        let sides = match &lin.sides {
            Some(s) => s.clone(),
            None => self.sides(&lin.eta)?,
        };
        for (a, sides) in sides.iter().enumerate() {
            c[(a, a)] = (weighted(&sides.up) - 2.0 * centre + weighted(&sides.down)) / (h * h);
            for b in 0..a {
                let at = |da: f64, db: f64| -> Result<f64> {
                    Ok(weighted(
                        &self.transformed_at(&lin.eta, &[(a, da), (b, db)])?,
                    ))
                };
                let v = (at(h, h)? - at(h, -h)? - at(-h, h)? + at(-h, -h)?) / (4.0 * h * h);
                c[(a, b)] = v;
                c[(b, a)] = v;
            }
        }
        Ok(c)
    }

    /// `q` at `η ± h·e_c` for every random effect `c`, `h` = [`ETA_STEP`].
    pub(super) fn sides(&self, eta: &[f64]) -> Result<Vec<Sides>> {
        let mut x = eta.to_vec();
        (0..eta.len())
            .map(|c| {
                Ok(Sides {
                    up: self.transformed_moved(eta, &mut x, &[(c, ETA_STEP)])?,
                    down: self.transformed_moved(eta, &mut x, &[(c, -ETA_STEP)])?,
                })
            })
            .collect()
    }

    /// The model-curvature part of the exact Hessian of `l` at `η`
    /// ([`curvature`](Self::curvature)): `2k²` model solutions.
    pub fn model_curvature(&self, eta: &[f64]) -> Result<DMatrix<f64>> {
        let lin = self.linearize(eta)?;
        self.curvature(&lin)
    }
}
