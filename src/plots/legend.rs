//! A legend drawn in its own drawing area, beside the data.

use super::plot_error;
use crate::error::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Glyph {
    /// A solid line.
    Line(RGBColor),
    /// A dashed line.
    Dashed(RGBColor),
    /// A filled circle.
    Dot(RGBColor),
    /// A filled triangle.
    Triangle(RGBColor),
    /// A filled square.
    Square(RGBColor),
    /// An open circle.
    Open(RGBColor),
    /// A filled downward triangle.
    Down(RGBColor),
    /// An open square.
    OpenSquare(RGBColor),
    /// A cross.
    Cross(RGBColor),
    /// A shaded band.
    Band(RGBColor),
}

/// Draws `entries` top-down in `area`.
pub(crate) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    entries: &[(Glyph, String)],
) -> Result<()> {
    let font = ("sans-serif", 14).into_font();
    area.draw(&Text::new(
        title.to_owned(),
        (8, 20),
        font.clone().style(FontStyle::Bold),
    ))
    .map_err(plot_error)?;
    for (i, (glyph, label)) in entries.iter().enumerate() {
        let y = 46 + 24 * i as i32;
        let (x0, x1) = (10, 40);
        match *glyph {
            Glyph::Line(c) => {
                area.draw(&PathElement::new(vec![(x0, y), (x1, y)], c.stroke_width(2)))
            }
            Glyph::Dashed(c) => {
                for k in 0..3 {
                    let a = x0 + 11 * k;
                    area.draw(&PathElement::new(
                        vec![(a, y), (a + 6, y)],
                        c.stroke_width(2),
                    ))
                    .map_err(plot_error)?;
                }
                Ok(())
            }
            Glyph::Dot(c) => area.draw(&Circle::new((25, y), 5, c.filled())),
            Glyph::Triangle(c) => area.draw(&TriangleMarker::new((25, y), 6, c.filled())),
            Glyph::Square(c) => area.draw(&Rectangle::new([(20, y - 5), (30, y + 5)], c.filled())),
            Glyph::Open(c) => area.draw(&Circle::new((25, y), 5, c.stroke_width(2))),
            Glyph::Down(c) => area.draw(&Polygon::new(
                vec![(19, y - 5), (31, y - 5), (25, y + 6)],
                c.filled(),
            )),
            Glyph::OpenSquare(c) => area.draw(&Rectangle::new(
                [(20, y - 6), (30, y + 6)],
                c.stroke_width(1),
            )),
            Glyph::Cross(c) => area.draw(&Cross::new((25, y), 5, c.stroke_width(2))),
            Glyph::Band(c) => area.draw(&Rectangle::new(
                [(x0, y - 6), (x1, y + 6)],
                c.mix(0.35).filled(),
            )),
        }
        .map_err(plot_error)?;
        area.draw(&Text::new(label.clone(), (x1 + 8, y - 7), font.clone()))
            .map_err(plot_error)?;
    }
    Ok(())
}
