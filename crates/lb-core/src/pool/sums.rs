//! The weight sums of a pool, per partition (a priority level and, with zone-aware routing, a
//! zone), and Envoy's arithmetic over them: each level's availability, the priority load that
//! splits traffic between levels, and which levels are in panic mode.

use std::sync::atomic::{AtomicI64, AtomicU8, AtomicUsize, Ordering};

/// The most partitions a set is divided into (priority levels × zone groups); the last takes
/// any beyond.
pub(crate) const MAX_PARTITIONS: usize = 64;
/// The most priority levels; priorities beyond the last distinct ones share the last level.
pub(crate) const MAX_LEVELS: usize = 8;

/// The weights a readiness word contributes to its pool: its partition, and its weight when
/// enabled, when ready, when up, in the active tier or the standby one (weight 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Contribution {
    pub(crate) partition: u8,
    pub(crate) enabled: i64,
    pub(crate) ready: i64,
    pub(crate) standby_enabled: i64,
    pub(crate) standby_ready: i64,
    /// Healthy and enabled, whatever the policies say (either tier): a last resort for select.
    pub(crate) up: i64,
    /// 1 when ready (either tier): ready backends are counted as well as weighed, for zone-aware
    /// routing's minimum.
    pub(crate) ready_hosts: i64,
}

#[derive(Debug, Default)]
struct Part {
    enabled: AtomicI64,
    ready: AtomicI64,
    standby_enabled: AtomicI64,
    standby_ready: AtomicI64,
    up: AtomicI64,
    ready_hosts: AtomicI64,
}

/// One level's weights, summed over its partitions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LevelWeights {
    pub(crate) enabled: i64,
    pub(crate) ready: i64,
    pub(crate) standby_enabled: i64,
    pub(crate) standby_ready: i64,
    pub(crate) up: i64,
    pub(crate) ready_hosts: i64,
}

impl LevelWeights {
    /// Envoy's availability of the level, in percent: the ready share of each tier times the
    /// overprovisioning factor (in percent), summed and capped at 100. Integer arithmetic, as
    /// Envoy's.
    pub(crate) fn availability(&self, overprovisioning: u32) -> u32 {
        let tier = |ready: i64, enabled: i64| -> u64 {
            if enabled > 0 {
                u64::from(overprovisioning) * ready.max(0) as u64 / enabled as u64
            } else {
                0
            }
        };
        let sum = tier(self.ready, self.enabled) + tier(self.standby_ready, self.standby_enabled);
        sum.min(100) as u32
    }

    /// The ready share of the level's active weight (its standbys' when it has no actives), in
    /// percent: what the panic threshold compares.
    pub(crate) fn ready_percent(&self) -> f64 {
        let (ready, enabled) = if self.enabled > 0 {
            (self.ready, self.enabled)
        } else {
            (self.standby_ready, self.standby_enabled)
        };
        if enabled > 0 {
            ready.max(0) as f64 * 100.0 / enabled as f64
        } else {
            0.0
        }
    }

    /// Adds `other`'s weights to these.
    pub(crate) fn add(&mut self, other: &LevelWeights) {
        self.enabled += other.enabled;
        self.ready += other.ready;
        self.standby_enabled += other.standby_enabled;
        self.standby_ready += other.standby_ready;
        self.up += other.up;
        self.ready_hosts += other.ready_hosts;
    }

    /// The weight that can take traffic now: the ready actives' or, when the level has no
    /// active weight ready (`actives_ready` false), the ready standbys'.
    pub(crate) fn capacity(&self, actives_ready: bool) -> i64 {
        if actives_ready {
            self.ready.max(0)
        } else {
            self.standby_ready.max(0)
        }
    }

    /// The weight enabled in either tier: what panic mode balances over.
    pub(crate) fn enabled_total(&self) -> i64 {
        (self.enabled + self.standby_enabled).max(0)
    }

    pub(crate) fn any_enabled(&self) -> bool {
        self.enabled > 0 || self.standby_enabled > 0
    }
}

/// How traffic is split between levels now (Envoy's priority load) and which levels are in
/// panic mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) levels: usize,
    /// Percent of traffic per level; sums to 100 when any level has backends.
    pub(crate) load: [u8; MAX_LEVELS],
    pub(crate) panic: [bool; MAX_LEVELS],
}

impl Plan {
    /// Whether a level that receives traffic is in panic mode.
    pub(crate) fn any_panic(&self) -> bool {
        (0..self.levels).any(|l| self.panic[l] && self.load[l] > 0)
    }
}

/// Envoy's priority load and per-level panic from the levels' weights, with the
/// overprovisioning factor and the panic threshold in percent.
pub(crate) fn plan(levels: &[LevelWeights], overprovisioning: u32, threshold: u8) -> Plan {
    let n = levels.len().min(MAX_LEVELS);
    let mut plan = Plan {
        levels: n,
        load: [0; MAX_LEVELS],
        panic: [false; MAX_LEVELS],
    };
    if n == 0 {
        return plan;
    }
    let mut health = [0u32; MAX_LEVELS];
    for (h, l) in health.iter_mut().zip(levels) {
        *h = l.availability(overprovisioning);
    }
    let normalized = health[..n].iter().sum::<u32>().min(100);
    let threshold = f64::from(threshold.min(100));
    let mut total_panic = true;
    for (panic, level) in plan.panic.iter_mut().zip(&levels[..n]) {
        // A level with nothing enabled has nothing to panic over (Envoy counts an empty host
        // set as in panic; lb would only log noise for it).
        *panic = normalized < 100
            && threshold > 0.0
            && level.any_enabled()
            && level.ready_percent() < threshold;
        total_panic &= *panic || !level.any_enabled();
    }
    let any_enabled = levels[..n].iter().any(LevelWeights::any_enabled);
    if normalized == 0 || (total_panic && any_enabled) {
        // Nothing available, or every level in panic: split by weight regardless of health
        // (Envoy splits by host count in total panic). With nothing at all, level 0.
        let total: i64 = levels[..n]
            .iter()
            .map(|l| l.enabled + l.standby_enabled)
            .sum();
        if total <= 0 {
            plan.load[0] = 100;
            return plan;
        }
        let mut left = 100u32;
        let mut first = None;
        for (l, level) in levels[..n].iter().enumerate() {
            let share = ((level.enabled + level.standby_enabled) * 100 / total) as u32;
            plan.load[l] = share as u8;
            left -= share;
            if first.is_none() && share > 0 {
                first = Some(l);
            }
        }
        plan.load[first.unwrap_or(0)] += left as u8;
        return plan;
    }
    // Envoy's distributeLoad: each level takes its normalised availability while load is left;
    // rounding leftovers go to the first level with any availability.
    let mut left = 100u32;
    let mut first = None;
    for (l, (&h, load)) in health[..n].iter().zip(plan.load.iter_mut()).enumerate() {
        if first.is_none() && h > 0 {
            first = Some(l);
        }
        let take = (h * 100 / normalized).min(left);
        *load = take as u8;
        left -= take;
    }
    if let Some(first) = first {
        plan.load[first] += left as u8;
    }
    plan
}

/// The per-partition sums, and which level each partition belongs to.
#[derive(Debug)]
pub(crate) struct Sums {
    parts: Box<[Part]>,
    level_of: Box<[AtomicU8]>,
    /// Partitions in use (1 without topology).
    count: AtomicUsize,
}

impl Default for Sums {
    fn default() -> Self {
        Sums {
            parts: (0..MAX_PARTITIONS).map(|_| Part::default()).collect(),
            level_of: (0..MAX_PARTITIONS).map(|_| AtomicU8::new(0)).collect(),
            count: AtomicUsize::new(1),
        }
    }
}

impl Sums {
    /// Adds what one word change changed.
    pub(crate) fn apply(&self, before: Contribution, after: Contribution) {
        let part = |c: &Contribution| &self.parts[usize::from(c.partition).min(MAX_PARTITIONS - 1)];
        let (b, a) = (part(&before), part(&after));
        let sub = |sum: &AtomicI64, v: i64| {
            if v != 0 {
                sum.fetch_sub(v, Ordering::AcqRel);
            }
        };
        let add = |sum: &AtomicI64, v: i64| {
            if v != 0 {
                sum.fetch_add(v, Ordering::AcqRel);
            }
        };
        sub(&b.enabled, before.enabled);
        sub(&b.ready, before.ready);
        sub(&b.standby_enabled, before.standby_enabled);
        sub(&b.standby_ready, before.standby_ready);
        sub(&b.up, before.up);
        sub(&b.ready_hosts, before.ready_hosts);
        add(&a.enabled, after.enabled);
        add(&a.ready, after.ready);
        add(&a.standby_enabled, after.standby_enabled);
        add(&a.standby_ready, after.standby_ready);
        add(&a.up, after.up);
        add(&a.ready_hosts, after.ready_hosts);
    }

    /// Sets which level each of the first `levels.len()` partitions belongs to (at publication).
    pub(crate) fn set_layout(&self, levels: &[u8]) {
        let count = levels.len().clamp(1, MAX_PARTITIONS);
        for (slot, &level) in self.level_of.iter().zip(levels) {
            slot.store(level.min(MAX_LEVELS as u8 - 1), Ordering::Relaxed);
        }
        self.count.store(count, Ordering::Release);
    }

    /// The weights of partition `p`.
    pub(crate) fn partition(&self, p: usize) -> LevelWeights {
        let part = &self.parts[p.min(MAX_PARTITIONS - 1)];
        let load = |a: &AtomicI64| a.load(Ordering::Acquire);
        LevelWeights {
            enabled: load(&part.enabled),
            ready: load(&part.ready),
            standby_enabled: load(&part.standby_enabled),
            standby_ready: load(&part.standby_ready),
            up: load(&part.up),
            ready_hosts: load(&part.ready_hosts),
        }
    }

    /// The weights of each level, summed over its partitions; returns how many levels there are.
    pub(crate) fn levels(&self, out: &mut [LevelWeights; MAX_LEVELS]) -> usize {
        *out = [LevelWeights::default(); MAX_LEVELS];
        let count = self.count.load(Ordering::Acquire).min(MAX_PARTITIONS);
        let mut levels = 0;
        for p in 0..count {
            let level = usize::from(self.level_of[p].load(Ordering::Relaxed)).min(MAX_LEVELS - 1);
            out[level].add(&self.partition(p));
            levels = levels.max(level + 1);
        }
        levels.max(1)
    }

    /// The sum of every partition's weights.
    pub(crate) fn total(&self) -> LevelWeights {
        let mut levels = [LevelWeights::default(); MAX_LEVELS];
        let n = self.levels(&mut levels);
        levels[..n]
            .iter()
            .fold(LevelWeights::default(), |mut t, l| {
                t.add(l);
                t
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A level of `total` equal backends of which `ready` are ready.
    fn level(ready: i64, total: i64) -> LevelWeights {
        LevelWeights {
            enabled: total,
            ready,
            up: ready,
            ..LevelWeights::default()
        }
    }

    /// The priority load alone (panic mode off), as Envoy's tables give it.
    fn loads(levels: &[LevelWeights]) -> Vec<u8> {
        let p = plan(levels, 140, 0);
        p.load[..p.levels].to_vec()
    }

    #[test]
    fn two_levels_follow_envoys_table() {
        // Envoy's "priority levels" table, P=1 100 % healthy (100 hosts per level).
        for (p0, want) in [
            (100, [100, 0]),
            (72, [100, 0]),
            (71, [99, 1]),
            (50, [70, 30]),
            (25, [35, 65]),
            (0, [0, 100]),
        ] {
            assert_eq!(
                loads(&[level(p0, 100), level(100, 100)]),
                want,
                "P=0 at {p0} %"
            );
        }
        // 71.4 % of 1,000 hosts: 99.96, whole percents as Envoy's.
        assert_eq!(loads(&[level(714, 1000), level(1000, 1000)]), [99, 1]);
    }

    #[test]
    fn a_total_below_100_is_normalised_as_envoys_second_table() {
        for (p0, p1, want) in [
            (100, 100, [100, 0]),
            (72, 72, [100, 0]),
            (71, 71, [99, 1]),
            (50, 50, [70, 30]),
            (25, 100, [35, 65]),
            (25, 25, [50, 50]),
        ] {
            assert_eq!(
                loads(&[level(p0, 100), level(p1, 100)]),
                want,
                "{p0} / {p1}"
            );
        }
    }

    #[test]
    fn three_levels_follow_envoys_code() {
        let l = |p0, p1, p2| loads(&[level(p0, 100), level(p1, 100), level(p2, 100)]);
        assert_eq!(l(100, 100, 100), [100, 0, 0]);
        assert_eq!(l(71, 71, 100), [99, 1, 0]);
        assert_eq!(l(50, 50, 100), [70, 30, 0]);
        assert_eq!(l(25, 100, 100), [35, 65, 0]);
        assert_eq!(l(25, 25, 100), [35, 35, 30]);
        // Health 35 + 35 + 28 = 98: 35 / 35 / 28 with the 2 left to the first level, as Envoy's
        // distributeLoad does (its documentation's table shows 36 / 36 / 28 for this row).
        assert_eq!(l(25, 25, 20), [37, 35, 28]);
    }

    #[test]
    fn panic_is_per_level_and_only_when_the_total_is_short() {
        let p = plan(&[level(40, 100), level(100, 100)], 140, 50);
        assert_eq!(
            p.panic[..2],
            [false, false],
            "the total is 100: no panic anywhere"
        );
        let p = plan(&[level(20, 100), level(20, 100)], 140, 50);
        assert_eq!(p.panic[..2], [true, true]);
        // Every level in panic: split by weight.
        assert_eq!(p.load[..2], [50, 50]);
        let p = plan(&[level(0, 100)], 140, 0);
        assert_eq!(
            (p.panic[0], p.load[0]),
            (false, 100),
            "threshold 0: never panic"
        );
        // 84 + 56 = 140: enough in all, so level 1's 40 % ready is no panic.
        let p = plan(&[level(60, 100), level(20, 50)], 140, 50);
        assert_eq!(p.panic[..2], [false, false]);
        // 84 + 14 = 98: short, and only level 1 is under the threshold.
        let p = plan(&[level(60, 100), level(10, 100)], 140, 50);
        assert_eq!(p.panic[..2], [false, true]);
        assert_eq!(p.load[..2], [86, 14]);
    }
}
