//! SRV answers: which records are used, in which order, and the weights their backends get.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use hickory_resolver::proto::rr::{Name, RData, Record};

use crate::answer::normalize_ttl;
use crate::config::PriorityPolicy;
use crate::entry::{Entry, SrvTarget};

/// One usable SRV record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SrvRecord {
    pub(crate) priority: u16,
    pub(crate) weight: u16,
    pub(crate) port: u16,
    pub(crate) target: Name,
    /// The target, lowercase with its final dot: the key of target lookups and of
    /// [`SrvTarget::target`].
    pub(crate) target_key: String,
}

/// The records of an SRV answer that will be resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SrvPlan {
    /// Usable records, best first: priority ascending, then weight descending, then target and
    /// port (so that the order, and the cut at the record limit, are deterministic).
    pub(crate) records: Vec<SrvRecord>,
    /// The smallest TTL of the records kept, and of the CNAME chain to them.
    pub(crate) ttl: u32,
    /// Records left out: port 0, target `.`, duplicates, beyond the limit.
    pub(crate) dropped: u64,
    /// Every record had the target `.`: RFC 2782's "the service is decidedly not available".
    pub(crate) no_service: bool,
}

pub(crate) fn key_of(name: &Name) -> String {
    let mut key = name.to_lowercase().to_ascii();
    if !key.ends_with('.') {
        key.push('.');
    }
    key
}

/// Chooses the records to use from an SRV answer, at most `max_records` of them.
pub(crate) fn plan(records: &[&Record], chain_ttl: u32, max_records: usize) -> SrvPlan {
    let mut dropped = 0u64;
    let mut root_targets = 0usize;
    let mut usable: Vec<(SrvRecord, u32)> = Vec::with_capacity(records.len());
    for r in records {
        let RData::SRV(srv) = &r.data else { continue };
        if srv.target.is_root() {
            root_targets += 1;
            dropped += 1;
            continue;
        }
        if srv.port == 0 {
            tracing::debug!(name = %r.name, target = %srv.target, "left out an srv record with port 0");
            dropped += 1;
            continue;
        }
        usable.push((
            SrvRecord {
                priority: srv.priority,
                weight: srv.weight,
                port: srv.port,
                target_key: key_of(&srv.target),
                target: srv.target.clone(),
            },
            normalize_ttl(r.ttl),
        ));
    }
    usable.sort_by(|(a, _), (b, _)| {
        (a.priority, Reverse(a.weight), &a.target_key, a.port).cmp(&(
            b.priority,
            Reverse(b.weight),
            &b.target_key,
            b.port,
        ))
    });
    let mut seen = HashSet::new();
    let mut ttl = chain_ttl;
    let mut kept = Vec::with_capacity(usable.len().min(max_records));
    for (record, record_ttl) in usable {
        if !seen.insert((record.target_key.clone(), record.port)) || kept.len() >= max_records {
            dropped += 1;
            continue;
        }
        ttl = ttl.min(record_ttl);
        kept.push(record);
    }
    SrvPlan {
        no_service: kept.is_empty() && root_targets > 0 && root_targets == records.len(),
        records: kept,
        ttl,
        dropped,
    }
}

impl SrvPlan {
    /// The distinct targets, in record order.
    pub(crate) fn targets(&self) -> Vec<(Name, String)> {
        let mut seen = HashSet::new();
        self.records
            .iter()
            .filter(|r| seen.insert(r.target_key.as_str()))
            .map(|r| (r.target.clone(), r.target_key.clone()))
            .collect()
    }
}

/// The backend weight of an SRV weight: lb weights are relative shares and the smallest positive
/// share is 1, so a record of weight 0 (RFC 2782: "a very small chance" next to positive weights,
/// equal chances among themselves) gets weight 1.
fn backend_weight(srv_weight: u16) -> u32 {
    u32::from(srv_weight).max(1)
}

/// The backends of the planned records, given the addresses of their targets: one per distinct
/// address and port, at most `max_records`, weighted by `policy`. Returns the entries sorted by
/// address, and how many were left out (duplicates, beyond the limit).
pub(crate) fn entries(
    plan: &SrvPlan,
    addresses: &HashMap<String, Vec<IpAddr>>,
    policy: PriorityPolicy,
    max_records: usize,
) -> (Vec<Entry>, u64) {
    let mut dropped = 0u64;
    let mut seen = HashSet::new();
    let mut picked: Vec<(SocketAddr, &SrvRecord)> = Vec::new();
    for record in &plan.records {
        let Some(ips) = addresses.get(&record.target_key) else {
            continue;
        };
        for &ip in ips {
            let addr = SocketAddr::new(ip, record.port);
            // Records are best first, so the first record that yields an address keeps it.
            if !seen.insert(addr) || picked.len() >= max_records {
                dropped += 1;
                continue;
            }
            picked.push((addr, record));
        }
    }
    let Some(active) = picked.iter().map(|(_, r)| r.priority).min() else {
        return (Vec::new(), dropped);
    };
    let mut out: Vec<Entry> = picked
        .into_iter()
        .filter(|(_, r)| policy != PriorityPolicy::LowestOnly || r.priority == active)
        .map(|(addr, r)| {
            let priority = (policy == PriorityPolicy::Failover).then_some(u32::from(r.priority));
            Entry {
                addr,
                weight: backend_weight(r.weight),
                priority,
                srv: Some(SrvTarget {
                    target: r.target_key.clone(),
                    port: r.port,
                    priority: r.priority,
                    weight: r.weight,
                }),
            }
        })
        .collect();
    out.sort();
    (out, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::rdata::SRV;

    fn srv(ttl: u32, priority: u16, weight: u16, port: u16, target: &str) -> Record {
        Record::from_rdata(
            Name::from_ascii("_http._tcp.example.").unwrap(),
            ttl,
            RData::SRV(SRV::new(
                priority,
                weight,
                port,
                Name::from_ascii(target).unwrap(),
            )),
        )
    }

    fn plan_of(records: &[Record], max: usize) -> SrvPlan {
        let refs: Vec<&Record> = records.iter().collect();
        plan(&refs, u32::MAX, max)
    }

    fn ips(pairs: &[(&str, &[[u8; 4]])]) -> HashMap<String, Vec<IpAddr>> {
        pairs
            .iter()
            .map(|(t, list)| {
                (
                    t.to_string(),
                    list.iter().map(|&o| IpAddr::from(o)).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn records_are_ordered_deduplicated_cut_and_cleaned() {
        let records = [
            srv(50, 20, 5, 80, "c.example."),
            srv(30, 10, 1, 80, "B.example."),
            srv(40, 10, 9, 80, "a.example."),
            srv(10, 10, 3, 80, "b.example."), // same target and port as B.example.: dropped
            srv(5, 10, 3, 0, "d.example."),   // port 0: dropped
            srv(5, 10, 3, 80, "."),           // no service: dropped
        ];
        let p = plan_of(&records, 10);
        let order: Vec<(&str, u16)> = p
            .records
            .iter()
            .map(|r| (r.target_key.as_str(), r.priority))
            .collect();
        assert_eq!(
            order,
            vec![("a.example.", 10), ("b.example.", 10), ("c.example.", 20)]
        );
        assert_eq!(p.dropped, 3);
        // Of the two records for b.example.:80, the one of weight 3 (TTL 10) is kept.
        assert_eq!(p.records[1].weight, 3);
        assert_eq!(p.ttl, 10, "the smallest TTL of the records kept");
        assert!(!p.no_service);

        let cut = plan_of(&records, 2);
        assert_eq!(cut.records.len(), 2);
        assert_eq!(cut.dropped, 4);
        assert_eq!(cut.ttl, 10);
        assert_eq!(cut.targets().len(), 2);
    }

    #[test]
    fn only_root_targets_means_no_service() {
        let p = plan_of(&[srv(5, 0, 0, 80, ".")], 10);
        assert!(p.no_service && p.records.is_empty());
        let p = plan_of(&[srv(5, 0, 0, 0, "a.example.")], 10);
        assert!(!p.no_service && p.records.is_empty());
    }

    #[test]
    fn failover_keeps_weights_and_gives_each_priority_its_level() {
        let records = [
            srv(5, 10, 3, 80, "a.example."),
            srv(5, 10, 0, 81, "b.example."),
            srv(5, 20, 7, 80, "c.example."),
            srv(5, 30, 7, 80, "d.example."),
        ];
        let p = plan_of(&records, 10);
        let addrs = ips(&[
            ("a.example.", &[[10, 0, 0, 1]]),
            ("b.example.", &[[10, 0, 0, 2]]),
            ("c.example.", &[[10, 0, 0, 3]]),
            ("d.example.", &[[10, 0, 0, 4]]),
        ]);
        let weights = |policy| {
            let (e, _) = entries(&p, &addrs, policy, 100);
            e.iter()
                .map(|e| (e.addr.to_string(), e.weight))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            weights(PriorityPolicy::Failover),
            vec![
                ("10.0.0.1:80".to_string(), 3),
                ("10.0.0.2:81".to_string(), 1),
                ("10.0.0.3:80".to_string(), 7),
                ("10.0.0.4:80".to_string(), 7)
            ]
        );
        let priorities = |policy| {
            let (e, _) = entries(&p, &addrs, policy, 100);
            e.iter().map(|e| e.priority).collect::<Vec<_>>()
        };
        assert_eq!(
            priorities(PriorityPolicy::Failover),
            [Some(10), Some(10), Some(20), Some(30)]
        );
        assert_eq!(priorities(PriorityPolicy::Ignore), [None; 4]);
        assert_eq!(
            weights(PriorityPolicy::LowestOnly),
            vec![
                ("10.0.0.1:80".to_string(), 3),
                ("10.0.0.2:81".to_string(), 1)
            ]
        );
        assert_eq!(
            weights(PriorityPolicy::Ignore),
            vec![
                ("10.0.0.1:80".to_string(), 3),
                ("10.0.0.2:81".to_string(), 1),
                ("10.0.0.3:80".to_string(), 7),
                ("10.0.0.4:80".to_string(), 7)
            ]
        );
        let (e, _) = entries(&p, &addrs, PriorityPolicy::Failover, 100);
        let srv = e[1].srv.as_ref().unwrap();
        assert_eq!((srv.priority, srv.weight, srv.port), (10, 0, 81));
        assert_eq!(srv.target, "b.example.");
    }

    #[test]
    fn the_active_group_is_the_best_priority_that_resolved() {
        let records = [
            srv(5, 10, 3, 80, "gone.example."),
            srv(5, 20, 4, 80, "c.example."),
            srv(5, 30, 5, 80, "d.example."),
        ];
        let p = plan_of(&records, 10);
        let addrs = ips(&[
            ("c.example.", &[[10, 0, 0, 3]]),
            ("d.example.", &[[10, 0, 0, 4]]),
        ]);
        let (e, _) = entries(&p, &addrs, PriorityPolicy::LowestOnly, 100);
        let kept: Vec<u16> = e.iter().map(|e| e.srv.as_ref().unwrap().priority).collect();
        assert_eq!(
            kept,
            [20],
            "priority 20 is active when 10 resolved to nothing"
        );
    }

    #[test]
    fn duplicate_addresses_keep_the_best_record_and_the_limit_holds() {
        let records = [
            srv(5, 10, 1, 80, "a.example."),
            srv(5, 20, 9, 80, "alias.example."),
        ];
        let p = plan_of(&records, 10);
        let addrs = ips(&[
            ("a.example.", &[[10, 0, 0, 1], [10, 0, 0, 2]]),
            ("alias.example.", &[[10, 0, 0, 1]]),
        ]);
        let (e, dropped) = entries(&p, &addrs, PriorityPolicy::Failover, 100);
        assert_eq!(e.len(), 2);
        assert_eq!(dropped, 1);
        assert!(e.iter().all(|e| e.srv.as_ref().unwrap().priority == 10));
        let (e, dropped) = entries(&p, &addrs, PriorityPolicy::Failover, 1);
        assert_eq!(e.len(), 1);
        assert_eq!(dropped, 2);
        let (none, _) = entries(&p, &HashMap::new(), PriorityPolicy::Failover, 10);
        assert!(none.is_empty());
    }
}
