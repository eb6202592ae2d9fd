//! The report's SVG plots, drawn with plotters (SVG backend, line series; no fonts are loaded:
//! text is left to the SVG viewer): the latency distribution per strategy, and the requests
//! each server received over time, one small panel per strategy.

use std::path::Path;

use plotters::prelude::*;

use crate::record::{BUCKET, Record};

/// Ten distinct colors and a gray (matplotlib's `tab10`).
const PALETTE: [RGBColor; 11] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(127, 127, 127),
];

/// The fraction of requests slower than the plot's lowest line: p99.99.
const TAIL: f64 = 1e-4;

type Error = Box<dyn std::error::Error>;

/// Draws with `draw` and turns its error into an IO error naming `path`.
pub(crate) fn write(
    path: &Path,
    draw: impl FnOnce(&Path) -> Result<(), Error>,
) -> std::io::Result<()> {
    draw(path).map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))
}

/// Points `(latency in ms, fraction of requests slower)` of sorted latencies, from the median
/// to p99.99 on a logarithmic grid of fractions.
pub(crate) fn tail_points(sorted_us: &[u32]) -> Vec<(f64, f64)> {
    if sorted_us.is_empty() {
        return Vec::new();
    }
    let n = sorted_us.len() as f64;
    // The median, then 20 points a decade from 10^-0.35 down to p99.99.
    std::iter::once(0.5)
        .chain((7..=80).map(|k| 10f64.powf(-f64::from(k) / 20.0)))
        .filter(|slower| *slower * n >= 1.0 && *slower >= TAIL * 0.999)
        .map(|slower| {
            let rank = ((1.0 - slower) * n).ceil() as usize;
            let us = sorted_us[rank.clamp(1, sorted_us.len()) - 1];
            (f64::from(us.max(1)) / 1000.0, slower)
        })
        .collect()
}

/// The latency distribution of each record (one line per strategy): how many requests were
/// slower than each latency, both axes logarithmic, so that the tail is as visible as the body.
pub(crate) fn latency(records: &[&Record], title: &str, path: &Path) -> Result<(), Error> {
    let series: Vec<(&str, Vec<(f64, f64)>)> = records
        .iter()
        .map(|r| (r.strategy, tail_points(&r.latencies_us)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    let xs = || series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0));
    let lo = xs().fold(f64::INFINITY, f64::min);
    let hi = xs().fold(0.0, f64::max);
    if !(lo.is_finite() && hi > 0.0) {
        return Err("no latencies to plot".into());
    }
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (lo / 1.2..hi * 1.2)
                .log_scale()
                .with_key_points(ticks(lo / 1.2, hi * 1.2)),
            (TAIL / 1.5..0.6).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("latency (ms)")
        .y_desc("fraction of requests slower")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y}"))
        .draw()?;
    for (i, (label, points)) in series.iter().enumerate() {
        // The hashing strategies (after the first five) are thinner. (Dashed lines would be
        // a polyline per dash, and most of the file.)
        let style = PALETTE[i % PALETTE.len()].stroke_width(if i >= 5 { 1 } else { 2 });
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))?
            .label(*label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Ticks at 1, 2 and 5 times the powers of ten between `lo` and `hi` (plotters' own ticks on
/// a logarithmic axis skip the body of a latency distribution).
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    (-3..6)
        .flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e)))
        .filter(|t| (lo..=hi).contains(t))
        .collect()
}

/// Requests per second each server received, per second of the run.
pub(crate) fn per_second(record: &Record) -> Vec<Vec<(f64, f64)>> {
    let per = (1_000_000_000 / BUCKET.as_nanos()) as usize;
    let servers = record.weights.len();
    (0..servers)
        .map(|s| {
            record
                .buckets
                .chunks(per)
                .enumerate()
                .filter(|(_, c)| c.len() == per)
                .map(|(sec, c)| {
                    (
                        sec as f64 + 0.5,
                        c.iter().map(|b| f64::from(b.picks[s])).sum(),
                    )
                })
                .collect::<Vec<(f64, f64)>>()
        })
        .map(|points| {
            // A server is drawn from its first request to its last: one that joins or leaves
            // is a line that starts or ends, not one along the axis.
            let first = points
                .iter()
                .position(|p| p.1 > 0.0)
                .unwrap_or(points.len());
            let last = points.iter().rposition(|p| p.1 > 0.0).map_or(0, |i| i + 1);
            points.get(first..last).unwrap_or_default().to_vec()
        })
        .collect()
}

/// Requests per second each server received over the run, one panel per strategy, one line per
/// server.
pub(crate) fn load(records: &[&Record], title: &str, path: &Path) -> Result<(), Error> {
    let columns = 4;
    let rows = records.len().div_ceil(columns).max(1);
    let root = SVGBackend::new(path, (1200, 80 + 250 * rows as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 20))?;
    let panels = root.split_evenly((rows, columns));
    let y_max = records
        .iter()
        .flat_map(|r| per_second(r).into_iter().flatten())
        .map(|p| p.1)
        .fold(1.0, f64::max);
    for (record, area) in records.iter().zip(&panels) {
        let series = per_second(record);
        let x_max = series.iter().flatten().map(|p| p.0).fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(area)
            .caption(record.strategy, ("sans-serif", 15))
            .margin(6)
            .x_label_area_size(28)
            .y_label_area_size(40)
            .build_cartesian_2d(0.0..x_max + 0.5, 0.0..y_max * 1.05)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(5)
            // No fine grid: eleven panels of it would be most of the file.
            .max_light_lines(0)
            .x_label_formatter(&|x| format!("{x:.0}s"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()?;
        for (i, points) in series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart.draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(1),
            ))?;
        }
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_points_run_from_the_median_to_the_tail() {
        let sorted: Vec<u32> = (1..=100_000).collect();
        let points = tail_points(&sorted);
        assert_eq!(points.first(), Some(&(50.0, 0.5)));
        let last = points.last().copied().expect("points");
        assert!((last.1 - TAIL).abs() < 1e-9, "{last:?}");
        assert!((last.0 - 99.99).abs() < 0.01, "{last:?}");
        assert!(
            points
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 > w[1].1)
        );
        assert!(tail_points(&[]).is_empty());
    }
}
