//! Reading an answer: following CNAME chains, keeping usable addresses, normalizing TTLs.
//!
//! Everything here is a pure function of the records, so the rules for hostile or broken
//! answers are tested without a network.

use std::net::IpAddr;

use hickory_resolver::proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::config::MAX_CNAME_CHAIN;

/// A TTL as RFC 2181 section 8 reads it: values with the most significant bit set are 0.
///
/// hickory-resolver 0.26 already caps TTLs at one day in its cache layer, so such values do not
/// reach this crate today; this keeps the rule if that layer ever passes raw TTLs through.
pub(crate) fn normalize_ttl(ttl: u32) -> u32 {
    if ttl > i32::MAX as u32 { 0 } else { ttl }
}

/// The records of `record_type` that answer `name`, found by following CNAME records from `name`
/// through `records`, and the smallest TTL along the chain (the CNAMEs; `u32::MAX` without one).
///
/// Records that are not on the chain (other names, other classes) are ignored: an answer cannot
/// slip in addresses for a name that was not asked. A chain longer than [`MAX_CNAME_CHAIN`] (or
/// a loop) is `Err(())`. A chain that ends at a name without such records gives no records.
pub(crate) fn follow_chain<'a>(
    name: &Name,
    records: &'a [Record],
    record_type: RecordType,
) -> Result<(Vec<&'a Record>, u32), ()> {
    let mut current = name.clone();
    let mut chain_ttl = u32::MAX;
    let mut hops = 0;
    loop {
        let found: Vec<&Record> = records
            .iter()
            .filter(|r| {
                r.dns_class == DNSClass::IN && r.record_type() == record_type && r.name == current
            })
            .collect();
        if !found.is_empty() {
            return Ok((found, chain_ttl));
        }
        let cname = records.iter().find_map(|r| match &r.data {
            RData::CNAME(target) if r.dns_class == DNSClass::IN && r.name == current => {
                Some((target.0.clone(), r.ttl))
            }
            _ => None,
        });
        match cname {
            Some((target, ttl)) => {
                hops += 1;
                if hops > MAX_CNAME_CHAIN {
                    return Err(());
                }
                chain_ttl = chain_ttl.min(normalize_ttl(ttl));
                current = target;
            }
            None => return Ok((Vec::new(), chain_ttl)),
        }
    }
}

/// Whether an address from DNS can be a backend. The unspecified address (`0.0.0.0`, `::`)
/// connects to the local host on most systems, and multicast or broadcast addresses are not
/// servers: an answer carrying them is broken or hostile, and they are left out.
pub(crate) fn usable_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast()),
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
    }
}

/// The addresses of one name, from one or two lookups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ips {
    /// Distinct usable addresses, sorted (IPv4 before IPv6).
    pub(crate) ips: Vec<IpAddr>,
    /// The smallest normalized TTL of the records used, chain included.
    pub(crate) ttl: u32,
    /// Records left out: unusable addresses and duplicates.
    pub(crate) dropped: u64,
}

impl Ips {
    /// The addresses in `records` (A or AAAA), with `chain_ttl` folded into the TTL.
    pub(crate) fn from_records(records: &[&Record], chain_ttl: u32) -> Self {
        let mut ttl = chain_ttl;
        let mut ips = Vec::with_capacity(records.len());
        let mut dropped = 0;
        for r in records {
            let ip = match &r.data {
                RData::A(a) => IpAddr::V4(a.0),
                RData::AAAA(a) => IpAddr::V6(a.0),
                _ => continue,
            };
            if !usable_ip(ip) {
                tracing::debug!(%ip, name = %r.name, "left out an unusable address from a dns answer");
                dropped += 1;
                continue;
            }
            ttl = ttl.min(normalize_ttl(r.ttl));
            ips.push(ip);
        }
        ips.sort_unstable();
        let before = ips.len();
        ips.dedup();
        dropped += (before - ips.len()) as u64;
        Ips { ips, ttl, dropped }
    }

    /// Adds the addresses of another lookup of the same name (the other family).
    pub(crate) fn merge(mut self, other: Ips) -> Self {
        if other.ips.is_empty() {
            self.dropped += other.dropped;
            return self;
        }
        if self.ips.is_empty() {
            return Ips {
                dropped: self.dropped + other.dropped,
                ..other
            };
        }
        self.ips.extend(other.ips);
        self.ips.sort_unstable();
        self.ips.dedup();
        self.ttl = self.ttl.min(other.ttl);
        self.dropped += other.dropped;
        self
    }

    /// Keeps the first `max` addresses (in sorted order), counting the rest as dropped.
    pub(crate) fn truncate(&mut self, max: usize) {
        if self.ips.len() > max {
            self.dropped += (self.ips.len() - max) as u64;
            self.ips.truncate(max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME};
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn a(name: &str, ttl: u32, ip: [u8; 4]) -> Record {
        Record::from_rdata(n(name), ttl, RData::A(A(Ipv4Addr::from(ip))))
    }

    fn cname(name: &str, ttl: u32, target: &str) -> Record {
        Record::from_rdata(n(name), ttl, RData::CNAME(CNAME(n(target))))
    }

    #[test]
    fn ttls_with_the_high_bit_set_are_zero() {
        assert_eq!(normalize_ttl(300), 300);
        assert_eq!(normalize_ttl(i32::MAX as u32), i32::MAX as u32);
        assert_eq!(normalize_ttl(0x8000_0000), 0);
        assert_eq!(normalize_ttl(u32::MAX), 0);
    }

    #[test]
    fn a_chain_is_followed_and_its_smallest_ttl_kept() {
        let records = vec![
            cname("www.example.", 30, "lb.example."),
            cname("lb.example.", 10, "pool.example."),
            a("pool.example.", 60, [10, 0, 0, 1]),
            a("pool.example.", 60, [10, 0, 0, 2]),
        ];
        let (found, ttl) = follow_chain(&n("www.example."), &records, RecordType::A).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(ttl, 10);
        let ips = Ips::from_records(&found, ttl);
        assert_eq!(ips.ttl, 10);
        assert_eq!(ips.ips.len(), 2);
    }

    #[test]
    fn names_compare_without_regard_to_case() {
        let records = vec![a("POOL.Example.", 5, [10, 0, 0, 1])];
        let (found, _) = follow_chain(&n("pool.example."), &records, RecordType::A).unwrap();
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn records_off_the_chain_are_ignored() {
        // A hostile answer slips in an address for another name: it must not be used.
        let records = vec![
            a("evil.example.", 5, [6, 6, 6, 6]),
            cname("www.example.", 5, "pool.example."),
        ];
        let (found, _) = follow_chain(&n("www.example."), &records, RecordType::A).unwrap();
        assert!(found.is_empty(), "a dangling chain gives no records");
    }

    #[test]
    fn long_chains_and_loops_are_errors() {
        let mut records: Vec<Record> = (0..=MAX_CNAME_CHAIN)
            .map(|i| {
                cname(
                    &format!("c{i}.example."),
                    5,
                    &format!("c{}.example.", i + 1),
                )
            })
            .collect();
        records.push(a(
            &format!("c{}.example.", MAX_CNAME_CHAIN + 1),
            5,
            [10, 0, 0, 1],
        ));
        assert!(follow_chain(&n("c0.example."), &records, RecordType::A).is_err());
        // Exactly MAX_CNAME_CHAIN hops is fine.
        let start = n("c1.example.");
        let (found, _) = follow_chain(&start, &records, RecordType::A).unwrap();
        assert_eq!(found.len(), 1);

        let looped = vec![
            cname("a.example.", 5, "b.example."),
            cname("b.example.", 5, "a.example."),
        ];
        assert!(follow_chain(&n("a.example."), &looped, RecordType::A).is_err());
    }

    #[test]
    fn unusable_and_duplicate_addresses_are_dropped_and_counted() {
        let records = [
            a("x.", 5, [0, 0, 0, 0]),
            a("x.", 5, [224, 0, 0, 1]),
            a("x.", 5, [255, 255, 255, 255]),
            a("x.", 5, [10, 0, 0, 2]),
            a("x.", 7, [10, 0, 0, 2]),
            a("x.", 9, [10, 0, 0, 1]),
            Record::from_rdata(n("x."), 5, RData::AAAA(AAAA(Ipv6Addr::UNSPECIFIED))),
            Record::from_rdata(n("x."), 3, RData::AAAA(AAAA("ff02::1".parse().unwrap()))),
            Record::from_rdata(n("x."), 4, RData::AAAA(AAAA(Ipv6Addr::LOCALHOST))),
        ];
        let refs: Vec<&Record> = records.iter().collect();
        let ips = Ips::from_records(&refs, u32::MAX);
        assert_eq!(
            ips.ips,
            vec![
                IpAddr::from([10, 0, 0, 1]),
                IpAddr::from([10, 0, 0, 2]),
                IpAddr::V6(Ipv6Addr::LOCALHOST)
            ]
        );
        assert_eq!(ips.dropped, 6);
        assert_eq!(ips.ttl, 4, "only the TTLs of used records count");
        assert!(
            usable_ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            "loopback is a valid backend"
        );
    }

    #[test]
    fn merging_families_and_truncating() {
        let v4 = Ips {
            ips: vec![IpAddr::from([10, 0, 0, 1])],
            ttl: 30,
            dropped: 1,
        };
        let v6 = Ips {
            ips: vec![IpAddr::V6(Ipv6Addr::LOCALHOST)],
            ttl: 20,
            dropped: 0,
        };
        let mut both = v4.clone().merge(v6);
        assert_eq!(both.ips.len(), 2);
        assert_eq!(both.ttl, 20);
        assert_eq!(both.dropped, 1);
        both.truncate(1);
        assert_eq!(both.ips, vec![IpAddr::from([10, 0, 0, 1])]);
        assert_eq!(both.dropped, 2);
        let empty = Ips {
            ips: vec![],
            ttl: 5,
            dropped: 2,
        };
        let kept = v4.merge(empty);
        assert_eq!(kept.ttl, 30, "an empty family does not lower the TTL");
        assert_eq!(kept.dropped, 3);
    }
}
