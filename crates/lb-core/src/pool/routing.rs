//! Where a `select` goes when the set is divided into partitions (priority levels and, with
//! zone-aware routing, zones): the layout published with each set, the routing table computed
//! from the live sums whenever a readiness word changes, and the atomics `select` reads it from.
//!
//! The arithmetic is Envoy's. Between levels: the priority load of [`super::sums::plan`].
//! Within a level, with zone-aware routing (Envoy's `regenerateLocalityRoutingStructures`):
//! each zone's share of the level's ready weight (*upstream*) is compared with its share of the
//! callers (*caller*), both in hundredths of a percent. When the local zone's upstream share is
//! at least its caller share, every request stays local; otherwise `upstream × 10000 / caller`
//! of them stay local and the rest go to the other zones in proportion to their residual
//! capacity (`upstream − caller` where positive). Zone routing steps aside, leaving the zones
//! their ready weight's share, when the level is in panic mode, has fewer ready backends than
//! the minimum, or has a single zone.

use std::sync::atomic::{AtomicU8, AtomicU16, AtomicU64, Ordering};

use super::sums::{LevelWeights, MAX_LEVELS, MAX_PARTITIONS, Plan};

/// How a published set is divided: set with the set, read when the sums change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Which set the partition indices belong to; `select` ignores a table of another.
    pub(crate) generation: u64,
    /// By partition index; each level's partitions are contiguous, the local zone first.
    pub(crate) parts: Vec<PartLayout>,
    /// By level: its partitions, and the callers' share of a local zone that has no backends in
    /// it (those callers' requests all cross zones).
    pub(crate) levels: Vec<LevelLayout>,
    /// Zone-aware routing's settings; `None`: off.
    pub(crate) zones: Option<ZoneSettings>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PartLayout {
    pub(crate) level: u8,
    /// The caller's own zone (or, under hints, the backends hinted for it).
    pub(crate) local: bool,
    /// The callers' relative share in this partition's zone.
    pub(crate) caller_share: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LevelLayout {
    pub(crate) first: u8,
    pub(crate) end: u8,
    pub(crate) absent_local_share: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ZoneSettings {
    /// Envoy's `min_cluster_size`: below this many ready backends in a level, no zone routing.
    pub(crate) min_ready_backends: u64,
    /// Kubernetes hints are honoured: the local partition takes everything while it has
    /// capacity (kube-proxy's rule), with no spill by shares.
    pub(crate) hints: bool,
}

/// One computed routing: the priority load, each level's local share in hundredths of a
/// percent, and each partition's cumulative weight within its level for the cross-zone draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Table {
    pub(crate) plan: Plan,
    pub(crate) local: [u16; MAX_LEVELS],
    pub(crate) cdf: [u64; MAX_PARTITIONS],
}

/// The routing of `layout` given each partition's weights (`parts[p]` for partition `p`) and
/// the priority plan.
pub(crate) fn table(layout: &Layout, parts: &[LevelWeights], plan: Plan) -> Table {
    let mut table = Table {
        plan,
        local: [0; MAX_LEVELS],
        cdf: [0; MAX_PARTITIONS],
    };
    for (l, level) in layout.levels.iter().enumerate().take(MAX_LEVELS) {
        let range = usize::from(level.first)..usize::from(level.end).min(parts.len());
        if range.is_empty() {
            continue;
        }
        let weights = &parts[range.clone()];
        let infos = &layout.parts[range.clone()];
        let mut cdf = [0u64; MAX_PARTITIONS];
        let local = split_level(
            weights,
            infos,
            level.absent_local_share,
            layout.zones,
            plan.panic[l],
            &mut cdf[..weights.len()],
        );
        table.local[l] = local;
        table.cdf[range.clone()].copy_from_slice(&cdf[..weights.len()]);
    }
    table
}

/// One level's split between its partitions: the local share (hundredths of a percent) and the
/// cumulative weights the rest is drawn by.
fn split_level(
    weights: &[LevelWeights],
    infos: &[PartLayout],
    absent_local_share: u64,
    zones: Option<ZoneSettings>,
    panic: bool,
    cdf: &mut [u64],
) -> u16 {
    let mut total = LevelWeights::default();
    for w in weights {
        total.add(w);
    }
    let actives = total.ready > 0;
    let by = |f: &dyn Fn(&LevelWeights) -> u64, cdf: &mut [u64]| {
        let mut acc = 0;
        for (c, w) in cdf.iter_mut().zip(weights) {
            acc += f(w);
            *c = acc;
        }
    };
    if panic {
        // Envoy: a level in panic balances over all its hosts, zones aside.
        by(&|w| w.enabled_total() as u64, cdf);
        return 0;
    }
    let capacity = |w: &LevelWeights| w.capacity(actives) as u64;
    let routed = zones
        .filter(|z| weights.len() >= 2 && total.ready_hosts.max(0) as u64 >= z.min_ready_backends);
    let Some(settings) = routed else {
        by(&capacity, cdf);
        return 0;
    };
    let has_local = infos.first().is_some_and(|p| p.local);
    let local_capacity = if has_local { capacity(&weights[0]) } else { 0 };
    if settings.hints {
        by(&|w| capacity(w), cdf);
        return if local_capacity > 0 { 10_000 } else { 0 };
    }
    let upstream_total: u64 = weights.iter().map(capacity).sum();
    let caller_total: u64 = infos.iter().map(|p| p.caller_share).sum::<u64>() + absent_local_share;
    let pct = |part: u64, whole: u64| -> u64 {
        if whole == 0 {
            0
        } else {
            (u128::from(part) * 10_000 / u128::from(whole)) as u64
        }
    };
    let upstream = |i: usize| pct(capacity(&weights[i]), upstream_total);
    let caller = |i: usize| pct(infos[i].caller_share, caller_total);
    if has_local && upstream(0) > 0 && upstream(0) >= caller(0) {
        // Envoy's LocalityDirect. The draw never falls past the local share, but the cumulative
        // weights stay meaningful for a walk that finds the local zone empty.
        by(&|w| capacity(w), cdf);
        return 10_000;
    }
    let local = if has_local && caller(0) > 0 {
        (upstream(0) * 10_000 / caller(0)).min(10_000) as u16
    } else {
        0
    };
    // Residual capacity of the other zones, accumulated.
    let mut acc = 0;
    for (i, c) in cdf.iter_mut().enumerate() {
        if !(i == 0 && has_local) {
            acc += upstream(i).saturating_sub(caller(i));
        }
        *c = acc;
    }
    if acc == 0 {
        // Rounding left no residual anywhere (Envoy: any locality at random): by capacity.
        by(&capacity, cdf);
    }
    local
}

/// The routing table as `select` reads it: one atomic per value, written by whoever last changed
/// the sums (under the layout lock), read without a lock. A reader may see two tables mixed
/// while one is being written; each value is valid on its own, and the walk falls through to
/// the other partitions when the one drawn has nothing ready.
#[derive(Debug)]
pub(crate) struct Routing {
    generation: AtomicU64,
    loads: AtomicU64,
    panic: AtomicU8,
    local: [AtomicU16; MAX_LEVELS],
    cdf: [AtomicU64; MAX_PARTITIONS],
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            generation: AtomicU64::new(u64::MAX),
            loads: AtomicU64::new(100),
            panic: AtomicU8::new(0),
            local: std::array::from_fn(|_| AtomicU16::new(0)),
            cdf: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// Where one `select` starts: a partition, its level's partition range, and whether that level
/// is in panic mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) part: usize,
    pub(crate) first: usize,
    pub(crate) end: usize,
    pub(crate) panic: bool,
}

/// A 32-bit number scaled to `0..n` by multiplication (Lemire's reduction).
#[inline]
fn scale(x32: u64, n: u64) -> u64 {
    (x32 * n) >> 32
}

impl Routing {
    pub(crate) fn store(&self, generation: u64, table: &Table) {
        let mut loads = [0u8; 8];
        loads.copy_from_slice(&table.plan.load[..MAX_LEVELS]);
        self.loads
            .store(u64::from_le_bytes(loads), Ordering::Relaxed);
        let panic =
            (0..MAX_LEVELS).fold(0u8, |bits, l| bits | (u8::from(table.plan.panic[l]) << l));
        self.panic.store(panic, Ordering::Relaxed);
        for (slot, &v) in self.local.iter().zip(&table.local) {
            slot.store(v, Ordering::Relaxed);
        }
        for (slot, &v) in self.cdf.iter().zip(&table.cdf) {
            slot.store(v, Ordering::Relaxed);
        }
        self.generation.store(generation, Ordering::Release);
    }

    /// Where a select with random (or key-hashed) `draw` starts, for partitions of `generation`
    /// laid out by `levels` (each level's partition range); `None` when the table is of another
    /// generation (a set being published): the caller then walks the partitions in order.
    ///
    /// No division: each draw scales a 32-bit half of `draw` by multiplication (the level by the
    /// high half, the local share by the low half; the cross-zone draw mixes `draw` again).
    #[inline]
    pub(crate) fn route(&self, generation: u64, levels: &[(u8, u8)], draw: u64) -> Option<Route> {
        if self.generation.load(Ordering::Acquire) != generation {
            return None;
        }
        let mut level = 0;
        if levels.len() > 1 {
            let loads = self.loads.load(Ordering::Relaxed).to_le_bytes();
            let point = scale(draw >> 32, 100);
            let mut acc = 0u64;
            for (l, &load) in loads.iter().enumerate().take(levels.len()) {
                acc += u64::from(load);
                if point < acc {
                    level = l;
                    break;
                }
            }
        }
        let &(first, end) = levels.get(level)?;
        let (first, end) = (usize::from(first), usize::from(end).min(MAX_PARTITIONS));
        let panic = self.panic.load(Ordering::Relaxed) & (1 << level) != 0;
        let route = |part| Route {
            part,
            first,
            end,
            panic,
        };
        if end <= first + 1 {
            return Some(route(first));
        }
        let local = u64::from(self.local[level].load(Ordering::Relaxed));
        if scale(draw & 0xffff_ffff, 10_000) < local {
            return Some(route(first));
        }
        let total = self.cdf[end - 1].load(Ordering::Relaxed);
        let part = if total == 0 {
            first
        } else {
            let point = ((u128::from(mix(draw)) * u128::from(total)) >> 64) as u64;
            (first..end)
                .find(|&p| point < self.cdf[p].load(Ordering::Relaxed))
                .unwrap_or(end - 1)
        };
        Some(route(part))
    }

    /// Whether `level` is in panic mode.
    #[inline]
    pub(crate) fn level_panic(&self, level: usize) -> bool {
        level < MAX_LEVELS && self.panic.load(Ordering::Relaxed) & (1 << level) != 0
    }
}

/// A second, independent number from `x` (the splitmix64 finaliser).
#[inline]
pub(crate) fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::sums::plan;

    fn zone(ready: i64, enabled: i64) -> LevelWeights {
        LevelWeights {
            enabled,
            ready,
            up: ready,
            ready_hosts: ready,
            ..LevelWeights::default()
        }
    }

    /// One level of zones: the local zone first when `local`, with these caller shares.
    fn layout(shares: &[u64], local: bool, absent_local_share: u64) -> Layout {
        Layout {
            generation: 1,
            parts: shares
                .iter()
                .enumerate()
                .map(|(i, &caller_share)| PartLayout {
                    level: 0,
                    local: local && i == 0,
                    caller_share,
                })
                .collect(),
            levels: vec![LevelLayout {
                first: 0,
                end: shares.len() as u8,
                absent_local_share,
            }],
            zones: Some(ZoneSettings {
                min_ready_backends: 6,
                hints: false,
            }),
        }
    }

    fn route_table(layout: &Layout, parts: &[LevelWeights]) -> Table {
        let mut level = LevelWeights::default();
        for p in parts {
            level.add(p);
        }
        table(layout, parts, plan(&[level], 140, 50))
    }

    #[test]
    fn envoys_first_example_routes_half_directly() {
        // Envoy's docs: the callers' local zone holds 20 % of them, the upstream's local zone
        // 10 % of its hosts: 50 % of requests stay local.
        let t = route_table(&layout(&[20, 80], true, 0), &[zone(10, 10), zone(90, 90)]);
        assert_eq!(t.local[0], 5_000);
        assert_eq!(
            t.cdf[..2],
            [0, 1_000],
            "the residual is the other zone's 10 %"
        );
    }

    #[test]
    fn a_local_zone_with_spare_capacity_takes_everything() {
        // Callers 10 % local, upstream 20 %: LocalityDirect.
        let t = route_table(&layout(&[10, 90], true, 0), &[zone(20, 20), zone(80, 80)]);
        assert_eq!(t.local[0], 10_000);
    }

    #[test]
    fn envoys_residual_example_splits_two_to_one() {
        // Envoy's code comment: callers 40/40/20, upstream 25/50/25: 25/40 = 62.5 % local, the
        // residual 10 % and 5 %, so the zones after the local one take 2:1 of the rest.
        let t = route_table(
            &layout(&[40, 40, 20], true, 0),
            &[zone(25, 25), zone(50, 50), zone(25, 25)],
        );
        assert_eq!(t.local[0], 6_250);
        assert_eq!(t.cdf[..3], [0, 1_000, 1_500]);
    }

    #[test]
    fn half_the_local_zone_down_spills_evenly_to_the_others() {
        // Three equal zones, callers even; half of the local zone not ready: upstream shares
        // 20/40/40 against 33.33 each: 60 % local, the rest split 1:1.
        let t = route_table(
            &layout(&[1, 1, 1], true, 0),
            &[zone(5, 5), zone(10, 10), zone(10, 10)],
        );
        // 2,000 of 10,000 ready against 3,333 of the callers.
        assert_eq!(t.local[0], 6_000);
        assert_eq!(
            t.cdf[1],
            t.cdf[2] - t.cdf[1],
            "b and c have the same residual"
        );
    }

    #[test]
    fn callers_in_a_zone_without_backends_all_cross() {
        let t = route_table(&layout(&[1, 1], false, 1), &[zone(10, 10), zone(10, 10)]);
        assert_eq!(t.local[0], 0);
        assert_eq!(t.cdf[0], t.cdf[1] - t.cdf[0], "both zones take half");
    }

    #[test]
    fn zone_routing_steps_aside_below_the_minimum_and_in_panic() {
        // Five ready backends: below Envoy's minimum of six, zones share by ready weight.
        let t = route_table(&layout(&[1, 1], true, 0), &[zone(2, 2), zone(3, 3)]);
        assert_eq!((t.local[0], t.cdf[..2].to_vec()), (0, vec![2, 5]));
        // 3 of 10 ready is below the panic threshold: every enabled backend, by weight.
        let t = route_table(&layout(&[1, 1], true, 0), &[zone(3, 5), zone(0, 5)]);
        assert!(t.plan.panic[0]);
        assert_eq!((t.local[0], t.cdf[..2].to_vec()), (0, vec![5, 10]));
    }

    #[test]
    fn hints_keep_everything_local_while_the_hinted_backends_have_capacity() {
        let mut l = layout(&[1, 1], true, 0);
        l.zones = Some(ZoneSettings {
            min_ready_backends: 0,
            hints: true,
        });
        let t = route_table(&l, &[zone(1, 5), zone(5, 5)]);
        assert_eq!(t.local[0], 10_000);
        let t = route_table(&l, &[zone(0, 5), zone(5, 5)]);
        assert_eq!(t.local[0], 0);
    }

    #[test]
    fn routes_follow_the_stored_table() {
        let l = layout(&[40, 40, 20], true, 0);
        let t = route_table(&l, &[zone(25, 25), zone(50, 50), zone(25, 25)]);
        let routing = Routing::default();
        let levels = [(0u8, 3u8)];
        assert_eq!(
            routing.route(1, &levels, 7),
            None,
            "no table of this generation yet"
        );
        routing.store(1, &t);
        let mut counts = [0u32; 3];
        let mut rng = 0x1234_5678_u64;
        for _ in 0..100_000 {
            rng = mix(rng.wrapping_add(0x9e37_79b9_7f4a_7c15));
            let route = routing.route(1, &levels, rng).unwrap();
            assert!(!route.panic);
            counts[route.part] += 1;
        }
        // 62.5 % local; the rest 2:1 (25 % and 12.5 %), within sampling error.
        let share = |c: u32| f64::from(c) / 100_000.0;
        assert!((share(counts[0]) - 0.625).abs() < 0.01, "{counts:?}");
        assert!((share(counts[1]) - 0.25).abs() < 0.01, "{counts:?}");
        assert!((share(counts[2]) - 0.125).abs() < 0.01, "{counts:?}");
        assert_eq!(
            routing.route(2, &levels, 7),
            None,
            "a table of another generation"
        );
    }
}
