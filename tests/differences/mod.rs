//! Central differences of accurate solutions along one parameter: the reference the
//! forward sensitivities are held to where no exact solution exists.

use cart_pkpd::{Dose, Model, Parameters, SolverOptions, simulate};

/// `∂y/∂q` of each of `analytes` at `times`, by central differences with step `1e-4·q` of
/// solutions by `opts` (one vector per analyte).
pub fn central<M: Model>(
    (model, p): (&M, &M::Params),
    q: &str,
    (doses, times): (&[Dose], &[f64]),
    opts: &SolverOptions,
    analytes: &[&str],
) -> Vec<Vec<f64>> {
    let v = p.get(q).unwrap();
    let h = 1e-4 * v;
    let at = |d: f64| simulate(model, &p.with(q, v + d).unwrap(), doses, times, opts).unwrap();
    let (up, down) = (at(h), at(-h));
    analytes
        .iter()
        .map(|a| {
            let (u, d) = (up.get(a).unwrap(), down.get(a).unwrap());
            u.iter().zip(d).map(|(u, d)| (u - d) / (2.0 * h)).collect()
        })
        .collect()
}
