//! The JSON lines the bench binaries write (`lb-benches`' `LB_BENCH_OUT` records and `report`
//! binary, the pingora comparison's `compare` and `memory` binaries), read into typed rows.
//!
//! Each line is one object with a `kind`. Lines of unknown kinds are counted and skipped, so a
//! newer binary does not break an older xtask; a line of a known kind that lacks a field it needs
//! is a warning naming the line.

use serde::{Deserialize, Deserializer};

use super::subset::{Balance, Churn};

/// A "quiet" batch timing of a select bench.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Quiet {
    pub(crate) id: String,
    pub(crate) fastest_ns: f64,
    pub(crate) p10_ns: f64,
}

/// Balance and disruption of one hashing strategy at one size.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Quality {
    pub(crate) strategy: String,
    pub(crate) n: u64,
    pub(crate) max_over_mean: f64,
    pub(crate) moved_on_remove: f64,
    pub(crate) ideal_remove: f64,
    pub(crate) moved_on_add: f64,
    pub(crate) ideal_add: f64,
    /// Maglev's rows: the size of the table measured.
    #[serde(default)]
    pub(crate) table_size: Option<u64>,
}

/// The balance of uniformly random placement: the noise floor at this many keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Baseline {
    pub(crate) n: u64,
    pub(crate) max_over_mean: f64,
}

/// Maglev's slots at one size: the busiest and lightest backend over its weighted fair share.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Slots {
    pub(crate) n: u64,
    pub(crate) weights: String,
    pub(crate) max_over_fair: f64,
    pub(crate) min_over_fair: f64,
}

/// One selector's memory: what its build retained (or why it could not be built).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "MemoryLine")]
pub(crate) struct Memory {
    pub(crate) strategy: String,
    pub(crate) n: u64,
    pub(crate) weights: String,
    /// Retained bytes (the larger of the counted bytes and `heap_bytes()`), or the build error.
    pub(crate) bytes: Result<u64, String>,
}

/// A `memory` line as written: the counted and reported bytes, or the error.
#[derive(Deserialize)]
struct MemoryLine {
    strategy: String,
    n: u64,
    weights: String,
    error: Option<String>,
    retained_bytes: Option<u64>,
    heap_bytes: Option<u64>,
}

impl TryFrom<MemoryLine> for Memory {
    type Error = &'static str;
    fn try_from(l: MemoryLine) -> Result<Memory, Self::Error> {
        let bytes = match (l.error, l.retained_bytes, l.heap_bytes) {
            (Some(e), _, _) => Err(e),
            (None, Some(r), Some(h)) => Ok(r.max(h)),
            _ => return Err("a memory line needs `error` or both byte counts"),
        };
        let (strategy, n, weights) = (l.strategy, l.n, l.weights);
        Ok(Memory {
            strategy,
            n,
            weights,
            bytes,
        })
    }
}

/// One select timing of the pingora comparison, ns per select (medians of batches).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct CompareSelect {
    pub(crate) strategy: String,
    pub(crate) n: u64,
    #[serde(rename = "lb_pick_ns")]
    pub(crate) lb_pick: f64,
    #[serde(rename = "lb_selector_ns")]
    pub(crate) lb_selector: f64,
    #[serde(rename = "pingora_ns")]
    pub(crate) pingora: f64,
}

/// One build timing of the pingora comparison, ns per build (medians).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct CompareBuild {
    pub(crate) strategy: String,
    pub(crate) n: u64,
    #[serde(rename = "lb_ns")]
    pub(crate) lb: f64,
    #[serde(rename = "pingora_ns")]
    pub(crate) pingora: f64,
}

/// One update timing of the pingora comparison, ns per update (medians): `changed` backends of
/// `n` added or removed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct CompareUpdate {
    pub(crate) strategy: String,
    pub(crate) n: u64,
    pub(crate) changed: u64,
    /// lb's `apply_delta` of the change.
    #[serde(rename = "lb_delta_ns")]
    pub(crate) lb_delta: f64,
    /// lb's `apply` of the whole set.
    #[serde(rename = "lb_full_ns")]
    pub(crate) lb_full: f64,
    #[serde(rename = "pingora_ns")]
    pub(crate) pingora: f64,
}

/// pingora's side of a memory comparison: `{"bytes": n}` or `{"estimated_bytes": n}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) enum PingoraBytes {
    /// Counted.
    #[serde(rename = "bytes")]
    Counted(u64),
    /// Too large to build here; the size its layout implies.
    #[serde(rename = "estimated_bytes")]
    Estimated(u64),
}

/// One memory row of the pingora comparison.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct CompareMemory {
    pub(crate) strategy: String,
    pub(crate) n: u64,
    pub(crate) weights: String,
    #[serde(deserialize_with = "bytes_or_error")]
    pub(crate) lb: Result<u64, String>,
    pub(crate) pingora: PingoraBytes,
}

/// `{"bytes": n}` or `{"error": "why"}`.
fn bytes_or_error<'de, D: Deserializer<'de>>(d: D) -> Result<Result<u64, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Built {
        Bytes(u64),
        Error(String),
    }
    Ok(match Built::deserialize(d)? {
        Built::Bytes(b) => Ok(b),
        Built::Error(e) => Err(e),
    })
}

/// First picks of lb and pingora on one set: how many of `keys` differ, and how many of those
/// land on ring ties.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct FirstPick {
    pub(crate) strategy: String,
    pub(crate) family: String,
    pub(crate) n: u64,
    pub(crate) weights: String,
    pub(crate) keys: u64,
    pub(crate) differ: u64,
    #[serde(default)]
    pub(crate) ties: u64,
}

/// How the comparison was run.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct CompareMeta {
    pub(crate) max_iterations: u64,
    pub(crate) batch: u64,
    pub(crate) select_rounds: u64,
    pub(crate) build_rounds: u64,
}

/// A row, or the error its strategy could not be built with (such rows are skipped).
#[derive(Deserialize)]
#[serde(untagged)]
enum Built<T> {
    Refused {
        #[serde(rename = "error")]
        _error: String,
    },
    Row(T),
}

/// One line, by its `kind`.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Quiet(Quiet),
    Quality(Built<Quality>),
    QualityBaseline(Baseline),
    Slots(Built<Slots>),
    Memory(Memory),
    Select(CompareSelect),
    Build(CompareBuild),
    Update(CompareUpdate),
    CompareMemory(CompareMemory),
    FirstPick(FirstPick),
    CompareMeta(CompareMeta),
    SubsetBalance(Balance),
    SubsetChurn(Churn),
    Million(super::million::MillionLine),
    HealthScale(super::health::HealthPass),
    #[serde(other)]
    Unknown,
}

/// Every row read.
#[derive(Debug, Default)]
pub(crate) struct Data {
    pub(crate) quiet: Vec<Quiet>,
    pub(crate) quality: Vec<Quality>,
    pub(crate) baselines: Vec<Baseline>,
    pub(crate) slots: Vec<Slots>,
    pub(crate) memory: Vec<Memory>,
    pub(crate) compare_select: Vec<CompareSelect>,
    pub(crate) compare_build: Vec<CompareBuild>,
    pub(crate) compare_update: Vec<CompareUpdate>,
    pub(crate) compare_memory: Vec<CompareMemory>,
    pub(crate) first_picks: Vec<FirstPick>,
    pub(crate) compare_meta: Option<CompareMeta>,
    pub(crate) subsets: super::subset::Subsets,
    pub(crate) million: Vec<super::million::Million>,
    pub(crate) health: Vec<super::health::HealthPass>,
    /// Lines of kinds this xtask does not know.
    pub(crate) unknown: usize,
}

impl Data {
    /// Reads the JSON lines of `text` (from `source`, for warnings); returns the warnings.
    pub(crate) fn add_lines(&mut self, source: &str, text: &str) -> Vec<String> {
        let mut warnings = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Line>(line) {
                Ok(line) => self.add(line),
                Err(e) => warnings.push(format!("{source}:{}: {e}", index + 1)),
            }
        }
        warnings
    }

    fn add(&mut self, line: Line) {
        match line {
            Line::Quiet(r) => self.quiet.push(r),
            Line::Quality(Built::Row(r)) => self.quality.push(r),
            Line::QualityBaseline(r) => self.baselines.push(r),
            Line::Slots(Built::Row(r)) => self.slots.push(r),
            Line::Quality(Built::Refused { .. }) | Line::Slots(Built::Refused { .. }) => {}
            Line::Memory(r) => self.memory.push(r),
            Line::Select(r) => self.compare_select.push(r),
            Line::Build(r) => self.compare_build.push(r),
            Line::Update(r) => self.compare_update.push(r),
            Line::CompareMemory(r) => self.compare_memory.push(r),
            Line::FirstPick(r) => self.first_picks.push(r),
            Line::CompareMeta(r) => self.compare_meta = Some(r),
            Line::SubsetBalance(r) => self.subsets.balance.push(r),
            Line::SubsetChurn(r) => self.subsets.churn.push(r),
            Line::Million(r) => self.million.push(r.into()),
            Line::HealthScale(r) => self.health.push(r),
            Line::Unknown => self.unknown += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_kind() {
        let text = r#"
{"kind":"quiet","id":"select/random/pick/10","fastest_ns":15.0,"p10_ns":15.5}
{"kind":"quality","strategy":"consistent","n":10,"keys":1000000,"max_over_mean":1.136,"moved_on_remove":0.1,"ideal_remove":0.1,"moved_on_add":0.0894,"ideal_add":0.0909}
{"kind":"quality","strategy":"consistent","n":10,"error":"ring too large"}
{"kind":"quality_baseline","n":10,"keys":1000000,"max_over_mean":1.005}
{"kind":"slots","strategy":"maglev","n":1000,"weights":"1","size":100003,"max_over_fair":1.0099,"min_over_fair":0.99}
{"kind":"memory","strategy":"random","n":1000,"weights":"1","retained_bytes":20000,"peak_bytes":56000,"heap_bytes":19000}
{"kind":"memory","strategy":"consistent","n":1000,"weights":"10000","error":"ring of 1600000000 points"}
{"kind":"select","strategy":"fnv_hash","n":10,"lb_pick_ns":29.3,"lb_selector_ns":21.3,"pingora_ns":150.9}
{"kind":"build","strategy":"consistent","n":10000,"lb_ns":6.2e7,"pingora_ns":2.5e8}
{"kind":"compare_memory","strategy":"random","n":1000,"weights":"10000","lb":{"bytes":20000},"pingora":{"bytes":20136000}}
{"kind":"compare_memory","strategy":"consistent","n":1000,"weights":"10000","lb":{"error":"too many points"},"pingora":{"estimated_bytes":12800000000}}
{"kind":"first_pick","strategy":"consistent","family":"ipv6","n":10,"weights":"1","keys":10000,"differ":9062,"ties":0}
{"kind":"compare_meta","max_iterations":256,"batch":1000,"select_rounds":1000,"build_rounds":11}
{"kind":"from_the_future","x":1}
"#;
        let mut data = Data::default();
        let warnings = data.add_lines("t.jsonl", text);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(data.quiet[0].p10_ns, 15.5);
        assert_eq!(data.quality.len(), 1);
        assert_eq!(data.quality[0].moved_on_add, 0.0894);
        assert_eq!(data.baselines[0].max_over_mean, 1.005);
        assert_eq!(data.slots[0].max_over_fair, 1.0099);
        assert_eq!(data.slots[0].weights, "1");
        assert_eq!(
            data.memory[0].bytes,
            Ok(20_000),
            "the larger of counted and heap_bytes"
        );
        assert_eq!(
            data.memory[1].bytes,
            Err("ring of 1600000000 points".into())
        );
        assert_eq!(data.compare_select[0].pingora, 150.9);
        assert_eq!(data.compare_build[0].lb, 6.2e7);
        assert_eq!(
            data.compare_memory[0].pingora,
            PingoraBytes::Counted(20_136_000)
        );
        assert_eq!(data.compare_memory[1].lb, Err("too many points".into()));
        assert_eq!(
            data.compare_memory[1].pingora,
            PingoraBytes::Estimated(12_800_000_000)
        );
        assert_eq!(data.first_picks[0].differ, 9062);
        assert_eq!(
            data.compare_meta.as_ref().map(|m| m.max_iterations),
            Some(256)
        );
        assert_eq!(data.unknown, 1);
    }

    #[test]
    fn bad_lines_are_warnings_naming_the_line() {
        let mut data = Data::default();
        let warnings = data.add_lines(
            "x.jsonl",
            "{\"kind\":\"quiet\",\"id\":\"a\"}\nnot json\n{\"no_kind\":1}\n",
        );
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].starts_with("x.jsonl:1: "), "{warnings:?}");
        assert!(warnings[1].starts_with("x.jsonl:2: "), "{warnings:?}");
        assert!(warnings[2].contains("`kind`"), "{warnings:?}");
        assert!(data.quiet.is_empty());
    }
}
