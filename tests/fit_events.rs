//! A FOCE-I fit of a data set written with steady-state, additional and modelled-duration
//! dose records equals the fit of the same doses written out record by record.

use cart_pkpd::models::pk::{OneCmtOral, OneCmtOralParams};
use cart_pkpd::nlme::{PopulationFit, PopulationOptions, PopulationSpec, fit_population};
use cart_pkpd::{
    Dataset, Dose, DoseRate, ErrorModel, Parameters, SolverOptions, Subject, simulate_subject,
};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

const TIMES: [f64; 10] = [0.5, 2.0, 6.0, 11.9, 25.0, 36.5, 48.0, 61.0, 64.0, 72.0];

/// Doses of subject `i`: 100 mg every 12 h at steady state from time 0 with 3 more doses,
/// and 80 mg into the central compartment at 60 h over the modelled duration D2 = 2 h; or
/// the same written out (40 doses before time 0 stand for the steady state).
fn doses(explicit: bool) -> Vec<Dose> {
    let oral = Dose::bolus(0.0, 100.0);
    let iv = Dose::bolus(60.0, 80.0).into_cmt(2);
    if explicit {
        let mut d: Vec<Dose> = (-40..=3)
            .map(|k| Dose {
                time: 12.0 * f64::from(k),
                ..oral.clone()
            })
            .collect();
        d.push(iv.with_rate(DoseRate::Rate(40.0)));
        d
    } else {
        vec![
            oral.repeat(3, 12.0).steady_state(),
            iv.with_rate(DoseRate::ModelledDuration),
        ]
    }
}

/// Subject `i` with its doses and the observations `values` at [`TIMES`], in time order.
fn subject(i: usize, explicit: bool, values: &[f64]) -> Subject {
    let mut b = Subject::builder(format!("{i}"));
    let mut pending: Vec<Dose> = doses(explicit);
    pending.sort_by(|a, b| a.time.total_cmp(&b.time));
    let mut next = pending.into_iter().peekable();
    for (t, y) in TIMES.iter().zip(values) {
        while let Some(d) = next.next_if(|d| d.time <= *t) {
            b = b.dose_event(d);
        }
        b = b.observe(*t, "cp", *y);
    }
    for d in next {
        b = b.dose_event(d);
    }
    b.build().unwrap()
}

/// Twelve subjects with log-normal CL and V (ω² 0.09) and 10% proportional error, seeded.
fn data(explicit: bool) -> Dataset {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(10);
    let normal = Normal::new(0.0, 1.0).unwrap();
    let typical = OneCmtOralParams::new(1.0, 5.0, 50.0)
        .unwrap()
        .with("d2", 2.0)
        .unwrap();
    let subjects = (0..12)
        .map(|i| {
            let (e_cl, e_v) = (0.3 * normal.sample(&mut rng), 0.3 * normal.sample(&mut rng));
            let p = typical
                .with_all(&[("cl", 5.0 * f64::exp(e_cl)), ("v", 50.0 * f64::exp(e_v))])
                .unwrap();
            let design = subject(i, false, &[1.0; 10]);
            let sim =
                simulate_subject(&OneCmtOral, &p, &design, &SolverOptions::default()).unwrap();
            let cp = sim.get("cp").unwrap();
            let noisy: Vec<f64> = design
                .records()
                .zip(cp)
                .filter(|(r, _)| matches!(r, cart_pkpd::data::Record::Observation(_)))
                .map(|(_, c)| c * (1.0 + 0.1 * normal.sample(&mut rng)))
                .collect();
            subject(i, explicit, &noisy)
        })
        .collect();
    Dataset::new(subjects).unwrap()
}

fn fit(data: &Dataset) -> PopulationFit {
    let initial = OneCmtOralParams::new(0.8, 4.0, 40.0)
        .unwrap()
        .with("d2", 2.0)
        .unwrap();
    let spec = PopulationSpec::new(initial)
        .estimate(&["ka", "cl", "v"])
        .random_diagonal(&[("cl", 0.1), ("v", 0.1)])
        .residual("cp", ErrorModel::Proportional { cv: 0.2 });
    let opts = PopulationOptions {
        covariance: false,
        ..PopulationOptions::default()
    };
    fit_population(&OneCmtOral, data, &spec, &opts).unwrap()
}

#[test]
fn steady_state_additional_and_modelled_doses_fit_as_their_explicit_records() {
    let (compact, explicit) = (data(false), data(true));
    assert_eq!(compact.subjects()[0].doses().len(), 2);
    assert_eq!(explicit.subjects()[0].doses().len(), 45);
    let (a, b) = (fit(&compact), fit(&explicit));
    eprintln!("OFV compact {:.8}, explicit {:.8}", a.ofv, b.ofv);
    assert!((a.ofv - b.ofv).abs() < 1e-6, "OFV {} vs {}", a.ofv, b.ofv);
    for (x, y) in a.theta.iter().zip(&b.theta) {
        assert!(
            (x.value / y.value - 1.0).abs() < 1e-5,
            "{} {} vs {}",
            x.name,
            x.value,
            y.value
        );
    }
    for (x, y) in a.omega.iter().zip(&b.omega) {
        assert!(
            (x.value / y.value - 1.0).abs() < 1e-4,
            "{} {} vs {}",
            x.name,
            x.value,
            y.value
        );
    }
}
