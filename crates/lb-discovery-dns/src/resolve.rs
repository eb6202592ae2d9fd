//! One refresh: the lookups for a host name or an SRV name, turned into backend entries.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::{DNSClass, Name, Record, RecordType};
use tokio::task::JoinSet;

use crate::answer::{Ips, follow_chain};
use crate::config::{IpFamily, MAX_CNAME_CHAIN, PriorityPolicy};
use crate::entry::Entry;
use crate::error::DnsError;
use crate::resolver::{Failure, lookup};
use crate::srv;

/// SRV target lookups in flight at once during one refresh.
const TARGET_CONCURRENCY: usize = 16;

/// What a discovery source resolves.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// A host name given as an IP address: one backend, no lookups.
    Literal(SocketAddr),
    /// A host name's A/AAAA records, with the port to use.
    Host { name: Name, port: u16 },
    /// An SRV record set.
    Srv { name: Name },
}

impl Target {
    pub(crate) fn name(&self) -> String {
        match self {
            Target::Literal(addr) => addr.ip().to_string(),
            Target::Host { name, .. } | Target::Srv { name } => name.to_string(),
        }
    }
}

/// The settings a refresh needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lookups {
    pub(crate) family: IpFamily,
    pub(crate) weight: u32,
    pub(crate) priority: PriorityPolicy,
    pub(crate) max_records: usize,
}

/// The result of a refresh that found backends.
#[derive(Clone, Debug, Default)]
pub(crate) struct Resolved {
    /// The backends, sorted by address.
    pub(crate) entries: Vec<Entry>,
    /// The smallest TTL of every record used.
    pub(crate) ttl: u32,
    /// Records left out (unusable, duplicate, beyond the limit).
    pub(crate) dropped: u64,
    /// SRV targets whose lookup failed or found nothing.
    pub(crate) unresolved: u64,
    /// Set when some SRV target lookups failed (not negatively): their previous addresses were
    /// kept, and this is the last such failure.
    pub(crate) partial: Option<DnsError>,
}

impl Resolved {
    /// Takes the addresses of one SRV target (from the additional section or a lookup): the
    /// first `max_records` of them, with their TTL and the records left out counted.
    fn use_target(
        &mut self,
        addresses: &mut HashMap<String, Vec<IpAddr>>,
        key: String,
        mut ips: Ips,
        max_records: usize,
    ) {
        ips.truncate(max_records);
        self.ttl = self.ttl.min(ips.ttl);
        self.dropped += ips.dropped;
        addresses.insert(key, ips.ips);
    }
}

/// Runs the lookups of one refresh. `previous` is the current answer, whose addresses stand in
/// for SRV targets whose lookup fails.
pub(crate) async fn resolve(
    resolver: &TokioResolver,
    target: &Target,
    settings: Lookups,
    previous: &[Entry],
) -> Result<Resolved, Failure> {
    match target {
        Target::Literal(addr) => Ok(Resolved {
            entries: vec![Entry {
                addr: *addr,
                weight: settings.weight,
                srv: None,
                priority: None,
            }],
            ttl: u32::MAX,
            ..Resolved::default()
        }),
        Target::Host { name, port } => {
            let mut ips = lookup_ips(resolver, name, settings.family).await?;
            ips.truncate(settings.max_records);
            let mut entries: Vec<Entry> = ips
                .ips
                .iter()
                .map(|&ip| Entry {
                    addr: SocketAddr::new(ip, *port),
                    weight: settings.weight,
                    srv: None,
                    priority: None,
                })
                .collect();
            entries.sort();
            Ok(Resolved {
                entries,
                ttl: ips.ttl,
                dropped: ips.dropped,
                ..Resolved::default()
            })
        }
        Target::Srv { name } => resolve_srv(resolver, name, settings, previous).await,
    }
}

fn chain_too_long(name: &Name) -> Failure {
    Failure::new(DnsError::CnameChainTooLong {
        name: name.to_string(),
        limit: MAX_CNAME_CHAIN,
    })
}

/// The addresses of one family, empty when the answer's chain leads to none.
async fn lookup_family(
    resolver: &TokioResolver,
    name: &Name,
    record_type: RecordType,
) -> Result<Ips, Failure> {
    let answer = lookup(resolver, name, record_type).await?;
    let asked = answer.query().name().clone();
    let (records, chain_ttl) =
        follow_chain(&asked, answer.answers(), record_type).map_err(|()| chain_too_long(name))?;
    Ok(Ips::from_records(&records, chain_ttl))
}

/// The addresses of `name` in `family`. No address at all is a negative answer.
pub(crate) async fn lookup_ips(
    resolver: &TokioResolver,
    name: &Name,
    family: IpFamily,
) -> Result<Ips, Failure> {
    let ips = match family {
        IpFamily::V4 => lookup_family(resolver, name, RecordType::A).await?,
        IpFamily::V6 => lookup_family(resolver, name, RecordType::AAAA).await?,
        IpFamily::Both => {
            let (v4, v6) = tokio::join!(
                lookup_family(resolver, name, RecordType::A),
                lookup_family(resolver, name, RecordType::AAAA)
            );
            combine(v4, v6)?
        }
    };
    if ips.ips.is_empty() {
        return Err(Failure::new(DnsError::NoRecords {
            name: name.to_string(),
            record_type: family.label(),
        }));
    }
    Ok(ips)
}

/// Both families together: a failure of either fails the lookup; a negative answer of one
/// family is just "no addresses of that family"; two negative answers are negative (NXDOMAIN
/// wins over an empty answer, and the smaller negative TTL is kept).
fn combine(v4: Result<Ips, Failure>, v6: Result<Ips, Failure>) -> Result<Ips, Failure> {
    match (v4, v6) {
        (Err(f), _) | (_, Err(f)) if !f.error.is_negative() => Err(f),
        (Ok(a), Ok(b)) => Ok(a.merge(b)),
        (Ok(ips), Err(_)) | (Err(_), Ok(ips)) => Ok(ips),
        (Err(a), Err(b)) => {
            let negative_ttl = match (a.negative_ttl, b.negative_ttl) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
            let error = if matches!(b.error, DnsError::NotFound { .. }) {
                b.error
            } else {
                a.error
            };
            Err(Failure {
                error,
                negative_ttl,
            })
        }
    }
}

/// The address records of the SRV answer's additional section ("glue"), by owner name (the
/// lowercase key of [`srv::key_of`]). Only records of the wanted families are kept; glue is
/// used as it is, without following CNAME records.
fn glue_index(additionals: &[Record], family: IpFamily) -> HashMap<String, Vec<&Record>> {
    let mut index: HashMap<String, Vec<&Record>> = HashMap::new();
    for r in additionals {
        let wanted = match r.record_type() {
            RecordType::A => family.wants_v4(),
            RecordType::AAAA => family.wants_v6(),
            _ => false,
        };
        if wanted && r.dns_class == DNSClass::IN {
            index.entry(srv::key_of(&r.name)).or_default().push(r);
        }
    }
    index
}

async fn resolve_srv(
    resolver: &TokioResolver,
    name: &Name,
    settings: Lookups,
    previous: &[Entry],
) -> Result<Resolved, Failure> {
    let answer = lookup(resolver, name, RecordType::SRV).await?;
    let asked = answer.query().name().clone();
    let (records, chain_ttl) = follow_chain(&asked, answer.answers(), RecordType::SRV)
        .map_err(|()| chain_too_long(name))?;
    let plan = srv::plan(&records, chain_ttl, settings.max_records);
    if plan.records.is_empty() {
        if plan.no_service {
            tracing::debug!(%name, "srv records say the service is not available (target `.`)");
        }
        return Err(Failure::new(DnsError::NoRecords {
            name: name.to_string(),
            record_type: "SRV",
        }));
    }
    let mut out = Resolved {
        ttl: plan.ttl,
        dropped: plan.dropped,
        ..Resolved::default()
    };
    let targets = plan.targets();
    let target_count = targets.len();
    let mut addresses: HashMap<String, Vec<IpAddr>> = HashMap::with_capacity(target_count);
    let glue = glue_index(answer.additionals(), settings.family);
    let mut queue = Vec::new();
    for (target, key) in targets {
        let found = glue
            .get(&key)
            .map(|records| Ips::from_records(records, u32::MAX))
            .unwrap_or_default();
        if found.ips.is_empty() {
            queue.push((target, key));
        } else {
            out.use_target(&mut addresses, key, found, settings.max_records);
        }
    }

    let mut queue = queue.into_iter();
    let mut previous_ips: Option<HashMap<&str, Vec<IpAddr>>> = None;
    let mut in_flight = JoinSet::new();
    let spawn_next = |set: &mut JoinSet<_>, queue: &mut std::vec::IntoIter<(Name, String)>| {
        if let Some((target, key)) = queue.next() {
            let resolver = resolver.clone();
            let family = settings.family;
            set.spawn(async move {
                let result = lookup_ips(&resolver, &target, family).await;
                (target, key, result)
            });
        }
    };
    for _ in 0..TARGET_CONCURRENCY {
        spawn_next(&mut in_flight, &mut queue);
    }
    while let Some(joined) = in_flight.join_next().await {
        spawn_next(&mut in_flight, &mut queue);
        let Ok((target, key, result)) = joined else {
            // The lookup task panicked or was cancelled; its target is left out.
            out.unresolved += 1;
            continue;
        };
        match result {
            Ok(ips) => out.use_target(&mut addresses, key, ips, settings.max_records),
            Err(failure) if failure.error.is_negative() => {
                tracing::warn!(srv = %name, %target, error = %failure.error, "srv target does not resolve; left out");
                out.unresolved += 1;
            }
            Err(failure) => {
                out.unresolved += 1;
                let kept = previous_ips
                    .get_or_insert_with(|| by_target(previous))
                    .remove(key.as_str())
                    .unwrap_or_default();
                tracing::warn!(
                    srv = %name,
                    %target,
                    error = %failure.error,
                    kept = kept.len(),
                    "srv target lookup failed; keeping its previous addresses"
                );
                if !kept.is_empty() {
                    addresses.insert(key, kept);
                }
                out.partial = Some(failure.error);
            }
        }
    }

    let (entries, dropped) =
        srv::entries(&plan, &addresses, settings.priority, settings.max_records);
    out.dropped += dropped;
    if entries.is_empty() {
        return Err(Failure::new(match out.partial.take() {
            Some(failure) => failure,
            None => DnsError::NoUsableTargets {
                name: name.to_string(),
                targets: target_count,
            },
        }));
    }
    out.entries = entries;
    Ok(out)
}

/// The addresses of the previous answer, by SRV target: built only when a target lookup fails.
fn by_target(previous: &[Entry]) -> HashMap<&str, Vec<IpAddr>> {
    let mut map: HashMap<&str, Vec<IpAddr>> = HashMap::new();
    for e in previous {
        if let Some(srv) = &e.srv {
            let ips = map.entry(srv.target.as_str()).or_default();
            if !ips.contains(&e.addr.ip()) {
                ips.push(e.addr.ip());
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FailureKind;

    fn ips(list: &[[u8; 4]], ttl: u32) -> Result<Ips, Failure> {
        Ok(Ips {
            ips: list.iter().map(|&o| IpAddr::from(o)).collect(),
            ttl,
            dropped: 0,
        })
    }

    fn negative(nx: bool, ttl: Option<u32>) -> Result<Ips, Failure> {
        Err(Failure {
            error: if nx {
                DnsError::NotFound { name: "x.".into() }
            } else {
                DnsError::NoRecords {
                    name: "x.".into(),
                    record_type: "AAAA",
                }
            },
            negative_ttl: ttl,
        })
    }

    fn servfail() -> Result<Ips, Failure> {
        Err(Failure::new(DnsError::Lookup {
            name: "x.".into(),
            record_type: "AAAA",
            kind: FailureKind::ServFail,
            source: None,
        }))
    }

    #[test]
    fn combining_families() {
        let both = combine(ips(&[[10, 0, 0, 1]], 9), ips(&[[10, 0, 0, 2]], 5)).unwrap();
        assert_eq!((both.ips.len(), both.ttl), (2, 5));
        let v4_only = combine(ips(&[[10, 0, 0, 1]], 9), negative(false, Some(1))).unwrap();
        assert_eq!(v4_only.ips.len(), 1);
        let e = combine(ips(&[[10, 0, 0, 1]], 9), servfail()).unwrap_err();
        assert_eq!(e.error.failure_kind(), Some(FailureKind::ServFail));
        let e = combine(servfail(), negative(true, None)).unwrap_err();
        assert!(
            !e.error.is_negative(),
            "a failure wins over a negative answer"
        );
        let e = combine(negative(false, Some(30)), negative(true, Some(10))).unwrap_err();
        assert!(matches!(e.error, DnsError::NotFound { .. }));
        assert_eq!(e.negative_ttl, Some(10));
        let e = combine(negative(false, None), negative(false, Some(3))).unwrap_err();
        assert_eq!(e.negative_ttl, Some(3));
    }
}
