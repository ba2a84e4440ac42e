//! The simulated trial cohort follows its design: group sizes, follow-up cut-offs,
//! phenotype counts that add up to the total, and the seed.

use cart_pkpd::cart::bms986353_sle_design;
use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::population::PopulationModel;
use cart_pkpd::synthetic::simulate_cohort_dataset;
use cart_pkpd::{Error, SolverOptions};

fn cohort(seed: u64) -> cart_pkpd::Dataset {
    let pop = PopulationModel::<CarTBCell>::diagonal(
        CarTBCellParams::default(),
        &[("kmax", 0.09), ("b0", 0.3)],
    )
    .unwrap();
    simulate_cohort_dataset(
        &CarTBCell,
        &pop,
        &bms986353_sle_design(),
        &SolverOptions::default(),
        seed,
    )
    .unwrap()
}

#[test]
fn the_cohort_follows_the_reported_design() {
    let data = cohort(4);
    let design = bms986353_sle_design();
    assert_eq!(data.subjects().len(), 19);
    let dl2: Vec<_> = data
        .subjects()
        .iter()
        .filter(|s| s.covariate("DL") == Some(2.0))
        .collect();
    assert_eq!(dl2.len(), 6);
    assert!(dl2.iter().all(|s| s.doses()[0].amount == 25.0));
    // each subject's last sample is within its follow-up, and every follow-up is used once
    let mut last: Vec<f64> = data
        .subjects()
        .iter()
        .map(|s| s.observations().last().unwrap().time)
        .collect();
    last.sort_by(f64::total_cmp);
    let mut follow = design.follow_up_days.clone();
    follow.sort_by(f64::total_cmp);
    for (l, f) in last.iter().zip(&follow) {
        assert!(l <= f, "last sample {l} after follow-up {f}");
    }
    assert_eq!(last[0], 7.0); // the 7-day subject has its day-7 visit
}

#[test]
fn phenotype_counts_add_up_to_the_b_cells() {
    for s in cohort(4).subjects() {
        for b in s.observations_of("b_cells").filter(|o| !o.censored) {
            let part = |a: &str| s.observations_of(a).find(|o| o.time == b.time).unwrap();
            let (n, m, d) = (part("naive_b"), part("memory_b"), part("dn_b"));
            if !(n.censored || m.censored || d.censored) {
                approx::assert_relative_eq!(
                    n.value + m.value + d.value,
                    b.value,
                    max_relative = 1e-12
                );
            }
        }
        // no phenotype where B cells are below LLOQ
        for b in s.observations_of("b_cells").filter(|o| o.censored) {
            assert!(s.observations_of("naive_b").all(|o| o.time != b.time));
        }
    }
}

#[test]
fn the_seed_fixes_the_cohort_and_a_bad_design_is_an_error() {
    assert_eq!(cohort(4), cohort(4));
    assert_ne!(cohort(4), cohort(5));
    let pop = PopulationModel::<CarTBCell>::diagonal(CarTBCellParams::default(), &[("kmax", 0.09)])
        .unwrap();
    let mut design = bms986353_sle_design();
    design.follow_up_days.pop();
    let err = simulate_cohort_dataset(&CarTBCell, &pop, &design, &SolverOptions::default(), 1)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidDesign { .. }), "{err}");
}
