//! Checks of the early stop of a likelihood evaluation ([`Objective::contributions_below`]):
//! the floors of the observation terms against a brute-force minimum over predictions, and
//! the stop against the whole solution.

use super::{Censoring, FitSpec, Objective};
use crate::error_model::ErrorModel;
use crate::models::{CarTBCell, CarTBCellParams};
use crate::params::Parameters;
use crate::simulate::plan::Plan;
use crate::simulate::{SolverOptions, run_plan_until};
use crate::{Subject, simulate};

/// The least −2 ln density over 400,001 predictions spread log-uniformly over 12 decades
/// around `obs` (positive predictions, as the models here give).
fn grid_minimum(m: &ErrorModel, obs: f64) -> f64 {
    (0..=400_000)
        .map(|i| obs.abs() * 10f64.powf(-6.0 + 12.0 * f64::from(i) / 400_000.0))
        .map(|pred| m.minus_two_ll(obs, pred))
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn floors_are_the_least_terms() {
    let models = [
        ErrorModel::Additive { sd: 0.7 },
        ErrorModel::LogAdditive { sd: 0.3 },
        ErrorModel::Proportional { cv: 0.2 },
        ErrorModel::Proportional { cv: 1.5 },
        ErrorModel::Combined { sd: 0.5, cv: 0.1 },
    ];
    for m in &models {
        for obs in [0.01, 2.0, 350.0] {
            let floor = m.minus_two_ll_floor(obs);
            let grid = grid_minimum(m, obs);
            assert!(
                floor <= grid + 1e-12,
                "{m:?} at {obs}: floor {floor} above {grid}"
            );
            // tight for all but the combined model, whose floor is a bound
            if !matches!(m, ErrorModel::Combined { .. }) {
                assert!(
                    grid - floor < 1e-8,
                    "{m:?} at {obs}: {floor} against {grid}"
                );
            }
        }
    }
    assert_eq!(
        ErrorModel::Proportional { cv: 0.2 }.minus_two_ll_floor(0.0),
        f64::NEG_INFINITY
    );
}

/// A model-2 subject observed over a year, with its data simulated at `truth` and
/// one value below the LLOQ.
fn subject(truth: &CarTBCellParams) -> Subject {
    let days = [
        1.0, 4.0, 7.0, 10.0, 14.0, 21.0, 28.0, 60.0, 90.0, 180.0, 270.0, 365.0,
    ];
    let dose = [crate::Dose::bolus(0.0, 10.0)];
    let sim = simulate(&CarTBCell, truth, &dose, &days, &SolverOptions::default()).unwrap();
    let (c, b) = (sim.get("transgene").unwrap(), sim.get("b_cells").unwrap());
    let mut builder = Subject::builder("S1").dose(0.0, 10.0);
    for (i, &t) in days.iter().enumerate() {
        let wobble = 1.0 + 0.2 * (i as f64).sin();
        builder = builder.observe(t, "transgene", c[i] * wobble);
        builder = match i {
            3 => builder.observe_censored(t, "b_cells", 1.0),
            _ => builder.observe(t, "b_cells", (b[i] * wobble).max(2.0)),
        };
    }
    builder.build().unwrap()
}

#[test]
fn a_stopped_evaluation_is_above_its_limit_and_a_finished_one_is_whole() {
    let truth = CarTBCellParams::default();
    let spec = FitSpec::new(truth.clone())
        .residual("transgene", ErrorModel::LogAdditive { sd: 0.4 })
        .residual("b_cells", ErrorModel::LogAdditive { sd: 0.3 });
    let s = subject(&truth);
    let objective = Objective::new(
        &CarTBCell,
        &s,
        &spec,
        Censoring::M3,
        SolverOptions::default(),
    )
    .unwrap();
    let errors = [
        ErrorModel::LogAdditive { sd: 0.4 },
        ErrorModel::LogAdditive { sd: 0.3 },
    ];
    for k in 0..40 {
        let f = 0.5 + 0.025 * f64::from(k);
        let p = truth
            .with_all(&[("rho", 2.75 * f), ("kmax", 1.51 / f)])
            .unwrap();
        let pieces = std::slice::from_ref(&p);
        let whole = objective.contributions(pieces, &errors).unwrap();
        let u: f64 = whole.iter().map(|t| t.minus_two_ll).sum();
        for limit in [u - 1e-3, u - 30.0, f64::MIN] {
            let below = objective
                .contributions_below(pieces, &errors, limit)
                .unwrap();
            assert!(
                below.is_none(),
                "rho ×{f}: −2LL {u} is above {limit}, not stopped"
            );
        }
        let below = objective
            .contributions_below(pieces, &errors, u + 1e-3)
            .unwrap();
        assert_eq!(
            below.as_deref(),
            Some(&whole[..]),
            "rho ×{f}: finished run differs"
        );
    }
}

#[test]
fn a_run_ends_where_it_is_stopped() {
    let p = CarTBCellParams::default();
    let times = [1.0, 7.0, 14.0, 28.0, 90.0, 365.0];
    let plan = Plan::from_doses(&[crate::Dose::bolus(0.0, 10.0)], &times).unwrap();
    let mut seen = Vec::new();
    let mut stop = |slot: usize, y: &[f64]| {
        seen.push((slot, y[0]));
        slot == 2
    };
    let opts = SolverOptions::default();
    let run = run_plan_until(
        &CarTBCell,
        std::slice::from_ref(&p),
        &plan,
        &opts,
        false,
        &mut stop,
    )
    .unwrap();
    assert!(run.is_none());
    let whole = simulate(
        &CarTBCell,
        &p,
        &[crate::Dose::bolus(0.0, 10.0)],
        &times,
        &opts,
    )
    .unwrap();
    let transgene = whole.get("transgene").unwrap();
    // slots 0, 1, 2 in order with the whole run's values, and nothing after
    assert_eq!(seen.len(), 3);
    for (k, (slot, y)) in seen.into_iter().enumerate() {
        assert_eq!((slot, y), (k, transgene[k]));
    }
}
