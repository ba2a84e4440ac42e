//! Rendering SVG documents to PNG with `rsvg-convert` (librsvg), where it is installed.

/// Renders `svg` to PNG and checks that a PNG of the SVG's declared width came out;
/// `false` (with a note) where `rsvg-convert` is not installed.
///
/// # Panics
/// When the renderer fails or its output is not a PNG of the declared width.
pub fn renders_to_png(name: &str, svg: &str) -> bool {
    let Ok(probe) = std::process::Command::new("rsvg-convert")
        .arg("--version")
        .output()
    else {
        eprintln!("rsvg-convert is not installed: PNG rendering of {name} not checked");
        return false;
    };
    assert!(probe.status.success());
    let dir = std::env::temp_dir().join(format!("cart_pkpd_png_{}_{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join(format!("{name}.svg"));
    let output = dir.join(format!("{name}.png"));
    std::fs::write(&input, svg).unwrap();
    let status = std::process::Command::new("rsvg-convert")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .status()
        .unwrap();
    assert!(status.success(), "{name}");
    let png = std::fs::read(&output).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}");
    // the IHDR width is the SVG's width
    let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    let declared: u32 = svg
        .split("width=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|w| w.parse().ok())
        .unwrap();
    assert_eq!(width, declared, "{name}");
    std::fs::remove_dir_all(&dir).ok();
    true
}

/// The colours of `svg` outside the Okabe–Ito palette (black, orange, sky blue, bluish
/// green, blue, vermillion, reddish purple), white and the grey of reference lines.
pub fn off_palette(svg: &str) -> Vec<String> {
    const PALETTE: [&str; 9] = [
        "#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#FFFFFF",
        "#787878",
    ];
    let mut off: Vec<String> = ["fill=\"", "stroke=\""]
        .iter()
        .flat_map(|attr| svg.split(attr).skip(1))
        .filter_map(|rest| rest.split('"').next())
        .filter(|c| c.starts_with('#') && !PALETTE.contains(c))
        .map(str::to_owned)
        .collect();
    off.sort();
    off.dedup();
    off
}
