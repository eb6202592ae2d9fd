//! Dividing a set into partitions: priority levels and, with zone-aware routing, zones within
//! each level.

use std::collections::BTreeMap;

use super::{Priority, Zone, ZoneHints, ZoneRouting};
use crate::backend::Backend;
use crate::pool::{Layout, LevelLayout, MAX_LEVELS, MAX_PARTITIONS, PartLayout, ZoneSettings};

/// A partition's identity, ordered as partitions are laid out: by level, the local zone first,
/// then by zone name. Used to match a new build's partitions with the previous build's.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PartKey {
    pub(crate) level: u8,
    pub(crate) remote: bool,
    pub(crate) zone: Option<Zone>,
}

/// A set divided: each backend's partition, each partition's members (indices into the set,
/// ascending) and identity, and the layout the pool routes by.
#[derive(Debug)]
pub(crate) struct Division {
    pub(crate) part_of: Box<[u8]>,
    pub(crate) members: Vec<Vec<u32>>,
    pub(crate) keys: Vec<PartKey>,
    pub(crate) layout: Layout,
}

/// Divides `backends` by priority and, when `routing` is set, by zone; `None` when that makes
/// one partition (the load balancer then selects over the whole set, as without topology).
pub(crate) fn divide(backends: &[Backend], routing: Option<&ZoneRouting>) -> Option<Division> {
    if backends.is_empty() || backends.len() > u32::MAX as usize {
        return None;
    }
    let priority = |b: &Backend| b.ext.get::<Priority>().map_or(0, |p| p.0);
    // Without zone routing the partitions are the priority levels: one priority, one partition.
    // Checked first, as most sets have no topology and every update divides them.
    if routing.is_none() {
        let first = priority(&backends[0]);
        if backends.iter().all(|b| priority(b) == first) {
            return None;
        }
    }
    let mut priorities: Vec<u32> = backends.iter().map(priority).collect();
    priorities.sort_unstable();
    priorities.dedup();
    let level_of = |b: &Backend| -> u8 {
        let rank = priorities.partition_point(|&p| p < priority(b));
        rank.min(MAX_LEVELS - 1) as u8
    };
    let local = routing.map(|r| r.local_zone.as_str());
    let hints = routing.is_some_and(|r| r.honour_hints) && hints_apply(backends, local);
    let key_of = |b: &Backend| -> PartKey {
        let level = level_of(b);
        let Some(local) = local else {
            return PartKey {
                level,
                remote: false,
                zone: None,
            };
        };
        let own = b.ext.get::<Zone>().cloned();
        let is_local = if hints {
            b.ext.get::<ZoneHints>().is_some_and(|h| h.contains(local))
        } else {
            own.as_ref().is_some_and(|z| z.as_str() == local)
        };
        PartKey {
            level,
            remote: !is_local,
            zone: if is_local {
                Some(Zone::new(local))
            } else {
                own
            },
        }
    };
    let keys_per_backend: Vec<PartKey> = backends.iter().map(key_of).collect();
    let mut index: BTreeMap<&PartKey, usize> = keys_per_backend.iter().map(|k| (k, 0)).collect();
    if index.len() <= 1 {
        return None;
    }
    // Number the partitions in key order; a level with more zones than its share of the
    // partitions puts the rest in its last one.
    let levels = usize::from(index.keys().map(|k| k.level).max().unwrap_or(0)) + 1;
    let budget = (MAX_PARTITIONS / levels).max(1);
    let mut keys: Vec<PartKey> = Vec::new();
    let mut in_level = 0;
    for (key, slot) in index.iter_mut() {
        let new_level = keys.last().is_none_or(|last| last.level != key.level);
        if new_level {
            in_level = 0;
        }
        if in_level < budget {
            keys.push((*key).clone());
            in_level += 1;
        }
        *slot = keys.len() - 1;
    }
    let mut members = vec![Vec::new(); keys.len()];
    let part_of: Box<[u8]> = keys_per_backend
        .iter()
        .enumerate()
        .map(|(i, key)| {
            // Every key was numbered above.
            let p = index.get(key).copied().unwrap_or(0);
            members[p].push(i as u32);
            p as u8
        })
        .collect();
    let layout = layout(&keys, routing, hints);
    Some(Division {
        part_of,
        members,
        keys,
        layout,
    })
}

/// Kubernetes' rule: hints count only when every endpoint has them and some are for our zone.
fn hints_apply(backends: &[Backend], local: Option<&str>) -> bool {
    let Some(local) = local else {
        return false;
    };
    let hints = || backends.iter().map(|b| b.ext.get::<ZoneHints>());
    hints().all(|h| h.is_some_and(|h| !h.zones().is_empty()))
        && hints().any(|h| h.is_some_and(|h| h.contains(local)))
}

fn layout(keys: &[PartKey], routing: Option<&ZoneRouting>, hints: bool) -> Layout {
    let share = |zone: Option<&Zone>| match routing {
        Some(_) if hints => u64::from(zone.is_some()),
        Some(r) => r.caller_shares.share(zone.map(Zone::as_str)),
        None => 0,
    };
    let parts = keys
        .iter()
        .map(|k| PartLayout {
            level: k.level,
            local: routing.is_some() && !k.remote,
            caller_share: share(k.zone.as_ref()),
        })
        .collect();
    let mut levels: Vec<LevelLayout> = Vec::new();
    for (p, key) in keys.iter().enumerate() {
        match levels.last_mut() {
            Some(level) if usize::from(level.end) == p && keys[p - 1].level == key.level => {
                level.end += 1;
            }
            _ => levels.push(LevelLayout {
                first: p as u8,
                end: p as u8 + 1,
                absent_local_share: 0,
            }),
        }
    }
    if let Some(r) = routing {
        for level in &mut levels {
            let has_local = keys
                .get(usize::from(level.first))
                .is_some_and(|k| !k.remote);
            if !has_local {
                level.absent_local_share = share(Some(&r.local_zone));
            }
        }
    }
    Layout {
        generation: 0,
        parts,
        levels,
        zones: routing.map(|r| ZoneSettings {
            min_ready_backends: r.min_ready_backends,
            hints,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(port: u16, priority: u32, zone: &str) -> Backend {
        Backend::new(&format!("10.0.0.1:{port}"))
            .unwrap()
            .with_ext(Priority(priority))
            .with_ext(Zone::new(zone))
    }

    #[test]
    fn one_level_and_no_zone_routing_is_no_division() {
        let set = [backend(1, 0, "a"), backend(2, 0, "b")];
        assert!(divide(&set, None).is_none());
        let routing = ZoneRouting::new("a");
        let only_a = [backend(1, 0, "a"), backend(2, 0, "a")];
        assert!(divide(&only_a, Some(&routing)).is_none());
    }

    #[test]
    fn priorities_become_levels_in_order() {
        // SRV-like priorities 30, 10, 20: levels 2, 0, 1.
        let set = [
            backend(1, 30, "a"),
            backend(2, 10, "a"),
            backend(3, 20, "a"),
        ];
        let d = divide(&set, None).unwrap();
        assert_eq!(&*d.part_of, &[2, 0, 1]);
        assert_eq!(d.members, vec![vec![1], vec![2], vec![0]]);
        let levels: Vec<_> = d.layout.levels.iter().map(|l| (l.first, l.end)).collect();
        assert_eq!(levels, [(0, 1), (1, 2), (2, 3)]);
        assert!(d.layout.zones.is_none());
    }

    #[test]
    fn zones_divide_each_level_with_the_local_zone_first() {
        let set = [
            backend(1, 0, "c"),
            backend(2, 0, "b"),
            backend(3, 0, "a"),
            backend(4, 1, "b"),
        ];
        let routing = ZoneRouting::new("b");
        let d = divide(&set, Some(&routing)).unwrap();
        let names: Vec<_> = d
            .keys
            .iter()
            .map(|k| (k.level, k.zone.as_ref().map(|z| z.to_string()).unwrap()))
            .collect();
        assert_eq!(
            names,
            [
                (0, "b".into()),
                (0, "a".into()),
                (0, "c".into()),
                (1, "b".into())
            ]
        );
        assert_eq!(&*d.part_of, &[2, 0, 1, 3]);
        let local: Vec<_> = d.layout.parts.iter().map(|p| p.local).collect();
        assert_eq!(local, [true, false, false, true]);
    }

    #[test]
    fn a_level_without_the_local_zone_counts_its_callers() {
        let set = [backend(1, 0, "b"), backend(2, 0, "c")];
        let d = divide(&set, Some(&ZoneRouting::new("a"))).unwrap();
        assert_eq!(d.layout.levels[0].absent_local_share, 1);
        assert!(d.layout.parts.iter().all(|p| !p.local));
    }

    #[test]
    fn hints_apply_only_when_every_backend_has_them() {
        let hinted =
            |port, zone, hint: &str| backend(port, 0, zone).with_ext(ZoneHints::new([hint]));
        let routing = ZoneRouting::new("a");
        // b's backend 2 is hinted for a: it joins a's partition.
        let set = [
            hinted(1, "a", "a"),
            hinted(2, "b", "a"),
            hinted(3, "b", "b"),
        ];
        let d = divide(&set, Some(&routing)).unwrap();
        assert_eq!(&*d.part_of, &[0, 0, 1]);
        assert_eq!(d.layout.zones.map(|z| z.hints), Some(true));
        // One backend without hints: zones as they are.
        let set = [hinted(1, "a", "a"), hinted(2, "b", "a"), backend(3, 0, "b")];
        let d = divide(&set, Some(&routing)).unwrap();
        assert_eq!(&*d.part_of, &[0, 1, 1]);
        assert_eq!(d.layout.zones.map(|z| z.hints), Some(false));
        // Turned off.
        let set = [
            hinted(1, "a", "a"),
            hinted(2, "b", "a"),
            hinted(3, "b", "b"),
        ];
        let d = divide(&set, Some(&routing.with_hints(false))).unwrap();
        assert_eq!(&*d.part_of, &[0, 1, 1]);
    }

    #[test]
    fn more_zones_than_partitions_share_the_last() {
        let set: Vec<_> = (0..100)
            .map(|i| backend(i + 1, 0, &format!("z{i:03}")))
            .collect();
        let d = divide(&set, Some(&ZoneRouting::new("z000"))).unwrap();
        assert_eq!(d.keys.len(), MAX_PARTITIONS);
        assert_eq!(d.members.iter().map(Vec::len).sum::<usize>(), 100);
        assert_eq!(
            d.members[MAX_PARTITIONS - 1].len(),
            100 - (MAX_PARTITIONS - 1)
        );
    }
}
