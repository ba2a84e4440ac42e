//! The trial's design: visit schedules, sampling with illustrative assay characteristics,
//! and the cohort of the BMS-986353 SLE phase 1 report.

use super::{B_CELLS, DN_B, DN_PCT, MEMORY_B, MEMORY_PCT, NAIVE_B, NAIVE_PCT, TRANSGENE};
use crate::error_model::ErrorModel;
use crate::synthetic::{
    CohortDesign, CompositionComponent, CompositionSampling, DoseLevel, Sampling,
};

/// Transgene sampling days of the trial's design (days from infusion; day 0 is the day of
/// infusion).
pub const TRIAL_TRANSGENE_DAYS: [f64; 13] = [
    0.0, 1.0, 4.0, 7.0, 10.0, 14.0, 21.0, 28.0, 60.0, 90.0, 180.0, 270.0, 365.0,
];

/// B-cell (flow cytometry) sampling days of the trial's design; the screening sample is
/// placed at day 0.
pub const TRIAL_B_CELL_DAYS: [f64; 9] = [0.0, 7.0, 14.0, 28.0, 60.0, 90.0, 180.0, 270.0, 365.0];

/// The month-6 visit (days from infusion) of the trial schedule.
pub const MONTH6_DAY: f64 = 180.0;

/// The trial's sampling design with illustrative assay characteristics: transgene (ddPCR)
/// on [`TRIAL_TRANSGENE_DAYS`], log-additive SD 0.4, LLOQ 5 copies/µg; CD19+ B cells
/// (flow cytometry) on [`TRIAL_B_CELL_DAYS`], log-additive SD 0.25, LLOQ 1 cell/µL. The
/// SDs and LLOQs are chosen for this project (typical of the assays, not reported by the
/// trial).
///
/// ```
/// let design = cart_pkpd::cart::trial_design();
/// assert_eq!(design[0].analyte, "transgene");
/// assert_eq!(design[1].lloq, Some(1.0));
/// ```
pub fn trial_design() -> Vec<Sampling> {
    vec![
        Sampling::new(
            TRANSGENE,
            &TRIAL_TRANSGENE_DAYS,
            ErrorModel::LogAdditive { sd: 0.4 },
            Some(5.0),
        ),
        Sampling::new(
            B_CELLS,
            &TRIAL_B_CELL_DAYS,
            ErrorModel::LogAdditive { sd: 0.25 },
            Some(1.0),
        ),
    ]
}

/// B-cell phenotype counts (`naive_b`, `memory_b`, `dn_b`, cells/µL) wherever total B cells
/// are quantified, drawn around model 2's `naive_pct`, `memory_pct`, `dn_pct` with this SD
/// of the log-ratio noise.
///
/// ```
/// let c = cart_pkpd::cart::b_cell_phenotypes(0.3);
/// assert_eq!(c.total, "b_cells");
/// assert_eq!(c.components[2].analyte, "dn_b");
/// ```
pub fn b_cell_phenotypes(sd: f64) -> CompositionSampling {
    let component = |share: &str, analyte: &str| CompositionComponent {
        share_output: share.to_owned(),
        analyte: analyte.to_owned(),
    };
    CompositionSampling {
        total: B_CELLS.to_owned(),
        components: vec![
            component(NAIVE_PCT, NAIVE_B),
            component(MEMORY_PCT, MEMORY_B),
            component(DN_PCT, DN_B),
        ],
        sd,
    }
}

/// The BMS-986353 SLE phase 1 design as reported (ACR Convergence 2025, abstract 1529):
/// DL1 10 × 10^6 CAR+ T cells n = 13, DL2 25 × 10^6 n = 6; follow-up median 181 days
/// (range 7–488), here 19 values with exactly that median and range; the sampling of
/// [`trial_design`]; phenotype composition noise SD 0.3.
///
/// ```
/// let d = cart_pkpd::cart::bms986353_sle_design();
/// assert_eq!(d.dose_levels.iter().map(|g| g.n).sum::<usize>(), 19);
/// let mut f = d.follow_up_days.clone();
/// f.sort_by(f64::total_cmp);
/// assert_eq!((f[0], f[9], f[18]), (7.0, 181.0, 488.0));
/// ```
pub fn bms986353_sle_design() -> CohortDesign {
    CohortDesign {
        dose_levels: vec![
            DoseLevel {
                label: "DL1".into(),
                level: 1,
                dose: 10.0,
                n: 13,
            },
            DoseLevel {
                label: "DL2".into(),
                level: 2,
                dose: 25.0,
                n: 6,
            },
        ],
        follow_up_days: vec![
            7.0, 28.0, 60.0, 90.0, 120.0, 150.0, 160.0, 170.0, 175.0, 181.0, 190.0, 200.0, 240.0,
            270.0, 300.0, 365.0, 400.0, 450.0, 488.0,
        ],
        sampling: trial_design(),
        composition: Some(b_cell_phenotypes(0.3)),
    }
}
