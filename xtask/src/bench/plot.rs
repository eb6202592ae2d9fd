//! The report's SVG plots, drawn with plotters (SVG backend, line series; no fonts are loaded:
//! text is left to the SVG viewer).
//!
//! - `select.svg`: select latency against N per strategy, `Pick` solid and `Selector` dashed;
//! - `balance.svg`: max/mean share against N for the hashing strategies and the uniform floor;
//! - `disruption.svg`: fraction of keys moved when one backend is removed, against the ideal 1/N.
//!
//! The x axis (backends, 10 to 10,000) is logarithmic; so is the y axis of the select and
//! disruption plots (2 to 200 ns; 0.001 to 1), while balance (1.0 to about 1.3) is linear.

use std::path::Path;

use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::criterion::Medians;
use super::data::Data;

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub(crate) label: String,
    pub(crate) points: Vec<(f64, f64)>,
    /// Index into the palette; series of one strategy share a color.
    pub(crate) color: usize,
    pub(crate) dashed: bool,
}

/// One chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chart {
    pub(crate) title: String,
    pub(crate) x_label: String,
    pub(crate) y_label: String,
    /// A logarithmic y axis (a linear one otherwise).
    pub(crate) log_y: bool,
    /// The legend goes in the lower left corner (else the upper left), where the lines are not.
    pub(crate) legend_low: bool,
    pub(crate) series: Vec<Series>,
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Select latency against N: one solid (`Pick`) and one dashed (`Selector`) line per strategy.
pub(crate) fn select_chart(medians: &Medians, strategies: &[&str], sizes: &[u64]) -> Chart {
    let mut series = Vec::new();
    for (color, s) in strategies.iter().enumerate() {
        for (variant, dashed) in [("pick", false), ("selector", true)] {
            let points: Vec<(f64, f64)> = sizes
                .iter()
                .filter_map(|n| {
                    let ns = medians.get(&format!("select/{s}/{variant}/{n}"))?;
                    Some((*n as f64, *ns))
                })
                .collect();
            if !points.is_empty() {
                let label = if dashed { "Selector" } else { "Pick" };
                series.push(Series {
                    label: format!("{s} ({label})"),
                    points,
                    color,
                    dashed,
                });
            }
        }
    }
    Chart {
        title: "select, one thread (solid: LoadBalancer::select → Pick; dashed: Selector)".into(),
        x_label: "backends".into(),
        y_label: "ns per select".into(),
        log_y: true,
        legend_low: false,
        series,
    }
}

/// Balance (max/mean) against N per hashing strategy, with the uniform noise floor.
pub(crate) fn balance_chart(data: &Data) -> Chart {
    let mut series = strategy_series(data, |q| q.max_over_mean);
    let floor: Vec<(f64, f64)> = data
        .baselines
        .iter()
        .map(|b| (b.n as f64, b.max_over_mean))
        .collect();
    if !floor.is_empty() {
        series.push(Series {
            label: "uniform random (noise floor)".into(),
            points: floor,
            color: PALETTE.len() - 1,
            dashed: true,
        });
    }
    Chart {
        title: "balance: busiest backend's share / mean share, 1,000,000 keys".into(),
        x_label: "backends".into(),
        y_label: "max / mean".into(),
        log_y: false,
        legend_low: false,
        series,
    }
}

/// Keys moved when one backend is removed, against N, with the ideal 1/N.
pub(crate) fn disruption_chart(data: &Data) -> Chart {
    let mut series = strategy_series(data, |q| q.moved_on_remove);
    let mut ideal: Vec<(f64, f64)> = data
        .quality
        .iter()
        .map(|q| (q.n as f64, q.ideal_remove))
        .collect();
    ideal.sort_by(|a, b| a.0.total_cmp(&b.0));
    ideal.dedup_by(|a, b| a.0 == b.0);
    if !ideal.is_empty() {
        series.push(Series {
            label: "ideal: 1/N".into(),
            points: ideal,
            color: PALETTE.len() - 1,
            dashed: true,
        });
    }
    Chart {
        title: "disruption: fraction of keys moved when one backend is removed".into(),
        x_label: "backends".into(),
        y_label: "fraction of keys moved".into(),
        log_y: true,
        legend_low: true,
        series,
    }
}

fn strategy_series(data: &Data, y: fn(&super::data::Quality) -> f64) -> Vec<Series> {
    let mut strategies: Vec<&str> = Vec::new();
    for q in &data.quality {
        if !strategies.contains(&q.strategy.as_str()) {
            strategies.push(&q.strategy);
        }
    }
    strategies
        .iter()
        .enumerate()
        .map(|(color, s)| Series {
            label: (*s).to_owned(),
            points: data
                .quality
                .iter()
                .filter(|q| q.strategy == *s)
                .map(|q| (q.n as f64, y(q)))
                .collect(),
            color,
            dashed: false,
        })
        .collect()
}

/// The smallest and largest finite coordinates (positive ones only for a log axis), widened a
/// little so that no point sits on the frame; `None` when there are none.
fn bounds(points: impl Iterator<Item = f64>, log: bool) -> Option<(f64, f64)> {
    let (lo, hi) = points
        .filter(|v| v.is_finite() && (!log || *v > 0.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return None;
    }
    Some(if log {
        (lo / 1.25, hi * 1.25)
    } else {
        let pad = (hi - lo).max(hi.abs() * 0.01).max(1e-9) * 0.1;
        (lo - pad, hi + pad)
    })
}

/// The 1-2-5 ticks of a logarithmic axis from `lo` to `hi`: 2, 5, 10, 20, 50, ... None when
/// `lo` is so small that its decade rounds to 0 (the loop would never end) or is not positive.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade > 0.0 && decade <= hi {
        for step in [1.0, 2.0, 5.0] {
            let tick = decade * step;
            if (lo..=hi).contains(&tick) {
                ticks.push(tick);
            }
        }
        decade *= 10.0;
    }
    ticks
}

/// An axis label with as many decimals as the value needs: `50`, `2.5`, `1.05`, `0.05`,
/// `0.001`.
pub(crate) fn label(v: f64) -> String {
    match v.abs() {
        a if a >= 10.0 || a == 0.0 => format!("{v:.0}"),
        a if a >= 1.0 => {
            let text = format!("{v:.2}");
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
        a => {
            let decimals = (-a.log10()).ceil().clamp(1.0, 9.0) as usize + 1;
            let text = format!("{v:.decimals$}");
            // `0.050` reads `0.05`; keep one digit after the leading zeros.
            let trimmed = text.trim_end_matches('0');
            if trimmed.ends_with('.') {
                text
            } else {
                trimmed.to_owned()
            }
        }
    }
}

/// Draws `chart` into the SVG file `path`, with a logarithmic x axis and a logarithmic or linear
/// y axis. A chart without a point to plot is an error.
pub(crate) fn draw(chart: &Chart, path: &Path) -> Result<(), String> {
    let all = || chart.series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = bounds(all().map(|p| p.0), true).ok_or("no points to plot")?;
    let (y0, y1) = bounds(all().map(|p| p.1), chart.log_y).ok_or("no points to plot")?;
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    // The two y axes have different types, so the drawing is written once for both.
    macro_rules! render {
        ($y:expr) => {{
            let mut ctx = ChartBuilder::on(&root)
                .caption(&chart.title, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d((x0..x1).log_scale(), $y)
                .map_err(|e| err(&e))?;
            ctx.configure_mesh()
                .x_desc(chart.x_label.as_str())
                .y_desc(chart.y_label.as_str())
                .y_labels(20)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| label(*y))
                .draw()
                .map_err(|e| err(&e))?;
            for s in &chart.series {
                let color = PALETTE[s.color % PALETTE.len()];
                let style = color.stroke_width(2);
                let points = s.points.iter().copied();
                if s.dashed {
                    ctx.draw_series(DashedLineSeries::new(points, 6, 4, style))
                        .map_err(|e| err(&e))?
                        .label(&s.label)
                        .legend(move |(x, y)| {
                            DashedPathElement::new(vec![(x, y), (x + 20, y)], 6, 4, style)
                        });
                } else {
                    ctx.draw_series(LineSeries::new(points, style))
                        .map_err(|e| err(&e))?
                        .label(&s.label)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                }
            }
            ctx.configure_series_labels()
                .position(if chart.legend_low {
                    SeriesLabelPosition::LowerLeft
                } else {
                    SeriesLabelPosition::UpperLeft
                })
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|e| err(&e))?;
        }};
    }
    if chart.log_y {
        render!((y0..y1).log_scale().with_key_points(ticks(y0, y1)));
    } else {
        render!(y0..y1);
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::data::{Baseline, Quality};
    use super::*;

    fn quality(strategy: &str, n: u64, balance: f64, moved: f64) -> Quality {
        Quality {
            strategy: strategy.into(),
            n,
            max_over_mean: balance,
            moved_on_remove: moved,
            ideal_remove: 1.0 / n as f64,
            moved_on_add: moved,
            ideal_add: 1.0 / (n as f64 + 1.0),
            table_size: None,
        }
    }

    #[test]
    fn labels_show_the_digits_that_matter() {
        assert_eq!(label(70.0), "70");
        assert_eq!(label(2.5), "2.5");
        assert_eq!(label(1.05), "1.05");
        assert_eq!(label(1.0), "1");
        assert_eq!(label(0.1), "0.1");
        assert_eq!(label(0.05), "0.05");
        assert_eq!(label(0.001), "0.001");
        assert_eq!(label(0.0), "0");
    }

    #[test]
    fn log_ticks_follow_1_2_5() {
        assert_eq!(ticks(1.5, 75.0), vec![2.0, 5.0, 10.0, 20.0, 50.0]);
        assert_eq!(
            ticks(0.0008, 1.25),
            vec![0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
        );
        // A subnormal low end whose decade is 0, or a non-positive one: no ticks, no endless loop.
        assert_eq!(ticks(5e-324, 1.0), Vec::<f64>::new());
        assert_eq!(ticks(0.0, 1.0), Vec::<f64>::new());
    }

    #[test]
    fn bounds_pad_the_range() {
        assert_eq!(
            bounds([10.0, 1000.0].into_iter(), true),
            Some((8.0, 1250.0))
        );
        assert_eq!(bounds([-1.0, 0.0].into_iter(), true), None);
        let (lo, hi) = bounds([1.0, 1.2].into_iter(), false).expect("points");
        assert!(lo < 1.0 && lo > 0.9 && hi > 1.2 && hi < 1.3, "{lo} {hi}");
    }

    #[test]
    fn select_chart_pairs_pick_and_selector_per_strategy() {
        let medians: Medians = [
            ("select/random/pick/10", 15.0),
            ("select/random/pick/100", 16.0),
            ("select/random/selector/10", 4.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let chart = select_chart(&medians, &["random", "consistent"], &[10, 100]);
        assert_eq!(chart.series.len(), 2);
        assert_eq!(chart.series[0].points, vec![(10.0, 15.0), (100.0, 16.0)]);
        assert!(!chart.series[0].dashed && chart.series[1].dashed);
        assert_eq!(chart.series[0].color, chart.series[1].color);
    }

    #[test]
    fn draws_svg_files_with_every_series() {
        let data = Data {
            quality: vec![
                quality("fnv_hash", 10, 1.002, 0.9),
                quality("fnv_hash", 100, 1.013, 0.99),
                quality("consistent", 10, 1.136, 0.1),
                quality("consistent", 100, 1.206, 0.01),
            ],
            baselines: vec![
                Baseline {
                    n: 10,
                    max_over_mean: 1.005,
                },
                Baseline {
                    n: 100,
                    max_over_mean: 1.028,
                },
            ],
            ..Data::default()
        };
        let dir = std::env::temp_dir().join(format!("xtask-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("writable");
        for (name, chart) in [
            ("balance.svg", balance_chart(&data)),
            ("disruption.svg", disruption_chart(&data)),
        ] {
            assert_eq!(chart.series.len(), 3, "{name}");
            let path = dir.join(name);
            draw(&chart, &path).expect("drawn");
            let svg = std::fs::read_to_string(&path).expect("readable");
            assert!(svg.starts_with("<svg"), "{name}");
            for s in &chart.series {
                assert!(svg.contains(&s.label), "{name} lacks {}", s.label);
            }
        }
        let empty = Chart {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_y: true,
            legend_low: false,
            series: vec![],
        };
        assert!(draw(&empty, &dir.join("empty.svg")).is_err());
        std::fs::remove_dir_all(&dir).expect("removable");
    }
}
