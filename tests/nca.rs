//! NCA and summaries against values computed by hand on small profiles.

use approx::assert_relative_eq;
use cart_pkpd::Subject;
use cart_pkpd::cart::{b_cell_nca, transgene_nca};
use cart_pkpd::nca::{AucMethod, BlqRule, NcaOptions, auc_linear_up_log_down, exposure_nca};
use cart_pkpd::summary::{Reported, describe, quantile_censored, summarize_observations};

#[test]
fn auc_interpolates_log_linearly_to_an_end_between_samples() {
    // 350 → 43.75 over days 14–35 halves every 7 d, so the level at 28 is 87.5:
    // AUC to 28 must equal the AUC of the profile observed at 28.
    let with_28 =
        auc_linear_up_log_down(&[0.0, 7.0, 14.0, 28.0], &[0.0, 700.0, 350.0, 87.5], 28.0).unwrap();
    let between =
        auc_linear_up_log_down(&[0.0, 7.0, 14.0, 35.0], &[0.0, 700.0, 350.0, 43.75], 28.0).unwrap();
    let hand = 0.5 * 700.0 * 7.0 + 350.0 * 7.0 / 2f64.ln() + (350.0 - 87.5) * 14.0 / 4f64.ln();
    assert_relative_eq!(with_28.unwrap(), hand, max_relative = 1e-12);
    assert_relative_eq!(between.unwrap(), hand, max_relative = 1e-12);
    // rising segments are linear, also when interpolated: 0→100 over 10 d, AUC to 5 = 125
    assert_relative_eq!(
        auc_linear_up_log_down(&[0.0, 10.0], &[0.0, 100.0], 5.0)
            .unwrap()
            .unwrap(),
        125.0
    );
    // falling to zero is linear (no log of 0): 10→0 over 2 d = 10
    assert_relative_eq!(
        auc_linear_up_log_down(&[0.0, 2.0], &[10.0, 0.0], 2.0)
            .unwrap()
            .unwrap(),
        10.0
    );
    // no extrapolation
    assert_eq!(
        auc_linear_up_log_down(&[0.0, 7.0, 14.0], &[0.0, 7.0, 3.0], 28.0).unwrap(),
        None
    );
    assert!(auc_linear_up_log_down(&[0.0, 7.0], &[1.0], 7.0).is_err());
}

#[test]
fn transgene_nca_handles_blq_before_and_after_the_quantified_values() {
    let s = Subject::builder("T")
        .dose(0.0, 10.0)
        .observe_censored(1.0, "transgene", 5.0) // before the first quantified value: 0
        .observe_with_lloq(4.0, "transgene", 80.0, 5.0)
        .observe_with_lloq(7.0, "transgene", 640.0, 5.0)
        .observe_censored(14.0, "transgene", 5.0) // after: left out
        .observe_with_lloq(28.0, "transgene", 40.0, 5.0)
        .observe_censored(90.0, "transgene", 5.0)
        .build()
        .unwrap();
    let nca = transgene_nca(&s, 28.0).unwrap().unwrap();
    assert_eq!((nca.cmax, nca.tmax), (640.0, 7.0));
    assert_eq!((nca.clast, nca.tlast), (40.0, 28.0));
    // (0,0) (1,0) (4,80) (7,640) (28,40): 0 + 120 + 2160 + 600·21/ln 16
    let hand =
        0.0 + 0.5 * 80.0 * 3.0 + 0.5 * (80.0 + 640.0) * 3.0 + (640.0 - 40.0) * 21.0 / 16f64.ln();
    assert_relative_eq!(nca.auc.unwrap(), hand, max_relative = 1e-12);
    // a subject followed only to day 14 has no AUC0–28
    let short = Subject::builder("S")
        .observe(7.0, "transgene", 100.0)
        .observe(14.0, "transgene", 50.0)
        .build()
        .unwrap();
    assert_eq!(transgene_nca(&short, 28.0).unwrap().unwrap().auc, None);
    // all below LLOQ: nothing to report; no observation at all: an error
    let blq = Subject::builder("B")
        .observe_censored(7.0, "transgene", 5.0)
        .build()
        .unwrap();
    assert_eq!(transgene_nca(&blq, 28.0).unwrap(), None);
    assert!(exposure_nca(&blq, "b_cells", &NcaOptions::auc_to(28.0)).is_err());
}

#[test]
fn blq_rules_and_auc_methods_give_their_trapezoids() {
    // samples at 2 (BLQ, LLOQ 4), 4 (80), 8 (BLQ, LLOQ 4), 12 (20); AUC to day 12
    let s = Subject::builder("R")
        .observe_censored(2.0, "cp", 4.0)
        .observe_with_lloq(4.0, "cp", 80.0, 4.0)
        .observe_censored(8.0, "cp", 4.0)
        .observe_with_lloq(12.0, "cp", 20.0, 4.0)
        .build()
        .unwrap();
    let auc = |auc_method, blq| {
        let opts = NcaOptions {
            auc_end: 12.0,
            auc_method,
            blq,
        };
        exposure_nca(&s, "cp", &opts).unwrap().unwrap().auc.unwrap()
    };
    let lin = |c1: f64, c2: f64, dt: f64| 0.5 * (c1 + c2) * dt;
    let log = |c1: f64, c2: f64, dt: f64| (c1 - c2) * dt / (c1 / c2).ln();
    // profile always starts at (0, 0); the leading BLQ is 0 under every rule but Exclude/HalfLloq
    let zero_then_exclude = lin(0.0, 0.0, 2.0) + lin(0.0, 80.0, 2.0) + log(80.0, 20.0, 8.0);
    assert_relative_eq!(
        auc(AucMethod::LinearUpLogDown, BlqRule::ZeroThenExclude),
        zero_then_exclude,
        max_relative = 1e-12
    );
    let linear = lin(0.0, 0.0, 2.0) + lin(0.0, 80.0, 2.0) + lin(80.0, 20.0, 8.0);
    assert_relative_eq!(
        auc(AucMethod::Linear, BlqRule::ZeroThenExclude),
        linear,
        max_relative = 1e-12
    );
    // Zero: the BLQ at day 8 is 0, so 80 → 0 and 0 → 20 are linear (no log of 0)
    let zero = lin(0.0, 80.0, 2.0) + lin(80.0, 0.0, 4.0) + lin(0.0, 20.0, 4.0);
    assert_relative_eq!(
        auc(AucMethod::LinearUpLogDown, BlqRule::Zero),
        zero,
        max_relative = 1e-12
    );
    // HalfLloq: 2 at days 2 and 8
    let half = lin(0.0, 2.0, 2.0) + lin(2.0, 80.0, 2.0) + log(80.0, 2.0, 4.0) + lin(2.0, 20.0, 4.0);
    assert_relative_eq!(
        auc(AucMethod::LinearUpLogDown, BlqRule::HalfLloq),
        half,
        max_relative = 1e-12
    );
    // Exclude: (0,0) (4,80) (12,20)
    let exclude = lin(0.0, 80.0, 4.0) + log(80.0, 20.0, 8.0);
    assert_relative_eq!(
        auc(AucMethod::LinearUpLogDown, BlqRule::Exclude),
        exclude,
        max_relative = 1e-12
    );
}

#[test]
fn b_cell_nca_without_depletion_and_without_return() {
    let never = Subject::builder("N")
        .observe_with_lloq(0.0, "b_cells", 150.0, 1.0)
        .observe_with_lloq(14.0, "b_cells", 3.0, 1.0)
        .observe_with_lloq(180.0, "b_cells", 60.0, 1.0)
        .observe_with_lloq(180.0, "naive_pct", 88.0, 1.0)
        .build()
        .unwrap();
    let nca = b_cell_nca(&never, 180.0).unwrap();
    assert_eq!((nca.nadir, nca.nadir_day), (Reported::Value(3.0), 14.0));
    assert_eq!((nca.depletion_day, nca.reappearance_day), (None, None));
    assert_eq!(nca.naive_pct_month6, Some(88.0)); // a naive_pct observation is used as is
    // a value below its LLOQ that is not flagged censored is a contradiction, not data
    let unflagged = Subject::builder("G")
        .observe_with_lloq(0.0, "b_cells", 150.0, 1.0)
        .observe_with_lloq(7.0, "b_cells", 0.4, 1.0)
        .build();
    assert!(unflagged.is_err());
    let gone = Subject::builder("G")
        .observe_with_lloq(0.0, "b_cells", 150.0, 1.0)
        .observe_censored(7.0, "b_cells", 1.0)
        .observe_censored(180.0, "b_cells", 1.0)
        .build()
        .unwrap();
    let nca = b_cell_nca(&gone, 180.0).unwrap();
    assert_eq!(
        (nca.nadir, nca.depletion_day, nca.reappearance_day),
        (Reported::BelowLloq, Some(7.0), None)
    );
    assert_eq!(nca.naive_pct_month6, None); // undefined while B cells are below LLOQ
}

#[test]
fn quantiles_match_r_type_7_and_blq_medians_are_reported_as_blq() {
    let v: Vec<Option<f64>> = [1.0, 2.0, 3.0, 4.0, 10.0]
        .iter()
        .map(|&x| Some(x))
        .collect();
    // R: quantile(c(1,2,3,4,10), c(0.05, 0.5, 0.95)) = 1.2, 3, 8.8
    assert_relative_eq!(
        quantile_censored(&v, 0.05).unwrap().value().unwrap(),
        1.2,
        max_relative = 1e-12
    );
    assert_relative_eq!(quantile_censored(&v, 0.5).unwrap().value().unwrap(), 3.0);
    assert_relative_eq!(
        quantile_censored(&v, 0.95).unwrap().value().unwrap(),
        8.8,
        max_relative = 1e-12
    );
    // 2 of 4 below LLOQ: the median falls between a BLQ and a value: BLQ
    let half = [None, Some(3.0), None, Some(5.0)];
    assert_eq!(quantile_censored(&half, 0.5).unwrap(), Reported::BelowLloq);
    assert_eq!(quantile_censored(&half, 0.9).unwrap(), Reported::Value(4.4));
    assert!(quantile_censored(&[], 0.5).is_err());
    assert!(quantile_censored(&v, 1.5).is_err());
}

#[test]
fn describe_gives_geometric_mean_and_cv() {
    let d = describe(&[2.0, 8.0]).unwrap();
    assert_relative_eq!(d.geometric_mean.unwrap(), 4.0, max_relative = 1e-12);
    // s = SD(ln 2, ln 8) = √2·ln 2; CV = 100·√(exp(s²) − 1)
    let s = 2f64.sqrt() * 2f64.ln();
    assert_relative_eq!(
        d.geometric_cv_percent.unwrap(),
        100.0 * (s * s).exp_m1().sqrt(),
        max_relative = 1e-12
    );
    assert_eq!(describe(&[0.0, 1.0]).unwrap().geometric_mean, None);
    assert_eq!(describe(&[5.0]).unwrap().geometric_cv_percent, None);
    assert!(describe(&[]).is_none());
}

#[test]
fn observed_summaries_per_visit() {
    let mk = |id: &str, b: Option<f64>| {
        let builder = Subject::builder(id).observe_with_lloq(0.0, "b_cells", 100.0, 1.0);
        match b {
            Some(v) => builder.observe_with_lloq(28.0, "b_cells", v, 1.0),
            None => builder.observe_censored(28.0, "b_cells", 1.0),
        }
        .build()
        .unwrap()
    };
    let subjects = [mk("1", None), mk("2", None), mk("3", Some(4.0))];
    let refs: Vec<&Subject> = subjects.iter().collect();
    let rows = summarize_observations(&refs, "b_cells", &[0.95]).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[1].time, rows[1].n, rows[1].n_below_lloq),
        (28.0, 3, 2)
    );
    assert_eq!(rows[1].median, Reported::BelowLloq);
    assert_eq!(rows[0].median, Reported::Value(100.0));
}
