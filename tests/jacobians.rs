//! The models' analytic Jacobians (used by the implicit integrator) against central
//! differences of their right-hand sides, at states away from the kinks of their clamps.

#[allow(dead_code)] // the Robertson model serves the other tests
mod stiff_models;

use cart_pkpd::models::pk::{
    OneCmtIv, OneCmtIvParams, OneCmtOral, OneCmtOralParams, ThreeCmtIv, ThreeCmtIvParams,
    ThreeCmtOral, ThreeCmtOralParams, TwoCmtIv, TwoCmtIvParams, TwoCmtOral, TwoCmtOralParams,
};
use cart_pkpd::models::{CarTBCell, CarTBCellParams, CellularKinetics, CellularKineticsParams};
use cart_pkpd::{Model, Parameters};
use stiff_models::{Tmdd, TmddParams};

/// The worst difference between the model's Jacobian and central differences at `(t, x)`,
/// relative to the largest entry of its row.
fn jacobian_error<M: Model>(model: &M, p: &M::Params, t: f64, x: &[f64]) -> f64 {
    let n = x.len();
    let mut analytic = vec![f64::NAN; n * n];
    assert!(
        model.jacobian(t, x, p, &mut analytic),
        "{} gives none",
        model.name()
    );
    let (mut up, mut down) = (vec![0.0; n], vec![0.0; n]);
    let mut worst: f64 = 0.0;
    for j in 0..n {
        let delta = 1e-6 * x[j].abs().max(1e-3);
        let mut y = x.to_vec();
        y[j] = x[j] + delta;
        model.derivatives(t, &y, p, &mut up);
        y[j] = x[j] - delta;
        model.derivatives(t, &y, p, &mut down);
        for i in 0..n {
            let row = analytic[i * n..(i + 1) * n]
                .iter()
                .fold(0.0f64, |a, v| a.max(v.abs()));
            let difference = (up[i] - down[i]) / (2.0 * delta);
            worst = worst.max((analytic[i * n + j] - difference).abs() / row.max(1e-12));
        }
    }
    worst
}

#[test]
fn model2_jacobian_matches_differences() {
    let p = CarTBCellParams::default();
    let variants = [
        p.clone(),
        p.with("n_transit", 0.0).unwrap(),
        p.with("h", 2.3).unwrap(),
    ];
    for p in &variants {
        let nt = p.n_transit() as usize;
        let n = CarTBCell.n_states(p);
        // expansion (C below ec50), the peak (above), and repopulation (few CAR-T)
        for (c, b) in [(300.0, 150.0), (9_000.0, 4.0), (2.0, 80.0)] {
            let mut x = vec![0.0; n];
            x[0] = 0.8 * c;
            x[1] = 0.2 * c;
            x[2] = 0.6;
            for (k, v) in x[3..4 + nt].iter_mut().enumerate() {
                *v = 0.5 + 0.1 * k as f64;
            }
            x[n - 3..].copy_from_slice(&[0.7 * b, 0.2 * b, 0.1 * b]);
            let error = jacobian_error(&CarTBCell, p, 10.0, &x);
            assert!(error < 1e-7, "n_transit {nt}, h {}: {error:e}", p.h());
        }
    }
}

#[test]
fn model1_jacobian_matches_differences_in_each_phase() {
    let p = CellularKineticsParams::stein_2019();
    for t in [
        0.5 * p.tlag(),
        0.5 * (p.tlag() + p.tmax()),
        2.0 * p.tmax() + 1.0,
    ] {
        let error = jacobian_error(&CellularKinetics, &p, t, &[1e4, 2e3]);
        assert!(error < 1e-7, "day {t}: {error:e}");
    }
}

#[test]
fn tmdd_jacobian_matches_differences() {
    let p = TmddParams::new().unwrap();
    let model = Tmdd {
        analytic_jacobian: true,
    };
    for x in [
        [85.0, 1.3e-3, 10.2],
        [1.5e-3, 9.9, 1.4],
        [60.0, 2.6e-3, 14.4],
    ] {
        let error = jacobian_error(&model, &p, 1.0, &x);
        assert!(error < 1e-7, "{x:?}: {error:e}");
    }
}

/// The PK models are linear: their Jacobian is the rate matrix, which central differences
/// give to rounding.
#[test]
fn pk_jacobians_match_differences() {
    fn check<M: Model>(model: &M, p: &M::Params) {
        let n = model.n_states(p);
        let x: Vec<f64> = (0..n).map(|i| 10.0 + 7.0 * i as f64).collect();
        let error = jacobian_error(model, p, 1.0, &x);
        assert!(error < 1e-7, "{}: {error:e}", model.name());
    }
    check(&OneCmtIv, &OneCmtIvParams::new(5.0, 50.0).unwrap());
    check(&OneCmtOral, &OneCmtOralParams::new(1.2, 5.0, 50.0).unwrap());
    check(
        &TwoCmtIv,
        &TwoCmtIvParams::new(5.0, 30.0, 8.0, 60.0).unwrap(),
    );
    check(
        &TwoCmtOral,
        &TwoCmtOralParams::new(1.2, 5.0, 30.0, 8.0, 60.0).unwrap(),
    );
    let three = [5.0, 30.0, 8.0, 60.0, 2.0, 120.0];
    let [cl, vc, q2, vp2, q3, vp3] = three;
    check(
        &ThreeCmtIv,
        &ThreeCmtIvParams::new(cl, vc, q2, vp2, q3, vp3).unwrap(),
    );
    let p = ThreeCmtOralParams::new(1.2, cl, vc, q2, vp2, q3, vp3).unwrap();
    check(&ThreeCmtOral, &p);
}
