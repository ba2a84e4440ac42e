//! Model 2 against an independent reference: the equations of `MODEL.md` written out again
//! here, integrated with a classical fixed-step RK4 at a step far finer than needed.
//! The library's Dopri5 solution must agree within 1e-6 relative at every output above
//! 1e-6 of its unit with `SolverOptions::accurate()`.

use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::{Dose, Parameters, SolverOptions, simulate};

/// MODEL.md's model 2 with n_transit = 3, transcribed independently of the library.
/// State: [E, M, Z, P, T1, T2, T3, N, S, D].
fn rhs(v: &[f64; 21], x: &[f64; 10]) -> [f64; 10] {
    let [
        rho,
        kb,
        kx,
        alpha,
        kmem,
        beta,
        _gamma,
        kmax,
        ec50,
        h,
        eps,
        kp,
        mtt,
        _n,
        b0,
        f_n,
        f_s,
        dn,
        ds,
        dd,
        _fld,
    ] = *v;
    let (n0, s0, d0) = (f_n * b0, f_s * b0, (1.0 - f_n - f_s) * b0);
    let kns = ds * s0 / n0;
    let knd = dd * d0 / n0;
    let kin = (dn + kns + knd) * n0;
    let ktr = 3.0 / mtt;
    let c = x[0] + x[1];
    let b = x[7] + x[8] + x[9];
    let g = b / (b + kb);
    let kill = kmax * c.powf(h) / (ec50.powf(h) + c.powf(h));
    [
        rho * g * x[2] * x[0] - (alpha + kmem) * x[0],
        kmem * x[0] - beta * x[1],
        -kx * g * x[2],
        kp * (1.0 - x[3]) - eps * kill * x[3],
        ktr * (x[3] - x[4]) - eps * kill * x[4],
        ktr * (x[4] - x[5]) - eps * kill * x[5],
        ktr * (x[5] - x[6]) - eps * kill * x[6],
        kin * x[6] - (dn + kns + knd) * x[7] - kill * x[7],
        kns * x[7] - ds * x[8] - kill * x[8],
        knd * x[7] - dd * x[9] - kill * x[9],
    ]
}

fn rk4_reference(v: &[f64; 21], dose: f64, times: &[f64], step: f64) -> Vec<[f64; 10]> {
    let (gamma, b0, f_n, f_s, fld) = (v[6], v[14], v[15], v[16], v[20]);
    let mut x = [
        gamma * dose,
        0.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        fld * f_n * b0,
        fld * f_s * b0,
        fld * (1.0 - f_n - f_s) * b0,
    ];
    let add = |a: &[f64; 10], k: &[f64; 10], s: f64| -> [f64; 10] {
        std::array::from_fn(|i| a[i] + s * k[i])
    };
    let mut t = 0.0;
    let mut out = Vec::new();
    for &target in times {
        while t < target - 1e-12 {
            let h = step.min(target - t);
            let k1 = rhs(v, &x);
            let k2 = rhs(v, &add(&x, &k1, h / 2.0));
            let k3 = rhs(v, &add(&x, &k2, h / 2.0));
            let k4 = rhs(v, &add(&x, &k3, h));
            x = std::array::from_fn(|i| {
                x[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
            });
            t += h;
        }
        out.push(x);
    }
    out
}

/// Worst relative difference between the library and the RK4 reference, over outputs above
/// 1e-6 of their unit.
fn worst_relative_error(params: &CarTBCellParams, dose: f64, opts: &SolverOptions) -> f64 {
    let times: Vec<f64> = [
        0.0, 1.0, 4.0, 7.0, 10.0, 14.0, 21.0, 28.0, 60.0, 90.0, 120.0, 180.0, 270.0, 365.0,
    ]
    .to_vec();
    let v: [f64; 21] = params.values().try_into().unwrap();
    let reference = rk4_reference(&v, dose, &times, 1e-3);
    let sim = simulate(&CarTBCell, params, &[Dose::bolus(0.0, dose)], &times, opts).unwrap();
    let expected = |x: &[f64; 10]| {
        let b = x[7] + x[8] + x[9];
        [
            x[0] + x[1],
            b,
            x[7],
            x[8],
            x[9],
            100.0 * x[7] / b,
            100.0 * x[8] / b,
            100.0 * x[9] / b,
        ]
    };
    let mut worst: f64 = 0.0;
    for (i, x) in reference.iter().enumerate() {
        for (j, want) in expected(x).into_iter().enumerate() {
            let got = sim.values[j][i];
            if want.abs() > 1e-6 {
                worst = worst.max(((got - want) / want).abs());
            }
        }
    }
    eprintln!(
        "dose {dose}, rtol {:e}: worst relative error {worst:e}",
        opts.rtol
    );
    worst
}

#[test]
fn accurate_options_agree_with_rk4_reference_to_1e_6_at_both_dose_levels() {
    let p = CarTBCellParams::default();
    for dose in [10.0, 25.0] {
        let worst = worst_relative_error(&p, dose, &SolverOptions::accurate());
        assert!(worst < 1e-6, "dose {dose}: worst relative error {worst:e}");
    }
}

#[test]
fn accurate_options_agree_with_rk4_reference_for_a_steep_hill_and_partial_marrow_access() {
    let p = CarTBCellParams::default()
        .with_all(&[("h", 2.0), ("eps", 0.6), ("kmax", 3.0)])
        .unwrap();
    let worst = worst_relative_error(&p, 10.0, &SolverOptions::accurate());
    assert!(worst < 1e-6, "worst relative error {worst:e}");
}

#[test]
fn default_options_stay_within_1e_4_of_the_reference() {
    let worst = worst_relative_error(&CarTBCellParams::default(), 10.0, &SolverOptions::default());
    assert!(worst < 1e-4, "worst relative error {worst:e}");
}
