//! Model 2 (CAR-T × B cells): every behaviour `MODEL.md` lists for the default parameters,
//! at both dose levels, and closed-form checks of the B-cell system without CAR-T.

use approx::assert_relative_eq;
use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::{Dose, Model, Parameters, Simulation, SolverOptions, nca, simulate};

const DL1: f64 = 10.0;
const DL2: f64 = 25.0;
/// B-cell LLOQ of a high-sensitivity flow panel (cells/µL), the threshold MODEL.md uses.
const LLOQ: f64 = 1.0;

fn grid(step: f64, end: f64) -> Vec<f64> {
    (0..=(end / step).round() as usize)
        .map(|i| i as f64 * step)
        .collect()
}

fn run(p: &CarTBCellParams, dose: f64, times: &[f64]) -> Simulation {
    simulate(
        &CarTBCell,
        p,
        &[Dose::bolus(0.0, dose)],
        times,
        &SolverOptions::accurate(),
    )
    .unwrap()
}

struct Milestones {
    tmax: f64,
    cmax: f64,
    contraction_half_life: f64,
    terminal_half_life: f64,
    depletion_day: f64,
    reappearance_day: f64,
    naive_pct_day180: f64,
}

fn milestones(dose: f64) -> Milestones {
    let p = CarTBCellParams::default();
    let times = grid(0.01, 365.0);
    let sim = run(&p, dose, &times);
    let c = sim.get("transgene").unwrap();
    let b = sim.get("b_cells").unwrap();
    let peak = nca::peak(&times, c).unwrap();
    let at = |t: f64| times.iter().position(|&x| (x - t).abs() < 1e-9).unwrap();
    let i_peak = at(peak.tmax);
    // half-life over the week after the peak, and over the last 95 days
    let half_life =
        |i: usize, j: usize| std::f64::consts::LN_2 * (times[j] - times[i]) / (c[i] / c[j]).ln();
    Milestones {
        tmax: peak.tmax,
        cmax: peak.cmax,
        contraction_half_life: half_life(i_peak, i_peak + 700),
        terminal_half_life: half_life(at(270.0), at(365.0)),
        depletion_day: nca::depletion_time(&times, b, LLOQ).unwrap().unwrap(),
        reappearance_day: nca::reappearance_time(&times, b, LLOQ).unwrap().unwrap(),
        naive_pct_day180: sim.get("naive_pct").unwrap()[at(180.0)],
    }
}

fn check_listed_behaviour(dose: f64) -> Milestones {
    let m = milestones(dose);
    assert!((7.0..=14.0).contains(&m.tmax), "peak on day {}", m.tmax);
    assert!(
        (1.0..=14.0).contains(&m.contraction_half_life),
        "contraction half-life {} d",
        m.contraction_half_life
    );
    assert!(
        m.terminal_half_life > 3.0 * m.contraction_half_life,
        "persistence half-life {} d is not slow",
        m.terminal_half_life
    );
    assert!(
        m.depletion_day <= 10.0,
        "depleted on day {}",
        m.depletion_day
    );
    assert!(
        (80.0..=130.0).contains(&m.reappearance_day),
        "B cells back on day {}",
        m.reappearance_day
    );
    assert!(m.naive_pct_day180 >= 80.0, "naive {}%", m.naive_pct_day180);
    m
}

#[test]
fn dose_level_1_shows_every_listed_behaviour() {
    check_listed_behaviour(DL1);
}

#[test]
fn dose_level_2_shows_every_listed_behaviour_with_a_higher_not_later_peak() {
    let dl2 = check_listed_behaviour(DL2);
    let dl1 = milestones(DL1);
    assert!(
        dl2.cmax > dl1.cmax,
        "DL2 Cmax {} <= DL1 {}",
        dl2.cmax,
        dl1.cmax
    );
    assert!(
        dl2.tmax <= dl1.tmax,
        "DL2 Tmax {} > DL1 {}",
        dl2.tmax,
        dl1.tmax
    );
}

#[test]
fn without_car_t_the_b_cell_system_stays_at_baseline_for_a_year() {
    for n_transit in [0.0, 3.0, 6.0] {
        let p = CarTBCellParams::default()
            .with_all(&[("fld", 1.0), ("n_transit", n_transit)])
            .unwrap();
        let times = grid(5.0, 365.0);
        let sim = run(&p, 0.0, &times);
        let base = p.baseline();
        for (analyte, expected) in [
            ("b_cells", 200.0),
            ("naive_b", base.n0),
            ("memory_b", base.s0),
            ("dn_b", base.d0),
            ("naive_pct", 75.0),
        ] {
            for &v in sim.get(analyte).unwrap() {
                assert_relative_eq!(v, expected, max_relative = 1e-9);
            }
        }
        assert!(sim.get("transgene").unwrap().iter().all(|&c| c == 0.0));
    }
}

/// After lymphodepletion and no CAR-T, P = T = 1 and the blood compartments obey linear
/// ODEs with a closed form: N(t) = N0 + (fld − 1)·N0·e^(−kN·t), kN = dn + kns + knd, and for
/// S (likewise D with dd, knd): s = S − S0 solves s' = kns·(N − N0) − ds·s.
#[test]
fn without_car_t_lymphodepleted_b_cells_recover_as_the_closed_form() {
    let p = CarTBCellParams::default();
    let b = p.baseline();
    let fld = p.fld();
    let kn = p.dn() + b.kns + b.knd;
    let naive = |t: f64| b.n0 + (fld - 1.0) * b.n0 * (-kn * t).exp();
    let derived = |k: f64, d: f64, x0: f64, t: f64| {
        let c = k * (fld - 1.0) * b.n0 / (d - kn);
        let s0 = (fld - 1.0) * x0;
        x0 + c * (-kn * t).exp() + (s0 - c) * (-d * t).exp()
    };
    let times = grid(7.0, 364.0);
    let sim = run(&p, 0.0, &times);
    let (n, s, d) = (
        sim.get("naive_b").unwrap(),
        sim.get("memory_b").unwrap(),
        sim.get("dn_b").unwrap(),
    );
    for (i, &t) in times.iter().enumerate() {
        assert_relative_eq!(n[i], naive(t), max_relative = 1e-8);
        assert_relative_eq!(s[i], derived(b.kns, p.ds(), b.s0, t), max_relative = 1e-8);
        assert_relative_eq!(d[i], derived(b.knd, p.dd(), b.d0, t), max_relative = 1e-8);
    }
}

#[test]
fn transit_count_sets_the_state_layout_and_delays_return() {
    let names = |n: f64| {
        let p = CarTBCellParams::default().with("n_transit", n).unwrap();
        CarTBCell.state_names(&p)
    };
    for n in [0.0, 1.0, 3.0, 9.0] {
        let p = CarTBCellParams::default().with("n_transit", n).unwrap();
        assert_eq!(CarTBCell.n_states(&p), names(n).len());
    }
    assert_eq!(names(0.0), ["E", "M", "Z", "P", "N", "S", "D"]);
    assert_eq!(names(2.0), ["E", "M", "Z", "P", "T1", "T2", "N", "S", "D"]);
    // With the same mean transit time, more compartments give a sharper delay: B cells are
    // back later than with none (where repopulation starts as soon as P recovers).
    let back = |n: f64| {
        let p = CarTBCellParams::default().with("n_transit", n).unwrap();
        let t = grid(0.1, 365.0);
        let sim = run(&p, DL1, &t);
        nca::reappearance_time(&t, sim.get("b_cells").unwrap(), LLOQ)
            .unwrap()
            .unwrap()
    };
    assert!(back(0.0) < back(3.0), "{} vs {}", back(0.0), back(3.0));
}

#[test]
fn phenotype_percentages_add_to_100() {
    let sim = run(&CarTBCellParams::default(), DL1, &grid(10.0, 360.0));
    let (n, m, d) = (
        sim.get("naive_pct").unwrap(),
        sim.get("memory_pct").unwrap(),
        sim.get("dn_pct").unwrap(),
    );
    for i in 0..n.len() {
        assert_relative_eq!(n[i] + m[i] + d[i], 100.0, max_relative = 1e-12);
    }
}

/// Records before the infusion (a screening sample at day −14, lymphodepletion at day −5)
/// see the pre-treatment B cells and no transgene; after the infusion the subject is the
/// same as one whose records start at day 0 (the infusion applies the lymphodepletion).
#[test]
fn records_before_the_infusion_see_the_pre_treatment_state() {
    use cart_pkpd::{Subject, simulate_subject};
    let p = CarTBCellParams::default();
    let opts = SolverOptions::accurate();
    let with_history = Subject::builder("A")
        .observe(-14.0, "b_cells", 190.0)
        .observe(-14.0, "transgene", 1.0)
        .dose_event(Dose::bolus(-5.0, 30.0).into_state("LD"))
        .dose(0.0, DL1)
        .observe(7.0, "transgene", 2e4)
        .observe(28.0, "b_cells", 0.5)
        .build()
        .unwrap();
    let from_day_0 = Subject::builder("B")
        .dose(0.0, DL1)
        .observe(7.0, "transgene", 2e4)
        .observe(28.0, "b_cells", 0.5)
        .build()
        .unwrap();
    let a = simulate_subject(&CarTBCell, &p, &with_history, &opts).unwrap();
    let b = simulate_subject(&CarTBCell, &p, &from_day_0, &opts).unwrap();
    assert_relative_eq!(a.get("b_cells").unwrap()[0], 200.0, max_relative = 1e-12);
    assert_eq!(a.get("transgene").unwrap()[1], 0.0);
    for analyte in ["transgene", "b_cells", "naive_pct"] {
        let (x, y) = (a.get(analyte).unwrap(), b.get(analyte).unwrap());
        for (u, v) in x[3..].iter().zip(y) {
            assert_relative_eq!(*u, *v, max_relative = 1e-9);
        }
    }
    // the infusion's row carries the lymphodepleted B cells: fld × 200
    assert_relative_eq!(
        a.get("b_cells").unwrap()[3],
        p.fld() * 200.0,
        max_relative = 1e-12
    );
}
