//! Reads a histogram out of Prometheus (or OpenMetrics) text, such as the
//! server's `skirmish_tick_duration_seconds` at `GET /metrics`, and
//! estimates quantiles from its buckets the way PromQL's
//! `histogram_quantile` does: linear interpolation inside the bucket the
//! rank falls in.
//!
//! The bots scrape before and after a run and report the difference, so a
//! long-running server's history does not blur the run's numbers.

use std::collections::BTreeMap;

/// One histogram series: cumulative buckets by upper bound, plus sum and
/// count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramSeries {
    /// `(le, cumulative count)`, sorted by `le`; the last is `+Inf` when the
    /// exposition has it.
    pub buckets: Vec<(f64, f64)>,
    /// `_sum`.
    pub sum: f64,
    /// `_count`.
    pub count: f64,
}

impl HistogramSeries {
    /// The observations made between `earlier` and `self` (same buckets).
    #[must_use]
    pub fn since(&self, earlier: &HistogramSeries) -> HistogramSeries {
        let before = |le: f64| {
            earlier
                .buckets
                .iter()
                .find(|(b, _)| b.total_cmp(&le).is_eq())
                .map_or(0.0, |(_, n)| *n)
        };
        HistogramSeries {
            buckets: self
                .buckets
                .iter()
                .map(|&(le, n)| (le, (n - before(le)).max(0.0)))
                .collect(),
            sum: (self.sum - earlier.sum).max(0.0),
            count: (self.count - earlier.count).max(0.0),
        }
    }

    /// Total observations: the `+Inf` bucket, else `_count`.
    #[must_use]
    pub fn total(&self) -> f64 {
        match self.buckets.last() {
            Some(&(le, n)) if le.is_infinite() => n,
            _ => self.count,
        }
    }

    /// Mean observation, `None` without observations.
    #[must_use]
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }

    /// The `q` quantile (0 to 1) estimated from the buckets; `None` without
    /// observations. A rank in the `+Inf` bucket answers the largest finite
    /// bound, as PromQL does.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.total();
        if total <= 0.0 || self.buckets.is_empty() {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total;
        let mut lower = (0.0, 0.0);
        for &(le, cumulative) in &self.buckets {
            if cumulative >= rank && cumulative > lower.1 {
                if le.is_infinite() {
                    return Some(lower.0);
                }
                let fraction = (rank - lower.1) / (cumulative - lower.1);
                return Some(lower.0 + (le - lower.0) * fraction);
            }
            if le.is_finite() {
                lower = (le, cumulative);
            }
        }
        Some(lower.0)
    }
}

/// Every series of histogram `name` in `text`, keyed by the value of label
/// `by` (empty when a series lacks it).
#[must_use]
pub fn histograms(text: &str, name: &str, by: &str) -> BTreeMap<String, HistogramSeries> {
    let mut out: BTreeMap<String, HistogramSeries> = BTreeMap::new();
    let bucket = format!("{name}_bucket");
    let sum = format!("{name}_sum");
    let count = format!("{name}_count");
    for line in text.lines() {
        let Some(sample) = parse_sample(line) else {
            continue;
        };
        let key = sample.label(by).unwrap_or_default().to_owned();
        if sample.name == bucket {
            let Some(le) = sample.label("le").and_then(parse_value) else {
                continue;
            };
            out.entry(key).or_default().buckets.push((le, sample.value));
        } else if sample.name == sum {
            out.entry(key).or_default().sum = sample.value;
        } else if sample.name == count {
            out.entry(key).or_default().count = sample.value;
        }
    }
    for series in out.values_mut() {
        series.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// The value of the unlabelled series `name` in `text`.
#[must_use]
pub fn value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter_map(parse_sample)
        .find(|s| s.name == name && s.labels.is_empty())
        .map(|s| s.value)
}

struct Sample<'a> {
    name: &'a str,
    labels: Vec<(&'a str, String)>,
    value: f64,
}

impl Sample<'_> {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// `name{k="v",...} value [timestamp] [# exemplar]`; `None` for comments,
/// blank lines and anything malformed.
fn parse_sample(line: &str) -> Option<Sample<'_>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(inner)?;
        labels = parsed;
        rest = after;
    }
    let value = parse_value(rest.split_whitespace().next()?)?;
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// Parses `k="v",k2="v2"}` and returns the labels and what follows `}`.
fn parse_labels(mut s: &str) -> Option<(Vec<(&str, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start_matches([',', ' ']);
        if let Some(after) = s.strip_prefix('}') {
            return Some((labels, after));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim();
        s = s[eq + 1..].trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break i,
                other => value.push(other),
            }
        };
        labels.push((key, value));
        s = &s[end + 1..];
    }
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = r#"# HELP skirmish_tick_duration_seconds Seconds one room tick took.
# TYPE skirmish_tick_duration_seconds histogram
skirmish_tick_duration_seconds_sum{room="main"} 0.5
skirmish_tick_duration_seconds_count{room="main"} 100
skirmish_tick_duration_seconds_bucket{le="0.001",room="main"} 50
skirmish_tick_duration_seconds_bucket{room="main",le="0.002"} 90
skirmish_tick_duration_seconds_bucket{room="main",le="0.004"} 100
skirmish_tick_duration_seconds_bucket{room="main",le="+Inf"} 100
skirmish_tick_duration_seconds_sum{room="odd \"one\""} 1.0
skirmish_tick_duration_seconds_count{room="odd \"one\""} 4
skirmish_tick_duration_seconds_bucket{room="odd \"one\"",le="1.0e-3"} 0
skirmish_tick_duration_seconds_bucket{room="odd \"one\"",le="+Inf"} 4 # {trace_id="x"} 0.9
skirmish_ticks_total{room="main"} 100
# EOF
"#;

    #[test]
    fn parses_buckets_in_any_label_order() {
        let all = histograms(SCRAPE, "skirmish_tick_duration_seconds", "room");
        assert_eq!(all.len(), 2);
        let main = &all["main"];
        assert_eq!(
            main.buckets,
            vec![
                (0.001, 50.0),
                (0.002, 90.0),
                (0.004, 100.0),
                (f64::INFINITY, 100.0)
            ]
        );
        assert_eq!((main.sum, main.count), (0.5, 100.0));
        assert_eq!(main.mean(), Some(0.005));
        let odd = &all["odd \"one\""];
        assert_eq!(odd.buckets, vec![(0.001, 0.0), (f64::INFINITY, 4.0)]);
        assert!(histograms(SCRAPE, "absent", "room").is_empty());
        assert!(histograms("", "skirmish_tick_duration_seconds", "room").is_empty());
    }

    #[test]
    fn quantiles_interpolate_like_promql() {
        let all = histograms(SCRAPE, "skirmish_tick_duration_seconds", "room");
        let main = &all["main"];
        // Rank 50 is the top of the first bucket; interpolation from 0.
        assert_eq!(main.quantile(0.5), Some(0.001));
        assert!((main.quantile(0.25).expect("q") - 0.0005).abs() < 1e-12);
        // Rank 99 is 9/10 of the way through (0.002, 0.004].
        assert!((main.quantile(0.99).expect("q") - 0.0038).abs() < 1e-12);
        // Everything above the last finite bound: that bound.
        assert_eq!(all["odd \"one\""].quantile(0.5), Some(0.001));
        assert_eq!(HistogramSeries::default().quantile(0.5), None);
    }

    #[test]
    fn differences_cover_only_the_run() {
        let before = HistogramSeries {
            buckets: vec![(0.001, 10.0), (0.002, 10.0), (f64::INFINITY, 10.0)],
            sum: 0.005,
            count: 10.0,
        };
        let after = HistogramSeries {
            buckets: vec![(0.001, 10.0), (0.002, 30.0), (f64::INFINITY, 30.0)],
            sum: 0.035,
            count: 30.0,
        };
        let run = after.since(&before);
        assert_eq!(
            run.buckets,
            vec![(0.001, 0.0), (0.002, 20.0), (f64::INFINITY, 20.0)]
        );
        assert_eq!(run.count, 20.0);
        assert!((run.mean().expect("mean") - 0.0015).abs() < 1e-12);
        assert!((run.quantile(0.5).expect("q") - 0.0015).abs() < 1e-12);
    }
}
