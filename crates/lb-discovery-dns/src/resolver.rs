//! Building the hickory resolver, one lookup, and the classification of its errors.

use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RecordType};

use crate::config::{Nameserver, Transport};
use crate::error::{DnsError, FailureKind};

/// Responses kept by the resolver's own cache. The cache is cleared before every refresh (the
/// discovery source is the cache of its answer), so it only serves lookups repeated within one
/// refresh.
const RESOLVER_CACHE_SIZE: u64 = 256;

/// Where the resolver's configuration comes from.
#[derive(Clone, Debug)]
pub(crate) enum ResolverChoice {
    /// `/etc/resolv.conf` (or the platform's equivalent).
    System,
    /// These nameservers, no search domains, no hosts file.
    Explicit(Vec<Nameserver>),
}

/// Builds a resolver with the query deadline and attempts set explicitly.
pub(crate) fn build_resolver(
    choice: &ResolverChoice,
    query_timeout: Duration,
    attempts: usize,
) -> Result<TokioResolver, DnsError> {
    let mut builder = match choice {
        ResolverChoice::System => {
            TokioResolver::builder_tokio().map_err(|e| DnsError::SystemConfig {
                source: Arc::new(e),
            })?
        }
        ResolverChoice::Explicit(servers) => {
            if servers.is_empty() {
                return Err(DnsError::NoNameservers);
            }
            let config =
                ResolverConfig::from_name_servers(servers.iter().map(name_server_config).collect());
            let mut builder =
                TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
            // Explicit nameservers mean "ask these": /etc/hosts must not answer instead.
            builder.options_mut().use_hosts_file = ResolveHosts::Never;
            builder
        }
    };
    let options: &mut ResolverOpts = builder.options_mut();
    options.timeout = query_timeout;
    options.attempts = attempts;
    options.cache_size = RESOLVER_CACHE_SIZE;
    builder.build().map_err(|e| DnsError::Resolver {
        source: Arc::new(e),
    })
}

fn name_server_config(ns: &Nameserver) -> NameServerConfig {
    let with_port = |mut c: ConnectionConfig| {
        c.port = ns.addr.port();
        c
    };
    let connections = match ns.transport {
        Transport::Udp => vec![with_port(ConnectionConfig::udp())],
        Transport::Tcp => vec![with_port(ConnectionConfig::tcp())],
        Transport::UdpAndTcp => vec![
            with_port(ConnectionConfig::udp()),
            with_port(ConnectionConfig::tcp()),
        ],
    };
    NameServerConfig::new(ns.addr.ip(), true, connections)
}

/// A lookup that produced no records.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub(crate) error: DnsError,
    /// For a negative answer, the negative-caching TTL from the SOA record, if the server sent one.
    pub(crate) negative_ttl: Option<u32>,
}

impl Failure {
    pub(crate) fn new(error: DnsError) -> Self {
        Failure {
            error,
            negative_ttl: None,
        }
    }
}

/// One query of `record_type` for `name`, through the resolver (search domains, CNAME follow-up,
/// retries and deadlines included).
pub(crate) async fn lookup(
    resolver: &TokioResolver,
    name: &Name,
    record_type: RecordType,
) -> Result<Lookup, Failure> {
    resolver
        .lookup(name.clone(), record_type)
        .await
        .map_err(|e| classify(name, record_type, e))
}

fn type_label(record_type: RecordType) -> &'static str {
    match record_type {
        RecordType::A => "A",
        RecordType::AAAA => "AAAA",
        RecordType::SRV => "SRV",
        _ => "other",
    }
}

/// Sorts a resolver error into a negative answer (NXDOMAIN, no records) or a failure.
pub(crate) fn classify(name: &Name, record_type: RecordType, error: NetError) -> Failure {
    let name_text = name.to_string();
    let label = type_label(record_type);
    let failure = |kind: FailureKind, error: NetError| {
        Failure::new(DnsError::Lookup {
            name: name_text.clone(),
            record_type: label,
            kind,
            source: Some(Arc::new(error)),
        })
    };
    match &error {
        NetError::Dns(HickoryDnsError::NoRecordsFound(NoRecords {
            response_code,
            negative_ttl,
            ..
        })) => {
            let negative_ttl = *negative_ttl;
            match *response_code {
                ResponseCode::NXDomain => Failure {
                    error: DnsError::NotFound { name: name_text },
                    negative_ttl,
                },
                ResponseCode::NoError => Failure {
                    error: DnsError::NoRecords {
                        name: name_text,
                        record_type: label,
                    },
                    negative_ttl,
                },
                code => failure(kind_of_code(code), error),
            }
        }
        NetError::Dns(HickoryDnsError::ResponseCode(code)) => {
            let kind = kind_of_code(*code);
            failure(kind, error)
        }
        NetError::Timeout => failure(FailureKind::Timeout, error),
        NetError::Io(_) | NetError::NoConnections | NetError::Busy => {
            failure(FailureKind::Network, error)
        }
        NetError::Dns(_) | NetError::Proto(_) | NetError::Truncated => {
            failure(FailureKind::BadResponse, error)
        }
        _ => failure(FailureKind::Network, error),
    }
}

fn kind_of_code(code: ResponseCode) -> FailureKind {
    match code {
        ResponseCode::ServFail => FailureKind::ServFail,
        ResponseCode::Refused => FailureKind::Refused,
        _ => FailureKind::BadResponse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::Query;

    fn name() -> Name {
        Name::from_ascii("svc.example.").unwrap()
    }

    fn no_records(code: ResponseCode, negative_ttl: Option<u32>) -> NetError {
        let mut nr = NoRecords::new(Query::query(name(), RecordType::A), code);
        nr.negative_ttl = negative_ttl;
        NetError::Dns(HickoryDnsError::NoRecordsFound(nr))
    }

    #[test]
    fn nxdomain_and_nodata_are_negative_with_their_ttl() {
        let f = classify(
            &name(),
            RecordType::A,
            no_records(ResponseCode::NXDomain, Some(7)),
        );
        assert!(matches!(f.error, DnsError::NotFound { ref name } if name == "svc.example."));
        assert_eq!(f.negative_ttl, Some(7));
        let f = classify(
            &name(),
            RecordType::SRV,
            no_records(ResponseCode::NoError, None),
        );
        assert!(matches!(
            f.error,
            DnsError::NoRecords {
                record_type: "SRV",
                ..
            }
        ));
        assert!(f.error.is_negative());
    }

    #[test]
    fn server_and_transport_errors_are_failures_of_the_right_kind() {
        let cases = [
            (
                NetError::Dns(HickoryDnsError::ResponseCode(ResponseCode::ServFail)),
                FailureKind::ServFail,
            ),
            (
                NetError::Dns(HickoryDnsError::ResponseCode(ResponseCode::Refused)),
                FailureKind::Refused,
            ),
            (
                NetError::Dns(HickoryDnsError::ResponseCode(ResponseCode::FormErr)),
                FailureKind::BadResponse,
            ),
            (
                no_records(ResponseCode::ServFail, None),
                FailureKind::ServFail,
            ),
            (NetError::Timeout, FailureKind::Timeout),
            (NetError::NoConnections, FailureKind::Network),
            (NetError::Truncated, FailureKind::BadResponse),
        ];
        for (error, kind) in cases {
            let f = classify(&name(), RecordType::AAAA, error);
            assert_eq!(f.error.failure_kind(), Some(kind), "{}", f.error);
            assert!(!f.error.is_negative());
            assert!(
                std::error::Error::source(&f.error).is_some(),
                "the resolver error is kept as the source"
            );
        }
    }

    #[test]
    fn an_empty_nameserver_list_is_an_error() {
        let e = build_resolver(&ResolverChoice::Explicit(vec![]), Duration::from_secs(1), 1)
            .unwrap_err();
        assert!(matches!(e, DnsError::NoNameservers));
    }
}
