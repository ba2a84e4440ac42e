//! The NONMEM-style report of a population fit: objective values, θ, Ω with %CV and
//! shrinkage, σ, ε-shrinkage and warnings.

use super::{EstimationMethod, PopulationFit};
use crate::digits::{decimals, interval, optional};
use std::fmt;

/// A percentage with one decimal, or `-`.
fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |x| format!("{x:.1}"))
}

impl PopulationFit {
    /// The θ table.
    fn write_theta(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<22} {:>12} {:>10} {:>7} {:>25}",
            "THETA", "estimate", "SE", "RSE%", "95% CI"
        )?;
        for e in &self.theta {
            writeln!(
                f,
                "{:<22} {:>12} {:>10} {:>7} {:>25}  {}",
                e.name,
                decimals(e.value, 6),
                optional(e.se, 5),
                percent(e.rse_percent),
                interval(e.ci95, 5),
                e.unit
            )?;
        }
        Ok(())
    }

    /// The Ω and σ tables and the ε-shrinkage.
    fn write_random(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<22} {:>12} {:>10} {:>7} {:>12} {:>25}",
            "OMEGA", "variance", "SE", "CV%", "shrinkage%", "95% CI"
        )?;
        for o in &self.omega {
            writeln!(
                f,
                "{:<22} {:>12} {:>10} {:>7} {:>12} {:>25}",
                o.name,
                decimals(o.value, 6),
                optional(o.se, 5),
                percent(o.cv_percent),
                percent(o.shrinkage_percent),
                interval(o.ci95, 5)
            )?;
        }
        writeln!(
            f,
            "{:<22} {:>12} {:>10} {:>7}",
            "SIGMA", "estimate", "SE", "RSE%"
        )?;
        for e in &self.sigma {
            writeln!(
                f,
                "{:<22} {:>12} {:>10} {:>7}",
                e.name,
                decimals(e.value, 6),
                optional(e.se, 5),
                percent(e.rse_percent)
            )?;
        }
        for e in &self.epsilon_shrinkage {
            writeln!(
                f,
                "{:<22} {:>12}",
                format!("EPSSHRINK {}", e.analyte),
                percent(e.percent)
            )?;
        }
        Ok(())
    }
}

/// NONMEM-style table of θ, Ω and σ.
impl fmt::Display for PopulationFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} population fit of `{}`: {} subjects, {} observations ({} censored, M3)",
            self.method, self.model, self.n_subjects, self.n_observations, self.n_censored
        )?;
        let likelihood = self
            .minus_two_ll_se
            .map(|se| format!(" ± {se:.4} (importance sampling)"))
            .unwrap_or_default();
        let work = match self.method {
            EstimationMethod::FoceI => "evaluations",
            EstimationMethod::Saem => "model solutions per subject",
        };
        writeln!(
            f,
            "OFV {:.4}   -2LL {:.4}{likelihood}   AIC {:.4}   BIC {:.4}   ({}, {} iterations, {} {work})",
            self.ofv,
            self.minus_two_ll,
            self.aic,
            self.bic,
            self.status,
            self.iterations,
            self.evaluations
        )?;
        if let Some(m) = self.standard_errors {
            writeln!(f, "standard errors {m}")?;
        }
        self.write_theta(f)?;
        self.write_random(f)?;
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}
