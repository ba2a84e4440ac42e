//! The pooled B-cell phenotype composition per visit, observed or simulated: the naive,
//! memory and double-negative shares of the B cells of all subjects quantified then.

use super::{B_CELLS, DN_B, MEMORY_B, NAIVE_B};
use crate::data::Subject;
use crate::error::{Error, Result};
use crate::simulate::Simulation;

/// The pooled B-cell phenotype composition at one time.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Composition {
    /// Time (days).
    pub time: f64,
    /// Subjects contributing (B cells quantified at that time).
    pub n: usize,
    /// Naive cells as % of the pooled B cells.
    pub naive_pct: f64,
    /// Memory cells as %.
    pub memory_pct: f64,
    /// Double-negative cells as %.
    pub dn_pct: f64,
}

fn composition(time: f64, counts: &[[f64; 3]]) -> Option<Composition> {
    let total: [f64; 3] = counts
        .iter()
        .fold([0.0; 3], |a, c| [a[0] + c[0], a[1] + c[1], a[2] + c[2]]);
    let sum: f64 = total.iter().sum();
    (sum > 0.0).then(|| Composition {
        time,
        n: counts.len(),
        naive_pct: 100.0 * total[0] / sum,
        memory_pct: 100.0 * total[1] / sum,
        dn_pct: 100.0 * total[2] / sum,
    })
}

const PHENOTYPES: [&str; 3] = [NAIVE_B, MEMORY_B, DN_B];

/// Pooled phenotype composition per visit from observed `naive_b`, `memory_b`, `dn_b`
/// counts: `100 · Σ naive / Σ (naive + memory + DN)` over the subjects whose `b_cells` are
/// quantified at that visit and who have all three counts (a censored count counts as 0).
/// Visits where no subject qualifies are left out.
///
/// ```
/// use cart_pkpd::{cart::observed_composition, Subject};
/// let s = Subject::builder("1")
///     .observe(90.0, "b_cells", 10.0)
///     .observe(90.0, "naive_b", 9.0)
///     .observe(90.0, "memory_b", 0.6)
///     .observe(90.0, "dn_b", 0.4)
///     .build()?;
/// let c = observed_composition(&[&s]);
/// assert_eq!((c[0].time, c[0].naive_pct), (90.0, 90.0));
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
pub fn observed_composition(subjects: &[&Subject]) -> Vec<Composition> {
    let mut by_time: Vec<(f64, Vec<[f64; 3]>)> = Vec::new();
    for s in subjects {
        for b in s.observations_of(B_CELLS).filter(|o| !o.censored) {
            let count = |analyte: &str| {
                s.observations_of(analyte)
                    .find(|o| o.time == b.time)
                    .map(|o| if o.censored { 0.0 } else { o.value })
            };
            let [Some(n), Some(m), Some(d)] = PHENOTYPES.map(count) else {
                continue;
            };
            match by_time.iter_mut().find(|(t, _)| *t == b.time) {
                Some((_, v)) => v.push([n, m, d]),
                None => by_time.push((b.time, vec![[n, m, d]])),
            }
        }
    }
    by_time.sort_by(|a, b| a.0.total_cmp(&b.0));
    by_time
        .iter()
        .filter_map(|(t, c)| composition(*t, c))
        .collect()
}

/// Pooled phenotype composition at each output time of simulations sharing their times,
/// over the subjects whose simulated `b_cells` are at or above `lloq`.
///
/// # Errors
/// [`Error::InvalidTimes`] when the simulations' output times differ;
/// [`Error::UnknownAnalyte`] when a simulation lacks `b_cells` or a phenotype count.
pub fn simulated_composition(sims: &[Simulation], lloq: f64) -> Result<Vec<Composition>> {
    let Some(first) = sims.first() else {
        return Ok(Vec::new());
    };
    if sims.iter().any(|s| s.times != first.times) {
        return Err(Error::InvalidTimes {
            reason: "simulations to summarise must share their output times".into(),
        });
    }
    let columns = sims
        .iter()
        .map(|s| {
            let [n, m, d] = [
                s.get(PHENOTYPES[0])?,
                s.get(PHENOTYPES[1])?,
                s.get(PHENOTYPES[2])?,
            ];
            Ok((s.get(B_CELLS)?, n, m, d))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for (i, &t) in first.times.iter().enumerate() {
        let counts: Vec<[f64; 3]> = columns
            .iter()
            .filter(|c| c.0[i] >= lloq)
            .map(|c| [c.1[i], c.2[i], c.3[i]])
            .collect();
        out.extend(composition(t, &counts));
    }
    Ok(out)
}
