//! Charts as standalone SVG text: line charts for time series and bar
//! charts for histograms. Each is a whole `<svg>` element with its own
//! namespace, so it can sit inline in the HTML report or alone in a file
//! (`--svg-dir`, the study's plots). No scripts, fonts or links: text uses
//! the viewer's generic `sans-serif`.

use std::fmt::Write as _;

/// Chart size in user units.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 260.0;
/// Plot margins: left for the y labels, bottom for the x labels.
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 40.0;

/// Colours of successive series (colour-blind safe, Okabe-Ito).
const PALETTE: [&str; 6] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9",
];

/// One named line.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// `(x, y)` points, x increasing.
    pub points: Vec<(f64, f64)>,
}

/// Escapes text for XML content and attribute values.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A round step near `span / 5` (1, 2 or 5 times a power of ten).
fn step(span: f64) -> f64 {
    let raw = (span / 5.0).max(1e-9);
    let magnitude = 10f64.powf(raw.log10().floor());
    let unit = raw / magnitude;
    let nice = if unit <= 1.0 {
        1.0
    } else if unit <= 2.0 {
        2.0
    } else if unit <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

fn number(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn open(out: &mut String, title: &str) {
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11" role="img"><title>{t}</title><rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/><text x="{LEFT}" y="18" font-size="13" font-weight="bold">{t}</text>"##,
        t = escape(title)
    );
}

/// The y axis from 0 to `max` with grid lines; returns the scale's top.
fn y_axis(out: &mut String, max: f64, label: &str) -> f64 {
    let step = step(max.max(1e-9));
    let top = (max / step).ceil().max(1.0) * step;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        let y = TOP + plot_h * (1.0 - v / top);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{n}</text>"##,
            x2 = WIDTH - RIGHT,
            tx = LEFT - 4.0,
            ty = y + 4.0,
            n = number(v)
        );
        v += step;
    }
    let _ = write!(
        out,
        r#"<text x="12" y="{y}" transform="rotate(-90 12 {y})" text-anchor="middle">{l}</text>"#,
        y = TOP + plot_h / 2.0,
        l = escape(label)
    );
    top
}

/// A line chart of `series` over a shared x axis.
#[must_use]
pub fn lines(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let mut out = String::new();
    open(&mut out, title);
    let all = || series.iter().flat_map(|s| s.points.iter());
    let x_max = all().map(|p| p.0).fold(0.0, f64::max).max(1e-9);
    let y_max = all().map(|p| p.1).fold(0.0, f64::max);
    let top = y_axis(&mut out, y_max, y_label);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x_step = step(x_max);
    let mut x = 0.0;
    while x <= x_max + x_step / 2.0 {
        let px = LEFT + plot_w * x / x_max;
        if px <= WIDTH - RIGHT + 0.5 {
            let _ = write!(
                out,
                r#"<text x="{px:.1}" y="{y}" text-anchor="middle">{n}</text>"#,
                y = HEIGHT - BOTTOM + 14.0,
                n = number(x)
            );
        }
        x += x_step;
    }
    axis_label(&mut out, plot_w, x_label);
    for (k, s) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let path: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| {
                format!(
                    "{:.1},{:.1}",
                    LEFT + plot_w * x / x_max,
                    TOP + plot_h * (1.0 - y / top)
                )
            })
            .collect();
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{}"/><rect x="{lx}" y="{ly}" width="10" height="10" fill="{colour}"/><text x="{tx}" y="{ty}">{n}</text>"#,
            path.join(" "),
            lx = LEFT + 8.0 + 150.0 * k as f64,
            ly = 23.0,
            tx = LEFT + 22.0 + 150.0 * k as f64,
            ty = 32.0,
            n = escape(&s.name)
        );
    }
    out.push_str("</svg>");
    out
}

/// A bar chart: one bar per `(label, value)`, in order.
#[must_use]
pub fn bars(title: &str, x_label: &str, y_label: &str, bars: &[(String, f64)]) -> String {
    let mut out = String::new();
    open(&mut out, title);
    let y_max = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let top = y_axis(&mut out, y_max, y_label);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / bars.len().max(1) as f64;
    for (k, (label, value)) in bars.iter().enumerate() {
        let h = plot_h * value / top;
        let x = LEFT + slot * k as f64;
        let _ = write!(
            out,
            r#"<rect x="{bx:.1}" y="{by:.1}" width="{bw:.1}" height="{h:.1}" fill="{c}"><title>{t}: {v}</title></rect><text x="{tx:.1}" y="{ty}" text-anchor="middle">{t}</text>"#,
            bx = x + slot * 0.1,
            by = TOP + plot_h - h,
            bw = slot * 0.8,
            c = PALETTE[0],
            t = escape(label),
            v = number(*value),
            tx = x + slot / 2.0,
            ty = HEIGHT - BOTTOM + 14.0,
        );
    }
    axis_label(&mut out, plot_w, x_label);
    out.push_str("</svg>");
    out
}

/// The x axis's label, centred under a plot `plot_w` wide.
fn axis_label(out: &mut String, plot_w: f64, label: &str) {
    let _ = write!(
        out,
        r#"<text x="{x}" y="{y}" text-anchor="middle">{l}</text>"#,
        x = LEFT + plot_w / 2.0,
        y = HEIGHT - 6.0,
        l = escape(label)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        for (span, want) in [(100.0, 20.0), (7.0, 2.0), (0.3, 0.1)] {
            assert!((step(span) - want).abs() < 1e-9, "{span}: {}", step(span));
        }
    }

    #[test]
    fn text_is_escaped() {
        let svg = bars("a<b & \"c\"", "x", "y", &[("<1".into(), 3.0)]);
        assert!(svg.contains("a&lt;b &amp; &quot;c&quot;"));
        assert!(!svg.contains("<1"));
        let empty = lines("t", "x", "y", &[]);
        assert!(empty.starts_with("<svg") && empty.ends_with("</svg>"));
    }
}
