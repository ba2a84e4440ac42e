//! Speed of the event engine and of reading NONMEM-format data: a one-compartment oral
//! subject with 100 additional doses (exact solution and ODE), the same at steady state,
//! and reading 10^5 and 10^6 records (and 10^5 dose records at one time) from CSV.
//!
//! Run: `cargo bench --bench events`

use cart_pkpd::data::CsvOptions;
use cart_pkpd::models::pk::{OneCmtOral, OneCmtOralParams};
use cart_pkpd::{Dataset, Dose, Parameters, SolverOptions, Subject, simulate_subject};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// 100 mg every 12 h, 101 doses, lag 0.5 h and F 0.8, sampled before and after every
/// fourth dose (51 observations); optionally at steady state from the first dose.
fn subject(steady_state: bool) -> Subject {
    let mut dose = Dose::bolus(0.0, 100.0).repeat(100, 12.0);
    if steady_state {
        dose = dose.steady_state();
    }
    let mut b = Subject::builder("1").dose_event(dose);
    for k in 0..=25 {
        let t = 48.0 * f64::from(k);
        b = b.observe(t + 2.0, "cp", 1.0);
        if k > 0 {
            b = b.observe(t + 11.9, "cp", 1.0);
        }
    }
    b.build().unwrap()
}

fn addl(c: &mut Criterion) {
    let p = OneCmtOralParams::new(1.2, 5.0, 50.0)
        .unwrap()
        .with_all(&[("alag1", 0.5), ("f1", 0.8)])
        .unwrap();
    let mut group = c.benchmark_group("one_cmt_oral_100_addl_doses");
    for (label, steady_state, opts) in [
        ("exact", false, SolverOptions::default()),
        ("ode_rtol_1e-6", false, SolverOptions::default().ode()),
        ("exact_steady_state", true, SolverOptions::default()),
        (
            "ode_rtol_1e-6_steady_state",
            true,
            SolverOptions::default().ode(),
        ),
    ] {
        let s = subject(steady_state);
        group.bench_function(label, |b| {
            b.iter(|| simulate_subject(&OneCmtOral, black_box(&p), &s, &opts).unwrap())
        });
    }
    group.finish();
}

/// `n` records: 100 per subject, a dose then 99 observations, a time-varying covariate.
fn csv_records(n: usize) -> String {
    let mut text = String::from("ID,TIME,DV,AMT,EVID,MDV,CMT,RATE,ADDL,II,SS,WT\n");
    for i in 0..n / 100 {
        text.push_str(&format!("{i},0,.,100,1,1,1,0,3,12,0,70\n"));
        for k in 1..100 {
            let wt = if k < 50 { 70 } else { 71 };
            text.push_str(&format!("{i},{k},{}.5,.,0,0,2,.,.,.,.,{wt}\n", k % 7));
        }
    }
    text
}

/// 10^5 dose records of one subject at the same time, then one observation.
fn same_time_doses(n: usize) -> String {
    let mut text = String::from("ID,TIME,DV,AMT,EVID,CMT\n");
    for _ in 0..n {
        text.push_str("1,0,.,1,1,1\n");
    }
    text.push_str("1,1,2,.,0,2\n");
    text
}

fn reading(c: &mut Criterion) {
    let opts = CsvOptions::for_model(&OneCmtOral);
    let mut group = c.benchmark_group("read_csv");
    group.sample_size(10);
    for (label, text) in [
        ("records_1e5", csv_records(100_000)),
        ("records_1e6", csv_records(1_000_000)),
        ("same_time_doses_1e5", same_time_doses(100_000)),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| Dataset::from_csv_reader(black_box(text.as_bytes()), &opts).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, addl, reading);
criterion_main!(benches);
