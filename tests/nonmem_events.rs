//! Dosing events against NONMEM 7.5 evaluation runs (`tests/data/nonmem/`, from the
//! ferx-core project's NONMEM anchors, MIT licence): modelled infusion rate and duration
//! (`RATE = -1/-2`, also with `ADDL`), zero-order input into an oral depot, and doses into
//! two compartments with F1, F2 and ALAG2. Each dataset is read from its NONMEM-format file
//! as a user would, simulated with the built-in PK model, and compared with NONMEM's
//! predictions to their printed digits — with the exact solution and with the ODE (by
//! Dopri5 and by Rodasp).

use cart_pkpd::data::CsvOptions;
use cart_pkpd::fit::{Censoring, FitSpec, Objective};
use cart_pkpd::models::pk::{OneCmtIv, OneCmtIvParams, OneCmtOral, OneCmtOralParams};
use cart_pkpd::{
    Dataset, ErrorModel, Integrator, Model, Parameters, SolverOptions, simulate_subject,
};

fn data_file(name: &str) -> String {
    format!("{}/tests/data/nonmem/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The exact solution, and the ODE at tight tolerances by each integrator.
fn solvers() -> [SolverOptions; 3] {
    let ode = SolverOptions::accurate().ode();
    [
        SolverOptions::default(),
        ode,
        ode.with_integrator(Integrator::Rodasp),
    ]
}

/// `ours` rounds to `printed` at the number of digits printed: |ours − printed| is at most
/// half a unit in the last printed place.
fn matches_printed(ours: f64, printed: &str) -> bool {
    let value: f64 = printed.parse().unwrap();
    let mantissa = printed.split(['E', 'e']).next().unwrap();
    let decimals = mantissa.split('.').nth(1).map_or(0, str::len) as i32;
    let exponent: i32 = printed
        .split(['E', 'e'])
        .nth(1)
        .map_or(0, |e| e.parse().unwrap());
    let half_unit = 0.5 * 10f64.powi(exponent - decimals);
    (ours - value).abs() <= half_unit * (1.0 + 1e-9)
}

/// `(time, prediction)` of each observation record of the single subject in `file`.
fn predictions<M: Model>(
    model: &M,
    params: &M::Params,
    file: &str,
    opts: &SolverOptions,
) -> Vec<(f64, f64)> {
    let data = Dataset::read_csv(data_file(file), &CsvOptions::for_model(model)).unwrap();
    let subject = &data.subjects()[0];
    let sim = simulate_subject(model, params, subject, opts).unwrap();
    let cp = sim.get("cp").unwrap();
    subject
        .records()
        .enumerate()
        .filter(|(_, r)| matches!(r, cart_pkpd::data::Record::Observation(_)))
        .map(|(i, r)| (r.time(), cp[i]))
        .collect()
}

/// The PRED column of an sdtab file, by time, for the observation rows (time > 0).
fn sdtab_pred(file: &str, pred_column: &str) -> Vec<(f64, String)> {
    let text = std::fs::read_to_string(data_file(file)).unwrap();
    let mut lines = text.lines().skip(1);
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let t = header.iter().position(|h| *h == "TIME").unwrap();
    let p = header.iter().position(|h| *h == pred_column).unwrap();
    lines
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f[t].parse::<f64>().unwrap() > 0.0)
        .map(|f| (f[t].parse().unwrap(), f[p].to_owned()))
        .collect()
}

fn check(ours: &[(f64, f64)], reference: &[(f64, String)], what: &str) {
    assert_eq!(
        ours.len(),
        reference.len(),
        "{what}: number of observations"
    );
    for ((t, y), (tr, printed)) in ours.iter().zip(reference) {
        assert_eq!(t, tr, "{what}");
        assert!(
            matches_printed(*y, printed),
            "{what} at t = {t}: {y} vs NONMEM {printed}"
        );
    }
}

#[test]
fn modelled_duration_matches_nonmem_pred() {
    // ADVAN1: CL 5, V 50, D1 5; AMT 100 with RATE = -2
    let p = OneCmtIvParams::new(5.0, 50.0)
        .unwrap()
        .with("d1", 5.0)
        .unwrap();
    let reference = sdtab_pred("modeled_duration.sdtab", "PRED");
    for opts in solvers() {
        check(
            &predictions(&OneCmtIv, &p, "modeled_duration_ref.csv", &opts),
            &reference,
            "RATE=-2",
        );
    }
}

#[test]
fn modelled_rate_matches_nonmem_dv() {
    // ADVAN1: CL 5, V 50, R1 20; the CSV's DV holds NONMEM's prediction to 3 decimals
    let p = OneCmtIvParams::new(5.0, 50.0)
        .unwrap()
        .with("r1", 20.0)
        .unwrap();
    let text = std::fs::read_to_string(data_file("modeled_rate_ref.csv")).unwrap();
    let reference: Vec<(f64, String)> = text
        .lines()
        .skip(2)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].parse().unwrap(), f[2].to_owned())
        })
        .collect();
    for opts in solvers() {
        check(
            &predictions(&OneCmtIv, &p, "modeled_rate_ref.csv", &opts),
            &reference,
            "RATE=-1",
        );
    }
}

/// One-compartment infusions of rate `r` over `d` starting at `starts`, by superposition of
/// the textbook closed form: during an infusion `r/CL·(1 − e^(−kτ))`, after it
/// `r/CL·(1 − e^(−kd))·e^(−k(τ − d))`.
fn infusions_closed_form(t: f64, starts: &[f64], r: f64, d: f64, cl: f64, v: f64) -> f64 {
    let k = cl / v;
    starts
        .iter()
        .filter(|&&s| t > s)
        .map(|&s| {
            let tau = t - s;
            if tau <= d {
                r / cl * (1.0 - (-k * tau).exp())
            } else {
                r / cl * (1.0 - (-k * d).exp()) * (-k * (tau - d)).exp()
            }
        })
        .sum()
}

#[test]
fn modelled_rate_and_duration_with_addl_keep_every_dose_an_infusion() {
    // ADDL = 2, II = 24: infusions of 20 over 5 h at 0, 24 and 48 h; observations at 26 and
    // 50 h fall inside the second and third infusions
    let base = OneCmtIvParams::new(5.0, 50.0).unwrap();
    let cases = [
        (
            "modeled_duration_addl_ref.csv",
            base.with("d1", 5.0).unwrap(),
        ),
        ("modeled_rate_addl_ref.csv", base.with("r1", 20.0).unwrap()),
    ];
    for (file, p) in cases {
        for opts in solvers() {
            for (t, y) in predictions(&OneCmtIv, &p, file, &opts) {
                let exact = infusions_closed_form(t, &[0.0, 24.0, 48.0], 20.0, 5.0, 5.0, 50.0);
                assert!(
                    (y - exact).abs() <= 1e-9 * exact,
                    "{file} t = {t}: {y} vs {exact}"
                );
            }
        }
    }
}

#[test]
fn zero_order_input_into_the_depot_matches_nonmem_pred() {
    // ADVAN2: CL 5, V 50, KA 1, D1 5 (RATE = -2 into the depot)
    let p = OneCmtOralParams::new(1.0, 5.0, 50.0)
        .unwrap()
        .with("d1", 5.0)
        .unwrap();
    let reference = sdtab_pred("oral_depot_d1.sdtab", "PRED");
    for opts in solvers() {
        check(
            &predictions(&OneCmtOral, &p, "oral_depot_d1.csv", &opts),
            &reference,
            "depot D1",
        );
    }
}

#[test]
fn doses_into_two_compartments_with_f_and_alag_match_nonmem_pred() {
    // ADVAN2: CL 5, V 50, KA 1.5; 100 into the depot (F1 0.7), 50 into central (F2 0.4,
    // ALAG2 2 h); NONMEM PRED as printed in the reference run
    let p = OneCmtOralParams::new(1.5, 5.0, 50.0)
        .unwrap()
        .with_all(&[("f1", 0.7), ("f2", 0.4), ("alag2", 2.0)])
        .unwrap();
    let printed = [
        (0.5, "0.718294"),
        (1.0, "1.022561"),
        (1.9, "1.153672"),
        (2.5, "1.513416"),
        (4.0, "1.329254"),
        (8.0, "0.893509"),
        (12.0, "0.598943"),
        (18.0, "0.328707"),
        (24.0, "0.180398"),
    ];
    let reference: Vec<(f64, String)> =
        printed.iter().map(|(t, v)| (*t, (*v).to_owned())).collect();
    for opts in solvers() {
        check(
            &predictions(&OneCmtOral, &p, "two_cmt_dose_ref.csv", &opts),
            &reference,
            "F1/F2/ALAG2",
        );
    }
}

#[test]
fn objective_function_of_the_evaluation_run_matches_nonmem() {
    // modeled_duration.ext: OBJ −46.548879491735718 for Y = IPRED·(1 + EPS(1)), σ² = 0.01,
    // with the CSV's DV (NONMEM's OFV leaves out the ln 2π constants)
    let data = Dataset::read_csv(
        data_file("modeled_duration_ref.csv"),
        &CsvOptions::for_model(&OneCmtIv),
    )
    .unwrap();
    let p = OneCmtIvParams::new(5.0, 50.0)
        .unwrap()
        .with("d1", 5.0)
        .unwrap();
    let spec = FitSpec::new(p.clone()).residual_fixed("cp", ErrorModel::Proportional { cv: 0.1 });
    let objective = Objective::new(
        &OneCmtIv,
        &data.subjects()[0],
        &spec,
        Censoring::M3,
        SolverOptions::default(),
    )
    .unwrap();
    let m2ll = objective
        .minus_two_ll_at(&p, &[ErrorModel::Proportional { cv: 0.1 }])
        .unwrap();
    let ofv = objective.ofv_from_minus_two_ll(m2ll);
    assert!((ofv - -46.548_879_491_735_72).abs() < 1e-6, "OFV {ofv}");
}
