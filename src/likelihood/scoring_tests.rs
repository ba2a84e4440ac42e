//! Checks of the Fisher-scoring matrix ([`Objective::scoring`]): where every residual is 0
//! the terms it leaves out (residuals times the model's curvature, the SD's coupling to the
//! residuals) vanish, so it must equal the Hessian of −2LL, here by central differences of
//! the exact gradient of solutions at tight tolerances.

use super::{FitSpec, Objective};
use crate::Dose;
use crate::data::Subject;
use crate::error_model::ErrorModel;
use crate::likelihood::Censoring;
use crate::model::Model;
use crate::models::{CarTBCell, CarTBCellParams, CellularKinetics, CellularKineticsParams};
use crate::simulate::{SolverOptions, simulate};

const DAYS: [f64; 8] = [2.0, 5.0, 9.0, 14.0, 28.0, 60.0, 120.0, 240.0];

/// A subject whose observations are the model's predictions at `params` (rtol 1e-12).
fn exact_subject<M: Model>(model: &M, params: &M::Params, analytes: &[&str]) -> Subject {
    let tight = SolverOptions::default().with_tolerances(1e-12, 1e-14);
    let sim = simulate(model, params, &[Dose::bolus(0.0, 10.0)], &DAYS, &tight).unwrap();
    let mut b = Subject::builder("S").dose(0.0, 10.0);
    for (i, t) in DAYS.iter().enumerate() {
        for a in analytes {
            b = b.observe(*t, a, sim.get(a).unwrap()[i]);
        }
    }
    b.build().unwrap()
}

/// The scoring matrix at `θ` against `(g(θ + h·e_i) − g(θ − h·e_i))/2h` of the gradient
/// from sensitivities (or differences of exact solutions), element by element within
/// `tolerance` of the largest; and the gradient at `θ` 0 along the model parameters.
fn assert_scoring_is_the_hessian<M: Model>(objective: &Objective<'_, M>, tolerance: f64) {
    let theta = objective.initial_theta().unwrap();
    let scoring = objective.scoring(&theta).unwrap();
    let gradient = |u: &[f64]| objective.scoring(u).unwrap().gradient;
    // truncation (h²) and solver noise (rtol/h) both near 1e-7 relative
    let h = 3e-4;
    let norm = scoring.matrix.amax();
    let p = theta.len();
    let mut u = theta.clone();
    for i in 0..p {
        u[i] = theta[i] + h;
        let up = gradient(&u);
        u[i] = theta[i] - h;
        let down = gradient(&u);
        u[i] = theta[i];
        for j in 0..p {
            let hessian = (up[j] - down[j]) / (2.0 * h);
            let m = scoring.matrix[(i, j)];
            assert!(
                (m - hessian).abs() <= tolerance * norm,
                "({i}, {j}): scoring {m} against Hessian {hessian}"
            );
        }
    }
    // the gradient vanishes at exact data (the predictions are the observations)
    for i in objective.modelled() {
        let g = scoring.gradient[i];
        let scale = scoring.matrix[(i, i)].sqrt();
        assert!(g.abs() <= 1e-6 * scale, "gradient {i}: {g}");
    }
}

#[test]
fn at_zero_residuals_the_scoring_matrix_is_the_hessian_of_an_ode_model() {
    let truth = CarTBCellParams::default();
    let subject = exact_subject(&CarTBCell, &truth, &["transgene", "b_cells"]);
    let spec = FitSpec::new(truth)
        .estimate(&["rho", "alpha", "kmax", "kp"])
        .residual_fixed("transgene", ErrorModel::LogAdditive { sd: 0.3 })
        .residual_fixed("b_cells", ErrorModel::Additive { sd: 5.0 });
    let accurate = SolverOptions::accurate();
    let objective = Objective::new(&CarTBCell, &subject, &spec, Censoring::M3, accurate).unwrap();
    assert_scoring_is_the_hessian(&objective, 1e-5);
}

#[test]
fn at_zero_residuals_the_scoring_matrix_is_the_hessian_of_a_closed_form() {
    let truth = CellularKineticsParams::stein_2019();
    let subject = exact_subject(&CellularKinetics, &truth, &["transgene"]);
    let spec = FitSpec::new(truth)
        .estimate(&["tmax", "cmax", "alpha", "beta"])
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.2 });
    let opts = SolverOptions::default();
    let objective =
        Objective::new(&CellularKinetics, &subject, &spec, Censoring::M3, opts).unwrap();
    assert_scoring_is_the_hessian(&objective, 1e-5);
    assert!(objective.known_exact(), "solved by its closed form");
}
