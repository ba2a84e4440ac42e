//! The marginal likelihood by adaptive Gauss–Hermite quadrature: exact where the model is
//! linear in `η` with Gaussian residuals (closed form), and typed errors for what it cannot
//! do. (Against a brute-force grid on a nonlinear model: `tests/nlme_theophylline.rs`.)

use cart_pkpd::models::{CellularKinetics, CellularKineticsParams};
use cart_pkpd::nlme::{
    EvaluateAt, MAX_POINTS, PopulationSpec, QuadratureOptions, marginal_likelihood,
};
use cart_pkpd::{Dataset, Error, ErrorModel, Subject};
use nalgebra::{DMatrix, DVector};

const DAYS: [f64; 4] = [7.0, 14.0, 28.0, 90.0];
const OMEGA: f64 = 0.1;
const SIGMA: f64 = 0.2;

fn data() -> Dataset {
    let truth = CellularKineticsParams::stein_2019();
    let subjects = (0..5)
        .map(|i| {
            let level = [0.7, 1.3, 1.0, 0.9, 1.6][i];
            let mut b = Subject::builder(format!("S{i}")).dose(0.0, 10.0);
            for (j, day) in DAYS.iter().enumerate() {
                let noise = [1.1, 0.9, 1.05, 0.8][(i + j) % 4];
                b = b.observe(*day, "transgene", level * noise * truth.transgene(*day));
            }
            b.build()
        })
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    Dataset::new(subjects).unwrap()
}

fn spec() -> PopulationSpec<CellularKinetics> {
    PopulationSpec::new(CellularKineticsParams::stein_2019())
        .random_diagonal(&[("cmax", OMEGA)])
        .residual("transgene", ErrorModel::LogAdditive { sd: SIGMA })
}

/// Model 1 is proportional to `cmax` in every phase, so with `η` on ln cmax and a
/// log-additive error, `ln yᵢ ~ N(μᵢ, σ²I + ω²·11ᵀ)` exactly: −2 ln p =
/// `n·ln 2π + ln|V| + rᵀV⁻¹r`. Every rule, the Laplace approximation (1 node) included,
/// must give it.
#[test]
fn exact_for_a_model_linear_in_eta() {
    let data = data();
    let truth = CellularKineticsParams::stein_2019();
    let mu = DVector::from_iterator(DAYS.len(), DAYS.iter().map(|&d| truth.transgene(d).ln()));
    let n = DAYS.len();
    let v = DMatrix::identity(n, n) * SIGMA.powi(2) + DMatrix::from_element(n, n, OMEGA);
    let chol = v.clone().cholesky().unwrap();
    let ln_det = 2.0 * chol.l().diagonal().iter().map(|d| d.ln()).sum::<f64>();
    let closed: Vec<f64> = data
        .subjects()
        .iter()
        .map(|s| {
            let y = DVector::from_iterator(n, s.observations().iter().map(|o| o.value.ln()));
            let r = y - &mu;
            n as f64 * (2.0 * std::f64::consts::PI).ln() + ln_det + r.dot(&chol.solve(&r))
        })
        .collect();
    for nodes in [1, 5, 12] {
        let opts = QuadratureOptions {
            nodes,
            ..QuadratureOptions::default()
        };
        let m = marginal_likelihood(
            &CellularKinetics,
            &data,
            &spec(),
            EvaluateAt::Initial,
            &opts,
        )
        .unwrap();
        assert_eq!(m.nodes, nodes);
        for (s, c) in m.subjects.iter().zip(&closed) {
            assert!(
                (s.minus_two_ll - c).abs() < 1e-8,
                "{} nodes, {}: {} against {c}",
                nodes,
                s.id,
                s.minus_two_ll
            );
        }
    }
}

#[test]
fn what_it_cannot_do_is_a_typed_error() {
    let data = data();
    let run = |spec: &PopulationSpec<CellularKinetics>, nodes: usize| {
        let opts = QuadratureOptions {
            nodes,
            ..QuadratureOptions::default()
        };
        marginal_likelihood(&CellularKinetics, &data, spec, EvaluateAt::Initial, &opts)
    };
    let reason = |r: Result<_, Error>| match r {
        Err(Error::InvalidFitOptions { reason }) => reason,
        other => panic!("expected InvalidFitOptions, got {other:?}"),
    };
    assert!(reason(run(&spec(), 0)).contains("nodes"));
    let fixed = PopulationSpec::new(CellularKineticsParams::stein_2019())
        .residual("transgene", ErrorModel::LogAdditive { sd: SIGMA });
    assert!(reason(run(&fixed, 9)).contains("no random effects"));
    let three = spec().random_diagonal(&[("cmax", 0.1), ("alpha", 0.1), ("beta", 0.1)]);
    let too_many = (MAX_POINTS as f64).cbrt().ceil() as usize + 1;
    assert!(reason(run(&three, too_many)).contains("exceed"));
}
