//! Figure 2's numbers against hand computations on a small data set, and its drawing
//! checked by parsing the SVG: markers per visit, all-BLQ visits, the split time axis.

#[cfg(feature = "plots")]
mod render;

use cart_pkpd::cart::Figure2;
use cart_pkpd::models::{CarTBCell, CarTBCellParams};
use cart_pkpd::{Dose, Parameters, Simulation, SolverOptions, Subject, simulate};

/// Three subjects: transgene at days 7 and 28, B cells at days 0, 14 (all below the
/// LLOQ of 1 cell/µL) and 90, with phenotype counts where the B cells are quantified.
fn subjects() -> Vec<Subject> {
    let transgene = [[100.0, 20.0], [1000.0, 3.0], [10000.0, 40.0]];
    let b_day0 = [80.0, 120.0, 100.0];
    // naive, memory, double negative at day 90
    let phenotype = [[9.0, 0.6, 0.4], [4.0, 1.0, 0.0], [2.0, 0.0, 0.0]];
    (0..3)
        .map(|i| {
            let [n, m, d] = phenotype[i];
            let day28 = transgene[i][1];
            let b = Subject::builder(format!("S{i}"))
                .dose_event(Dose::infusion(0.0, 10.0, 240.0))
                .observe_with_lloq(0.0, "b_cells", b_day0[i], 1.0)
                .observe_with_lloq(7.0, "transgene", transgene[i][0], 5.0)
                .observe_censored(14.0, "b_cells", 1.0);
            let b = if day28 < 5.0 {
                b.observe_censored(28.0, "transgene", 5.0)
            } else {
                b.observe_with_lloq(28.0, "transgene", day28, 5.0)
            };
            b.observe_with_lloq(90.0, "b_cells", n + m + d, 1.0)
                .observe(90.0, "naive_b", n)
                .observe(90.0, "memory_b", m)
                .observe(90.0, "dn_b", d)
                .build()
                .unwrap()
        })
        .collect()
}

/// Five virtual subjects with B-cell killing from weak to strong.
fn simulations() -> Vec<Simulation> {
    [0.5, 1.0, 2.0, 4.0, 8.0]
        .iter()
        .map(|kmax| {
            let p = CarTBCellParams::default().with("kmax", *kmax).unwrap();
            let doses = [Dose::infusion(0.0, 10.0, 240.0)];
            let times = [0.0, 7.0, 28.0, 90.0, 180.0];
            simulate(&CarTBCell, &p, &doses, &times, &SolverOptions::default()).unwrap()
        })
        .collect()
}

fn figure() -> Figure2 {
    let subjects = subjects();
    let refs: Vec<&Subject> = subjects.iter().collect();
    let mut figure = Figure2::new(5.0, 1.0, [0.05, 0.95]).unwrap();
    figure
        .add_level(
            "DL1",
            "10 x 10^6 CAR+ T cells, n = 3",
            &refs,
            &simulations(),
        )
        .unwrap();
    figure
}

#[test]
fn summaries_equal_hand_computations() {
    let figure = figure();
    let level = &figure.levels[0];
    // observed: medians of three values; day 28 has one value (3) below the LLOQ of 5, so
    // the ordered values are BLQ, 20, 40 and the median is 20
    let t = &level.transgene.observed;
    assert_eq!((t[0].time, t[0].median.value()), (7.0, Some(1000.0)));
    assert_eq!((t[1].n_below_lloq, t[1].median.value()), (1, Some(20.0)));
    // day 14: every B-cell sample below the LLOQ; the median is BLQ
    let b = &level.b_cells.observed;
    assert_eq!((b[1].time, b[1].n_below_lloq), (14.0, 3));
    assert!(b[1].median.value().is_none());
    // pooled composition at day 90: naive 15 of 17 cells, memory 1.6, DN 0.4
    let c = &level.composition;
    assert_eq!(c.len(), 1); // day 0 has no phenotype counts: only day 90
    assert_eq!((c[0].time, c[0].n), (90.0, 3));
    approx::assert_relative_eq!(c[0].naive_pct, 1500.0 / 17.0, epsilon = 1e-12);
    approx::assert_relative_eq!(c[0].memory_pct, 160.0 / 17.0, epsilon = 1e-12);
    // every B-cell visit with the number sampled, quantified or not
    let visits: Vec<(f64, usize, usize)> = level
        .b_cell_visits
        .iter()
        .map(|v| (v.time, v.sampled, v.quantified))
        .collect();
    assert_eq!(visits, [(0.0, 3, 3), (14.0, 3, 0), (90.0, 3, 3)]);
    // model: the median of five simulations is the third smallest value
    let sims = simulations();
    for (i, row) in level.b_cells.model_uncensored.iter().enumerate() {
        let mut v: Vec<f64> = sims.iter().map(|s| s.get("b_cells").unwrap()[i]).collect();
        v.sort_by(f64::total_cmp);
        approx::assert_relative_eq!(row.median.value().unwrap(), v[2], max_relative = 1e-12);
        // with the LLOQ, a median under 1 cell/µL is reported as BLQ
        let censored = &level.b_cells.model[i];
        assert_eq!(censored.median.value().is_none(), v[2] < 1.0);
    }
}

#[test]
fn table_has_numbers_and_flags_only() {
    let csv = figure().table_csv();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[6..9], ["median", "p05", "p95"]);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // observed: 2 transgene and 3 B-cell visits; model: 5 times for each analyte
    assert_eq!(rows.len(), 2 + 3 + 5 + 5);
    let day14 = rows
        .iter()
        .find(|r| r[1] == "b_cells" && r[2] == "14" && r[3] == "observed")
        .unwrap();
    assert_eq!((day14[5], day14[6], day14[9]), ("3", "", "1"));
    for r in &rows {
        for field in &r[4..] {
            assert!(field.is_empty() || field.parse::<f64>().is_ok(), "{r:?}");
        }
    }
}

#[test]
fn invalid_figures_are_errors() {
    assert!(Figure2::new(5.0, 1.0, [0.95, 0.05]).is_err());
    assert!(Figure2::new(0.0, 1.0, [0.05, 0.95]).is_err());
    assert!(Figure2::new(5.0, f64::NAN, [0.05, 0.95]).is_err());
    // simulations of a model without B cells
    let p = cart_pkpd::models::CellularKineticsParams::stein_2019();
    let sim = simulate(
        &cart_pkpd::models::CellularKinetics,
        &p,
        &[Dose::bolus(0.0, 10.0)],
        &[0.0, 7.0],
        &SolverOptions::default(),
    )
    .unwrap();
    let subjects = subjects();
    let mut figure = Figure2::new(5.0, 1.0, [0.05, 0.95]).unwrap();
    let err = figure
        .add_level("DL1", "", &[&subjects[0]], &[sim])
        .unwrap_err();
    assert!(err.to_string().contains("b_cells"), "{err}");
    #[cfg(feature = "plots")]
    assert!(figure.svg("title", "caption").is_err());
}

/// The x positions of the text elements whose content is `label`.
#[cfg(feature = "plots")]
fn text_x(svg: &str, label: &str) -> Vec<f64> {
    svg.split("<text ")
        .skip(1)
        .filter(|p| {
            let content = p
                .split_once('>')
                .map(|(_, c)| c.split("</text>").next().unwrap_or(""));
            content.map(str::trim) == Some(label)
        })
        .filter_map(|p| p.split("x=\"").nth(1)?.split('"').next()?.parse().ok())
        .collect()
}

#[cfg(feature = "plots")]
#[test]
fn drawing_shows_every_visit_on_the_split_axis() {
    let svg = figure().svg("Figure 2", "Simulated data.").unwrap();
    // observed medians: 2 transgene + 3 B-cell visits, one circle each (the day-14 median
    // open at the LLOQ); the two profile legends each show a dot and an open circle
    assert_eq!(svg.matches("<circle").count(), 5 + 4);
    // the all-BLQ visit is labelled as such; the quantified ones with their n
    assert_eq!(text_x(&svg, "BLQ").len(), 1);
    assert_eq!(text_x(&svg, "3").len(), 1);
    // the split axis: day 28 lies 42% of the way from day 0 to the axis end (day 370) in
    // panels A and B, to the pixel
    let (x0, x28, x365) = (text_x(&svg, "0"), text_x(&svg, "28"), text_x(&svg, "365"));
    assert!(x0.len() >= 2 && x28.len() >= 2 && x365.len() >= 2);
    let fraction_365 = 0.42 + 0.58 * (365.0 - 28.0) / (370.0 - 28.0);
    let width = (x365[0] - x0[0]) / fraction_365;
    assert!(
        (x28[0] - x0[0] - 0.42 * width).abs() <= 1.5,
        "{x0:?} {x28:?} {x365:?}"
    );
    assert!(svg.contains("Days after infusion") && svg.contains("B cells (cells/µL)"));
    assert_eq!(render::off_palette(&svg), Vec::<String>::new());
    render::renders_to_png("figure2", &svg);
}
