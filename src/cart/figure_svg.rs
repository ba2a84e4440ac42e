//! Figure 2 drawn as SVG (feature `plots`).

use super::figure::{DoseLevelFigure, Figure2};
use crate::error::{Error, Result};
use crate::plots::legend::{self, Glyph};
use crate::plots::{
    BLACK, BLUISH_GREEN, GREY, GroupProfile, ORANGE, ProfileLabels, REDDISH_PURPLE, TimeAxis,
    draw_profiles, plot_error, time_mesh,
};
use plotters::coord::Shift;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const WIDTH: u32 = 1600;
const HEIGHT: u32 = 1150;
/// Days drawn wider: the expansion and contraction phase.
const SPLIT_DAY: f64 = 28.0;
/// The share of the time axis given to days 0–28.
const SPLIT_SHARE: f64 = 0.42;
const TICKS: [f64; 10] = [0.0, 7.0, 14.0, 21.0, 28.0, 60.0, 90.0, 180.0, 270.0, 365.0];
/// Naive, memory, double negative.
const PHENOTYPE_COLORS: [RGBColor; 3] = [BLUISH_GREEN, REDDISH_PURPLE, ORANGE];
/// Half the width of a composition bar (pixels).
const BAR: f64 = 9.0;

impl Figure2 {
    /// The figure as an SVG document (1600 × 1150 pixels): `title` above, `caption` below
    /// (e.g. where the observed data come from), and
    /// - **A** median transgene (copies/µg) and **B** median B cells (cells/µL) by dose
    ///   level on log axes: observed medians per visit (one marker shape per level, open
    ///   at the LLOQ when the median is below it), model medians (solid, dashed) with
    ///   their bands, the LLOQ dashed;
    /// - **C** per dose level, the observed naive / memory / double-negative shares of the
    ///   pooled B cells per visit as stacked bars, labelled with the number of subjects
    ///   with quantifiable B cells, visits with every sample below the LLOQ drawn as empty
    ///   bars labelled BLQ, and the model's naive share as crosses.
    ///
    /// Every panel has a time axis split at day 28: days 0–28 take 42% of its width, the
    /// months after it the rest, with ticks at the visit days.
    ///
    /// # Errors
    /// [`Error::Plot`] for a figure without dose levels or a drawing failure.
    pub fn svg(&self, title: &str, caption: &str) -> Result<String> {
        if self.levels.is_empty() {
            return Err(Error::Plot {
                reason: "Figure 2 has no dose levels".into(),
            });
        }
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            root.fill(&WHITE).map_err(plot_error)?;
            let root = root.titled(title, ("sans-serif", 24)).map_err(plot_error)?;
            let (_, height) = root.dim_in_pixel();
            let (body, foot) = root.split_vertically(height - 34);
            foot.draw(&Text::new(
                caption.to_owned(),
                (20, 8),
                ("sans-serif", 14).into_font(),
            ))
            .map_err(plot_error)?;
            let (top, bottom) = body.split_vertically(560);
            let (a, b) = top.split_horizontally(WIDTH / 2);
            self.profile_panel(&a, true)?;
            self.profile_panel(&b, false)?;
            let panels = bottom.split_evenly((1, self.levels.len()));
            for (area, level) in panels.iter().zip(&self.levels) {
                composition_panel(area, level)?;
            }
            root.present().map_err(plot_error)?;
        }
        Ok(svg)
    }

    /// Panel A (transgene) or B (B cells).
    fn profile_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        transgene: bool,
    ) -> Result<()> {
        let groups: Vec<GroupProfile> = self
            .levels
            .iter()
            .map(|l| {
                let p = if transgene { &l.transgene } else { &l.b_cells };
                GroupProfile {
                    label: &l.label,
                    observed: &p.observed,
                    model: &p.model_uncensored,
                }
            })
            .collect();
        let labels = if transgene {
            ProfileLabels {
                title: "A  Median transgene (ddPCR)".into(),
                y: "Transgene (copies/µg genomic DNA)".into(),
                x: "Days after infusion".into(),
                y_range: (1.0, 3e5),
                time: time_axis(0.0, 370.0)?,
                lloq: Some(self.transgene_lloq),
            }
        } else {
            ProfileLabels {
                title: "B  Median CD19+ B cells (flow cytometry)".into(),
                y: "B cells (cells/µL)".into(),
                x: "Days after infusion".into(),
                y_range: (1e-3, 2e3),
                time: time_axis(0.0, 370.0)?,
                lloq: Some(self.b_cell_lloq),
            }
        };
        draw_profiles(area, &labels, &groups)
    }
}

fn time_axis(start: f64, end: f64) -> Result<TimeAxis> {
    Ok(TimeAxis::split(start, SPLIT_DAY, end, SPLIT_SHARE)?.ticks(&TICKS))
}

/// Panel C for one dose level.
fn composition_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    level: &DoseLevelFigure,
) -> Result<()> {
    let (width, _) = area.dim_in_pixel();
    let (plot, side) = area.split_horizontally(width.saturating_sub(230));
    let axis = time_axis(-6.0, 376.0)?;
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            format!(
                "C  B-cell phenotype, {} ({})",
                level.label, level.description
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(axis.clone(), 0f64..112f64)
        .map_err(plot_error)?;
    time_mesh(&mut chart)
        .y_labels(6)
        .x_label_formatter(&|t| format!("{t}"))
        .y_label_formatter(&|v| {
            if *v <= 100.0 {
                format!("{v}")
            } else {
                String::new()
            }
        })
        .x_desc("Days after infusion (above a bar: subjects with quantifiable B cells)")
        .y_desc("% of CD19+ B cells")
        .draw()
        .map_err(plot_error)?;
    draw_bars(&mut chart, &axis, level)?;
    let model = level.composition.iter().filter_map(|c| {
        let m = level.model_composition.iter().find(|m| m.time == c.time)?;
        Some(Cross::new((c.time, m.naive_pct), 6, BLACK.stroke_width(2)))
    });
    chart.draw_series(model).map_err(plot_error)?;
    let entries = [
        (Glyph::Square(PHENOTYPE_COLORS[0]), "naive".to_owned()),
        (Glyph::Square(PHENOTYPE_COLORS[1]), "memory".to_owned()),
        (
            Glyph::Square(PHENOTYPE_COLORS[2]),
            "double negative".to_owned(),
        ),
        (Glyph::Cross(BLACK), "model naive %".to_owned()),
        (Glyph::OpenSquare(GREY), "all below LLOQ".to_owned()),
    ];
    legend::draw(&side, "Phenotype", &entries)
}

/// The stacked phenotype bars of each visit, labelled with the subjects contributing, and
/// the empty bars of the visits with every sample below the LLOQ.
fn draw_bars<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<TimeAxis, RangedCoordf64>>,
    axis: &TimeAxis,
    level: &DoseLevelFigure,
) -> Result<()> {
    let plot_width = chart.plotting_area().dim_in_pixel().0;
    let bar = |t: f64| {
        (
            axis.offset(t, -BAR, plot_width),
            axis.offset(t, BAR, plot_width),
        )
    };
    let font = ("sans-serif", 12)
        .into_text_style(chart.plotting_area())
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    for visit in &level.b_cell_visits {
        let (x0, x1) = bar(visit.time);
        let label = match level.composition.iter().find(|c| c.time == visit.time) {
            Some(c) => c.n.to_string(),
            None if visit.quantified == 0 => {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0, 0.0), (x1, 100.0)],
                        GREY.stroke_width(1),
                    )))
                    .map_err(plot_error)?;
                "BLQ".to_owned()
            }
            None => continue, // quantified, but without phenotype counts
        };
        chart
            .draw_series(std::iter::once(Text::new(
                label,
                (visit.time, 101.5),
                font.clone(),
            )))
            .map_err(plot_error)?;
    }
    for (k, color) in PHENOTYPE_COLORS.iter().enumerate() {
        chart
            .draw_series(level.composition.iter().map(|c| {
                let shares = [c.naive_pct, c.memory_pct, c.dn_pct];
                let lo: f64 = shares[..k].iter().sum();
                let (x0, x1) = bar(c.time);
                Rectangle::new([(x0, lo), (x1, lo + shares[k])], color.filled())
            }))
            .map_err(plot_error)?;
    }
    Ok(())
}
