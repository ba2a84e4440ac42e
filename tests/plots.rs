//! The plots checked by parsing their SVG (series drawn, axis labels with units, legends)
//! and, where `rsvg-convert` is installed, by rendering them to PNG.
#![cfg(feature = "plots")]

mod model1_fit;
mod render;

use cart_pkpd::SolverOptions;
use cart_pkpd::models::CellularKinetics;
use cart_pkpd::nlme::FittedModel;
use model1_fit::{data, fitted, spec};

/// The SVG documents are parsed for what they must show: the series drawn, the axis
/// labels with units, and the legends.
#[cfg(feature = "plots")]
#[test]
fn plots_draw_every_series_with_labels_and_legends() {
    use cart_pkpd::diagnostics::{NpdeOptions, VpcOptions, npde, vpc};
    use cart_pkpd::plots::{VpcLabels, gof_svg, npde_svg, vpc_svg};
    let count = |svg: &str, tag: &str| svg.matches(tag).count();
    let data = data();
    let fit = fitted(&data);
    let spec = spec();
    let model = FittedModel::new(&CellularKinetics, &spec, &fit, SolverOptions::default()).unwrap();
    let labels = VpcLabels {
        x: "Time after infusion (d)".into(),
        y: "Transgene (copies/µg)".into(),
        log_y: true,
    };
    let opts = VpcOptions {
        replicates: 50,
        stratify: Some("GRP".into()),
        ..VpcOptions::default()
    };
    let v = vpc(&model, &data, "transgene", &opts).unwrap();
    let svg = vpc_svg(&v, &labels).unwrap();
    assert!(svg.starts_with("<svg"));
    // two strata: a percentile panel (3 bands) and a censored panel (1 band) each
    assert_eq!(count(&svg, "<polygon opacity=\"0.35\""), 2 * (3 + 1));
    // a triangle per observed outer percentile above the LLOQ, and one per outer
    // percentile in the legend
    let tails = v
        .bins
        .iter()
        .flat_map(|b| [&b.percentiles[0], &b.percentiles[2]])
        .filter(|p| p.observed.value().is_some())
        .count();
    assert_eq!(
        count(&svg, "<polygon opacity=\"1\" fill=\"#000000\""),
        tails + 2
    );
    assert_eq!(count(&svg, "Transgene (copies/µg)"), 2);
    assert_eq!(count(&svg, "Time after infusion (d)"), 2);
    assert!(svg.contains("transgene, GRP = 0") && svg.contains("transgene, GRP = 1"));
    assert!(svg.contains("observed 50th percentile") && svg.contains("90% PI"));
    // one filled circle per observed median above the LLOQ, and one in the legend
    let medians = v
        .bins
        .iter()
        .filter(|b| b.percentiles[1].observed.value().is_some())
        .count();
    assert_eq!(count(&svg, "<circle"), medians + 1);
    let n = npde(
        &model,
        &data,
        &NpdeOptions {
            replicates: 100,
            seed: 1,
        },
    )
    .unwrap();
    let svg = npde_svg(&n, "Time after infusion (d)").unwrap();
    // every NPDE twice (quantile-quantile and over time), and the legend's dot
    assert_eq!(count(&svg, "<circle"), 2 * n.rows.len() + 1);
    assert!(svg.contains("Quantile-quantile") && svg.contains("Shapiro-Wilk p"));
    let svg = gof_svg(
        &fit,
        "transgene",
        "copies/µg",
        "Time after infusion (d)",
        true,
    )
    .unwrap();
    let quantified = fit
        .subjects
        .iter()
        .flat_map(|s| &s.predictions)
        .filter(|p| !p.censored)
        .count();
    // two identity panels and two residual panels, each point once, and the legend's dot
    assert_eq!(count(&svg, "<circle"), 4 * quantified + 1);
    assert!(svg.contains("PRED transgene (copies/µg)") && svg.contains("CWRES"));
    assert!(gof_svg(&fit, "b_cells", "cells/µL", "d", true).is_err());
    // individual fits: every observation of the first six subjects, and two legend dots
    let svg = cart_pkpd::plots::individual_fits_svg(&fit, "transgene", "copies/µg", "d", true, 6)
        .unwrap();
    let shown: usize = fit.subjects[..6].iter().map(|s| s.predictions.len()).sum();
    assert_eq!(count(&svg, "<circle"), shown + 2);
    // one caption per subject shown (plotters writes text on a line of its own)
    assert!(svg.contains("\nS5\n") && !svg.contains("\nS6\n"));
    // random effects: a histogram and one scatter per covariate (a dot per subject)
    let svg = cart_pkpd::plots::eta_svg(&fit, &data, &["GRP"]).unwrap();
    assert_eq!(count(&svg, "<circle"), data.subjects().len());
    assert!(svg.contains("η cmax vs GRP"));
    assert!(cart_pkpd::plots::eta_svg(&fit, &data, &["WT"]).is_err());
}

/// Rendering to PNG, where the machine has a renderer (`rsvg-convert`, from librsvg): the
/// SVG documents are valid enough for a real renderer to draw them at their size.
#[cfg(feature = "plots")]
#[test]
fn plots_render_to_png_where_a_renderer_is_installed() {
    use cart_pkpd::diagnostics::{NpdeOptions, VpcOptions, npde, vpc};
    use cart_pkpd::plots::{VpcLabels, gof_svg, npde_svg, vpc_svg};
    let data = data();
    let fit = fitted(&data);
    let spec = spec();
    let model = FittedModel::new(&CellularKinetics, &spec, &fit, SolverOptions::default()).unwrap();
    let labels = VpcLabels {
        x: "Time (d)".into(),
        y: "Transgene (copies/µg)".into(),
        log_y: true,
    };
    let opts = VpcOptions {
        replicates: 30,
        ..VpcOptions::default()
    };
    let n = npde(
        &model,
        &data,
        &NpdeOptions {
            replicates: 50,
            seed: 1,
        },
    )
    .unwrap();
    let documents = [
        (
            "vpc",
            vpc_svg(&vpc(&model, &data, "transgene", &opts).unwrap(), &labels).unwrap(),
        ),
        ("npde", npde_svg(&n, "Time (d)").unwrap()),
        (
            "gof",
            gof_svg(&fit, "transgene", "copies/µg", "Time (d)", true).unwrap(),
        ),
    ];
    for (name, svg) in &documents {
        assert_eq!(render::off_palette(svg), Vec::<String>::new(), "{name}");
    }
    for (name, svg) in documents {
        if !render::renders_to_png(name, &svg) {
            return;
        }
    }
}
