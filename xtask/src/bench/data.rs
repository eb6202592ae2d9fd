//! The JSON lines the bench binaries write (`lb-benches`' `LB_BENCH_OUT` records and `report`
//! binary, the pingora comparison's `compare` and `memory` binaries), read into typed rows.
//!
//! Each line is one object with a `kind`. Lines of unknown kinds are counted and skipped, so a
//! newer binary does not break an older xtask; a line of a known kind that lacks a field it needs
//! is a warning naming the line.

use serde_json::Value;

/// A "quiet" batch timing of a select bench.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quiet {
    pub(crate) id: String,
    pub(crate) fastest_ns: f64,
    pub(crate) p10_ns: f64,
}

/// Balance and disruption of one hashing strategy at one size.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quality {
    pub(crate) strategy: String,
    pub(crate) n: u64,
    pub(crate) max_over_mean: f64,
    pub(crate) moved_on_remove: f64,
    pub(crate) ideal_remove: f64,
    pub(crate) moved_on_add: f64,
    pub(crate) ideal_add: f64,
}

/// The balance of uniformly random placement: the noise floor at this many keys.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Baseline {
    pub(crate) n: u64,
    pub(crate) max_over_mean: f64,
}

/// Maglev's slots at one size: the busiest and lightest backend over its weighted fair share.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Slots {
    pub(crate) n: u64,
    pub(crate) weights: String,
    pub(crate) max_over_fair: f64,
    pub(crate) min_over_fair: f64,
}

/// One selector's memory: what its build retained (or why it could not be built).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Memory {
    pub(crate) strategy: String,
    pub(crate) n: u64,
    pub(crate) weights: String,
    /// Retained bytes (the larger of the counted bytes and `heap_bytes()`), or the build error.
    pub(crate) bytes: Result<u64, String>,
}

/// One select timing of the pingora comparison, ns per select (medians of batches).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompareSelect {
    pub(crate) strategy: String,
    pub(crate) n: u64,
    pub(crate) lb_pick: f64,
    pub(crate) lb_selector: f64,
    pub(crate) pingora: f64,
}

/// One build timing of the pingora comparison, ns per build (medians).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompareBuild {
    pub(crate) strategy: String,
    pub(crate) n: u64,
    pub(crate) lb: f64,
    pub(crate) pingora: f64,
}

/// One update timing of the pingora comparison, ns per update (medians): `changed` backends of
/// `n` added or removed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompareUpdate {
    pub(crate) strategy: String,
    pub(crate) n: u64,
    pub(crate) changed: u64,
    /// lb's `apply_delta` of the change.
    pub(crate) lb_delta: f64,
    /// lb's `apply` of the whole set.
    pub(crate) lb_full: f64,
    pub(crate) pingora: f64,
}

/// pingora's side of a memory comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PingoraBytes {
    /// Counted.
    Counted(u64),
    /// Too large to build here; the size its layout implies.
    Estimated(u64),
}

/// One memory row of the pingora comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompareMemory {
    pub(crate) strategy: String,
    pub(crate) n: u64,
    pub(crate) weights: String,
    pub(crate) lb: Result<u64, String>,
    pub(crate) pingora: PingoraBytes,
}

/// First picks of lb and pingora on one set: how many of `keys` differ, and how many of those
/// land on ring ties.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FirstPick {
    pub(crate) strategy: String,
    pub(crate) family: String,
    pub(crate) n: u64,
    pub(crate) weights: String,
    pub(crate) keys: u64,
    pub(crate) differ: u64,
    pub(crate) ties: u64,
}

/// How the comparison was run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompareMeta {
    pub(crate) max_iterations: u64,
    pub(crate) batch: u64,
    pub(crate) select_rounds: u64,
    pub(crate) build_rounds: u64,
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
    /// Lines of kinds this xtask does not know.
    pub(crate) unknown: usize,
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k)?.as_str().map(str::to_owned)
}

fn f(v: &Value, k: &str) -> Option<f64> {
    v.get(k)?.as_f64()
}

fn u(v: &Value, k: &str) -> Option<u64> {
    v.get(k)?.as_u64()
}

impl Data {
    /// Reads the JSON lines of `text` (from `source`, for warnings); returns the warnings.
    pub(crate) fn add_lines(&mut self, source: &str, text: &str) -> Vec<String> {
        let mut warnings = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let warn = |why: &str| format!("{source}:{}: {why}", index + 1);
            match serde_json::from_str::<Value>(line) {
                Ok(v) => match self.add(&v) {
                    Ok(()) => {}
                    Err(why) => warnings.push(warn(why)),
                },
                Err(e) => warnings.push(warn(&format!("not JSON: {e}"))),
            }
        }
        warnings
    }

    /// Adds one record; `Err` names what is missing.
    fn add(&mut self, v: &Value) -> Result<(), &'static str> {
        const MISSING: &str = "a field is missing or has the wrong type";
        let kind = v.get("kind").and_then(Value::as_str).ok_or("no `kind`")?;
        match kind {
            "quiet" => self.quiet.push(
                (|| {
                    Some(Quiet {
                        id: s(v, "id")?,
                        fastest_ns: f(v, "fastest_ns")?,
                        p10_ns: f(v, "p10_ns")?,
                    })
                })()
                .ok_or(MISSING)?,
            ),
            // A quality row whose strategy could not be built carries `error`; it is skipped.
            "quality" if v.get("error").is_some() => {}
            "quality" => self.quality.push(
                (|| {
                    Some(Quality {
                        strategy: s(v, "strategy")?,
                        n: u(v, "n")?,
                        max_over_mean: f(v, "max_over_mean")?,
                        moved_on_remove: f(v, "moved_on_remove")?,
                        ideal_remove: f(v, "ideal_remove")?,
                        moved_on_add: f(v, "moved_on_add")?,
                        ideal_add: f(v, "ideal_add")?,
                    })
                })()
                .ok_or(MISSING)?,
            ),
            "quality_baseline" => self.baselines.push(
                (|| {
                    Some(Baseline {
                        n: u(v, "n")?,
                        max_over_mean: f(v, "max_over_mean")?,
                    })
                })()
                .ok_or(MISSING)?,
            ),
            "slots" if v.get("error").is_some() => {}
            "slots" => self.slots.push(
                (|| {
                    Some(Slots {
                        n: u(v, "n")?,
                        weights: s(v, "weights")?,
                        max_over_fair: f(v, "max_over_fair")?,
                        min_over_fair: f(v, "min_over_fair")?,
                    })
                })()
                .ok_or(MISSING)?,
            ),
            "memory" => self.memory.push(
                (|| {
                    let bytes = match s(v, "error") {
                        Some(e) => Err(e),
                        None => Ok(u(v, "retained_bytes")?.max(u(v, "heap_bytes")?)),
                    };
                    Some(Memory {
                        strategy: s(v, "strategy")?,
                        n: u(v, "n")?,
                        weights: s(v, "weights")?,
                        bytes,
                    })
                })()
                .ok_or(MISSING)?,
            ),
            "select" => self.compare_select.push(
                (|| {
                    Some(CompareSelect {
                        strategy: s(v, "strategy")?,
                        n: u(v, "n")?,
                        lb_pick: f(v, "lb_pick_ns")?,
                        lb_selector: f(v, "lb_selector_ns")?,
                        pingora: f(v, "pingora_ns")?,
                    })
                })()
                .ok_or(MISSING)?,
            ),
            "build" => self.compare_build.push(
                (|| {
                    Some(CompareBuild {
                        strategy: s(v, "strategy")?,
                        n: u(v, "n")?,
                        lb: f(v, "lb_ns")?,
                        pingora: f(v, "pingora_ns")?,
                    })
                })()
                .ok_or(MISSING)?,
            ),
            "update" => self.compare_update.push(
                (|| {
                    Some(CompareUpdate {
                        strategy: s(v, "strategy")?,
                        n: u(v, "n")?,
                        changed: u(v, "changed")?,
                        lb_delta: f(v, "lb_delta_ns")?,
                        lb_full: f(v, "lb_full_ns")?,
                        pingora: f(v, "pingora_ns")?,
                    })
                })()
                .ok_or(MISSING)?,
            ),
            "compare_memory" => self.compare_memory.push(
                (|| {
                    let lb = v.get("lb")?;
                    let lb = match s(lb, "error") {
                        Some(e) => Err(e),
                        None => Ok(u(lb, "bytes")?),
                    };
                    let p = v.get("pingora")?;
                    let pingora = match u(p, "bytes") {
                        Some(b) => PingoraBytes::Counted(b),
                        None => PingoraBytes::Estimated(u(p, "estimated_bytes")?),
                    };
                    Some(CompareMemory {
                        strategy: s(v, "strategy")?,
                        n: u(v, "n")?,
                        weights: s(v, "weights")?,
                        lb,
                        pingora,
                    })
                })()
                .ok_or(MISSING)?,
            ),
            "first_pick" => self.first_picks.push(
                (|| {
                    Some(FirstPick {
                        strategy: s(v, "strategy")?,
                        family: s(v, "family")?,
                        n: u(v, "n")?,
                        weights: s(v, "weights")?,
                        keys: u(v, "keys")?,
                        differ: u(v, "differ")?,
                        ties: u(v, "ties").unwrap_or(0),
                    })
                })()
                .ok_or(MISSING)?,
            ),
            "compare_meta" => {
                self.compare_meta = Some(
                    (|| {
                        Some(CompareMeta {
                            max_iterations: u(v, "max_iterations")?,
                            batch: u(v, "batch")?,
                            select_rounds: u(v, "select_rounds")?,
                            build_rounds: u(v, "build_rounds")?,
                        })
                    })()
                    .ok_or(MISSING)?,
                )
            }
            "subset_balance" | "subset_churn" => self.subsets.add(kind, v).ok_or(MISSING)?,
            _ => self.unknown += 1,
        }
        Ok(())
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
        assert!(
            warnings[1].starts_with("x.jsonl:2: not JSON"),
            "{warnings:?}"
        );
        assert!(warnings[2].contains("no `kind`"), "{warnings:?}");
        assert!(data.quiet.is_empty());
    }
}
