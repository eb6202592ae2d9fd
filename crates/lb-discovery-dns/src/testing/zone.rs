//! The test server's zone: the records it serves, the faults it injects, and how it answers.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, SOA, SRV};
use hickory_resolver::proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::{Fault, RecordKind, SrvSpec};

/// The longest CNAME chain the server follows inside one answer (deeper chains are cut, as a
/// real server would do to avoid loops).
const SERVER_CHAIN_LIMIT: usize = 32;

/// A zone key: the name lowercase, with its final dot.
pub(super) fn key(name: &str) -> String {
    let mut k = name.trim().to_ascii_lowercase();
    if !k.ends_with('.') {
        k.push('.');
    }
    k
}

#[derive(Clone, Debug, Default)]
struct Node {
    a: Option<(u32, Vec<Ipv4Addr>)>,
    aaaa: Option<(u32, Vec<Ipv6Addr>)>,
    srv: Option<(u32, Vec<SrvSpec>)>,
    cname: Option<(u32, String)>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.a.is_none() && self.aaaa.is_none() && self.srv.is_none() && self.cname.is_none()
    }
}

/// What a query gets.
#[derive(Debug)]
pub(super) enum Reply {
    Message(Box<Message>),
    /// No answer at all (the client times out).
    Silent,
}

#[derive(Debug)]
pub(super) struct Zone {
    nodes: HashMap<String, Node>,
    faults: HashMap<(String, Option<RecordKind>), Fault>,
    pub(super) srv_additionals: bool,
    pub(super) follow_cnames: bool,
    pub(super) negative_ttl: u32,
}

impl Default for Zone {
    fn default() -> Self {
        Zone {
            nodes: HashMap::new(),
            faults: HashMap::new(),
            srv_additionals: false,
            follow_cnames: true,
            negative_ttl: 1,
        }
    }
}

fn name(key: &str) -> Option<Name> {
    Name::from_ascii(key).ok()
}

fn kind_of(record_type: RecordType) -> Option<RecordKind> {
    match record_type {
        RecordType::A => Some(RecordKind::A),
        RecordType::AAAA => Some(RecordKind::Aaaa),
        RecordType::SRV => Some(RecordKind::Srv),
        RecordType::CNAME => Some(RecordKind::Cname),
        _ => None,
    }
}

impl Zone {
    fn node(&mut self, name: &str) -> &mut Node {
        self.nodes.entry(key(name)).or_default()
    }

    pub(super) fn set_a(&mut self, name: &str, ttl: u32, ips: Vec<Ipv4Addr>) {
        self.node(name).a = Some((ttl, ips));
    }

    pub(super) fn set_aaaa(&mut self, name: &str, ttl: u32, ips: Vec<Ipv6Addr>) {
        self.node(name).aaaa = Some((ttl, ips));
    }

    pub(super) fn set_srv(&mut self, name: &str, ttl: u32, records: Vec<SrvSpec>) {
        self.node(name).srv = Some((ttl, records));
    }

    pub(super) fn set_cname(&mut self, name: &str, ttl: u32, target: &str) {
        self.node(name).cname = Some((ttl, key(target)));
    }

    pub(super) fn remove_kind(&mut self, name: &str, kind: RecordKind) {
        let k = key(name);
        if let Some(node) = self.nodes.get_mut(&k) {
            match kind {
                RecordKind::A => node.a = None,
                RecordKind::Aaaa => node.aaaa = None,
                RecordKind::Srv => node.srv = None,
                RecordKind::Cname => node.cname = None,
            }
            if node.is_empty() {
                self.nodes.remove(&k);
            }
        }
    }

    pub(super) fn remove(&mut self, name: &str) {
        self.nodes.remove(&key(name));
    }

    pub(super) fn set_fault(&mut self, name: &str, kind: Option<RecordKind>, fault: Option<Fault>) {
        let k = (key(name), kind);
        match fault {
            Some(f) => {
                self.faults.insert(k, f);
            }
            None => {
                self.faults.remove(&k);
            }
        }
    }

    fn fault(&self, name: &str, kind: Option<RecordKind>) -> Option<Fault> {
        self.faults
            .get(&(name.to_string(), kind))
            .or_else(|| self.faults.get(&(name.to_string(), None)))
            .copied()
    }

    /// The records of `record_type` at `key`, if the node has them.
    fn records(&self, key: &str, record_type: RecordType) -> Option<Vec<Record>> {
        let node = self.nodes.get(key)?;
        let owner = name(key)?;
        let make = |ttl: u32, data: RData| Record::from_rdata(owner.clone(), ttl, data);
        match record_type {
            RecordType::A => node
                .a
                .as_ref()
                .map(|(ttl, ips)| ips.iter().map(|ip| make(*ttl, RData::A(A(*ip)))).collect()),
            RecordType::AAAA => node.aaaa.as_ref().map(|(ttl, ips)| {
                ips.iter()
                    .map(|ip| make(*ttl, RData::AAAA(AAAA(*ip))))
                    .collect()
            }),
            RecordType::SRV => node.srv.as_ref().map(|(ttl, list)| {
                list.iter()
                    .filter_map(|s| {
                        let target = name(&key_or_root(&s.target))?;
                        Some(make(
                            *ttl,
                            RData::SRV(SRV::new(s.priority, s.weight, s.port, target)),
                        ))
                    })
                    .collect()
            }),
            RecordType::CNAME => node.cname.as_ref().and_then(|(ttl, target)| {
                Some(vec![make(*ttl, RData::CNAME(CNAME(name(target)?)))])
            }),
            _ => None,
        }
    }

    fn soa(&self) -> Record {
        // The SOA of the test zone: owner the root, minimum = the negative TTL.
        let soa = SOA::new(
            Name::from_ascii("ns.test.").unwrap_or_else(|_| Name::root()),
            Name::from_ascii("admin.test.").unwrap_or_else(|_| Name::root()),
            1,
            3600,
            600,
            86400,
            self.negative_ttl,
        );
        Record::from_rdata(Name::root(), self.negative_ttl, RData::SOA(soa))
    }

    /// Answers one request as an authoritative server would.
    pub(super) fn answer(&self, request: &Message) -> Reply {
        let mut response = Message::response(request.metadata.id, OpCode::Query);
        response.metadata.message_type = MessageType::Response;
        response.metadata.authoritative = true;
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.metadata.recursion_available = true;
        if request.edns.is_some() {
            let mut edns = Edns::new();
            edns.set_max_payload(4096);
            response.set_edns(edns);
        }
        let Some(query) = request.queries.first() else {
            response.metadata.response_code = ResponseCode::FormErr;
            return Reply::Message(Box::new(response));
        };
        response.add_query(query.clone());
        if query.query_class() != DNSClass::IN {
            response.metadata.response_code = ResponseCode::Refused;
            return Reply::Message(Box::new(response));
        }
        let record_type = query.query_type();
        let mut current = key(&query.name().to_ascii());
        let mut hops = 0;
        let code = loop {
            match self.fault(&current, kind_of(record_type)) {
                Some(Fault::Silent) => return Reply::Silent,
                Some(Fault::ServFail) => break ResponseCode::ServFail,
                Some(Fault::Refused) => break ResponseCode::Refused,
                Some(Fault::NxDomain) => break ResponseCode::NXDomain,
                None => {}
            }
            let Some(node) = self.nodes.get(&current) else {
                break ResponseCode::NXDomain;
            };
            if let Some(records) = self.records(&current, record_type) {
                response.add_answers(records);
                break ResponseCode::NoError;
            }
            match (&node.cname, record_type) {
                (Some((_, target)), t) if t != RecordType::CNAME => {
                    if let Some(records) = self.records(&current, RecordType::CNAME) {
                        response.add_answers(records);
                    }
                    hops += 1;
                    if !self.follow_cnames || hops > SERVER_CHAIN_LIMIT {
                        break ResponseCode::NoError;
                    }
                    current = target.clone();
                }
                _ => break ResponseCode::NoError,
            }
        };
        response.metadata.response_code = code;
        if matches!(code, ResponseCode::NXDomain)
            || (code == ResponseCode::NoError && response.answers.is_empty())
        {
            response.add_authority(self.soa());
        }
        if record_type == RecordType::SRV && self.srv_additionals {
            let targets: Vec<String> = response
                .answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::SRV(s) => Some(key(&s.target.to_ascii())),
                    _ => None,
                })
                .collect();
            for target in targets {
                for t in [RecordType::A, RecordType::AAAA] {
                    if let Some(records) = self.records(&target, t) {
                        response.add_additionals(records);
                    }
                }
            }
        }
        Reply::Message(Box::new(response))
    }
}

/// SRV targets are names; `.` stays the root.
fn key_or_root(target: &str) -> String {
    if target.trim() == "." {
        ".".to_string()
    } else {
        key(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::Query;

    fn ask(zone: &Zone, name: &str, t: RecordType) -> Message {
        let mut request = Message::query();
        request.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        match zone.answer(&request) {
            Reply::Message(m) => *m,
            Reply::Silent => panic!("unexpected silence"),
        }
    }

    #[test]
    fn answers_nxdomain_nodata_records_and_chains() {
        let mut zone = Zone::default();
        zone.set_a("Web.Test", 5, vec![Ipv4Addr::new(10, 0, 0, 1)]);
        zone.set_cname("alias.test.", 7, "web.test.");
        let m = ask(&zone, "missing.test.", RecordType::A);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(m.authorities.len(), 1, "negative answers carry the SOA");
        let m = ask(&zone, "web.test.", RecordType::AAAA);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        let m = ask(&zone, "WEB.test.", RecordType::A);
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].ttl, 5);
        let m = ask(&zone, "alias.test.", RecordType::A);
        assert_eq!(m.answers.len(), 2, "the cname and the address");
        zone.follow_cnames = false;
        let m = ask(&zone, "alias.test.", RecordType::A);
        assert_eq!(m.answers.len(), 1, "only the cname");
    }

    #[test]
    fn faults_apply_per_name_and_type() {
        let mut zone = Zone::default();
        zone.set_a("web.test.", 5, vec![Ipv4Addr::new(10, 0, 0, 1)]);
        zone.set_fault("web.test.", Some(RecordKind::Aaaa), Some(Fault::ServFail));
        assert_eq!(
            ask(&zone, "web.test.", RecordType::A)
                .metadata
                .response_code,
            ResponseCode::NoError
        );
        assert_eq!(
            ask(&zone, "web.test.", RecordType::AAAA)
                .metadata
                .response_code,
            ResponseCode::ServFail
        );
        zone.set_fault("web.test.", None, Some(Fault::Refused));
        assert_eq!(
            ask(&zone, "web.test.", RecordType::A)
                .metadata
                .response_code,
            ResponseCode::Refused
        );
        zone.set_fault("web.test.", None, None);
        zone.set_fault("web.test.", Some(RecordKind::Aaaa), None);
        assert_eq!(
            ask(&zone, "web.test.", RecordType::AAAA)
                .metadata
                .response_code,
            ResponseCode::NoError
        );
        let mut looped = Zone::default();
        looped.set_cname("a.test.", 5, "b.test.");
        looped.set_cname("b.test.", 5, "a.test.");
        let m = ask(&looped, "a.test.", RecordType::A);
        assert_eq!(m.answers.len(), SERVER_CHAIN_LIMIT + 1, "loops are cut");
    }
}
