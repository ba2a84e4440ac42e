//! The Jacobian of the augmented system (states and sensitivities), for the implicit
//! integrator.

use super::SensView;
use crate::model::Model;

impl<'a, P> SensView<'a, P> {
    /// The augmented system's Jacobian (`N = n·(1 + K)` square, row by row) at state `x`
    /// with sensitivities `s`: `J = ∂f/∂x` in every diagonal block and, in block row `j`,
    /// `Bⱼ = ∂(dSⱼ/dt)/∂x = d/dε J(x + εSⱼ, p(ε))` in the first block column (it carries
    /// `∂J/∂p`, which the implicit method needs for its order). With the model's own
    /// Jacobian, `Bⱼ = [J(x + hSⱼ, p(h)) − J(x − hSⱼ, p(−h))] / 2h`; without, `J` by forward
    /// differences and `Bⱼ` by mixed second differences of `f` with a state step
    /// `ε^(1/3)·max(|xᵢ|, 10⁻⁵)` (rounding and truncation both near 10⁻⁵ relative).
    pub fn augmented_jacobian<M: Model<Params = P>>(
        &self,
        model: &M,
        t: f64,
        (x, params): (&[f64], &P),
        s: &[f64],
        jac: &mut [f64],
    ) {
        let n = x.len();
        let big = n * (1 + self.k());
        let h = self.dirs.h;
        jac.fill(0.0);
        let mut j0 = vec![0.0; n * n];
        let exact = model_jacobian(model, t, x, params, &mut j0);
        for block in 0..=self.k() {
            for r in 0..n {
                let row = (block * n + r) * big + block * n;
                jac[row..row + n].copy_from_slice(&j0[r * n..(r + 1) * n]);
            }
        }
        let (mut xp, mut xm) = (vec![0.0; n], vec![0.0; n]);
        let (mut jp, mut jm) = (vec![0.0; n * n], vec![0.0; n * n]);
        for (j, sj) in s.chunks_exact(n).enumerate() {
            for i in 0..n {
                xp[i] = x[i] + h * sj[i];
                xm[i] = x[i] - h * sj[i];
            }
            if exact {
                model.jacobian(t, &xp, self.plus(j), &mut jp);
                model.jacobian(t, &xm, self.minus(j), &mut jm);
            } else {
                let step = f64::EPSILON.cbrt();
                differenced_jacobian(model, t, &xp, self.plus(j), step, &mut jp);
                differenced_jacobian(model, t, &xm, self.minus(j), step, &mut jm);
            }
            for r in 0..n {
                let row = ((j + 1) * n + r) * big;
                for c in 0..n {
                    jac[row + c] = (jp[r * n + c] - jm[r * n + c]) / (2.0 * h);
                }
            }
        }
    }
}

/// `∂f/∂x` at `(t, x)` into `jac` (row by row): the model's own (returns `true`), or by
/// forward differences with relative step `√ε` (returns `false`).
fn model_jacobian<M: Model>(model: &M, t: f64, x: &[f64], p: &M::Params, jac: &mut [f64]) -> bool {
    if model.jacobian(t, x, p, jac) {
        return true;
    }
    differenced_jacobian(model, t, x, p, f64::EPSILON.sqrt(), jac);
    false
}

/// `∂f/∂x` at `(t, x)` into `jac` (row by row): the model's own, or by central differences
/// with relative step `ε^(1/3)` (error about `ε^(2/3)` ≈ 4e-11 relative, against `√ε` ≈
/// 1.5e-8 for forward ones), where a result depends on it directly rather than through
/// an integrator's iterations.
pub(super) fn accurate_jacobian<M: Model>(
    model: &M,
    t: f64,
    x: &[f64],
    p: &M::Params,
    jac: &mut [f64],
) {
    if !model.jacobian(t, x, p, jac) {
        differences(model, (t, x, p), f64::EPSILON.cbrt(), true, jac);
    }
}

/// `∂f/∂x` by forward differences, state `i` moved by `rel·max(|xᵢ|, 10⁻⁵)`.
fn differenced_jacobian<M: Model>(
    model: &M,
    t: f64,
    x: &[f64],
    p: &M::Params,
    rel: f64,
    jac: &mut [f64],
) {
    differences(model, (t, x, p), rel, false, jac);
}

/// `∂f/∂x` into `jac` column by column, state `c` moved by `δ = rel·max(|x_c|, 10⁻⁵)`: by
/// forward differences from `f(t, x)`, or by central ones where `central`.
fn differences<M: Model>(
    model: &M,
    (t, x, p): (f64, &[f64], &M::Params),
    rel: f64,
    central: bool,
    jac: &mut [f64],
) {
    let n = x.len();
    let (mut up, mut down) = (vec![0.0; n], vec![0.0; n]);
    if !central {
        model.derivatives(t, x, p, &mut down);
    }
    let mut y = x.to_vec();
    for c in 0..n {
        let delta = rel * x[c].abs().max(1e-5);
        y[c] = x[c] + delta;
        model.derivatives(t, &y, p, &mut up);
        if central {
            y[c] = x[c] - delta;
            model.derivatives(t, &y, p, &mut down);
        }
        y[c] = x[c];
        let span = if central { 2.0 * delta } else { delta };
        for r in 0..n {
            jac[r * n + c] = (up[r] - down[r]) / span;
        }
    }
}
