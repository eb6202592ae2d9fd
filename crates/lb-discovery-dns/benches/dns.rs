//! What DNS discovery costs: the first answer (resolver built, queries over loopback UDP/TCP,
//! answer processed) and a `discover` call on a cached answer (what each load-balancer update
//! pays), for answers of 1, 100 and 1,000 backends.
//!
//! `cargo bench -p lb-discovery-dns`. The DNS server is the crate's in-process loopback server.

use std::net::Ipv4Addr;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use lb_core::ServiceDiscovery;
use lb_discovery_dns::testing::{SrvSpec, TestDnsServer};
use lb_discovery_dns::{DnsDiscovery, DnsDiscoveryBuilder, IpFamily};

const SIZES: [u32; 3] = [1, 100, 1000];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A zone with `host-N.test.` (N addresses) and `_svc._tcp.srv-N.test.` (N SRV records, one
/// target each). SRV answers carry the targets' addresses in the additional section when they
/// fit (N = 1 and 100); at N = 1,000 they do not, and the 1,000 targets are queried (16 at once).
fn zone(server: &TestDnsServer) {
    server.set_srv_additionals(true);
    for n in SIZES {
        let ips: Vec<Ipv4Addr> = (0..n).map(|i| Ipv4Addr::from(0x0a00_0000 + i)).collect();
        server.set_a(&format!("host-{n}.test."), 300, ips);
        let targets: Vec<SrvSpec> = (0..n)
            .map(|i| SrvSpec::new(10, 1, 8000, format!("t{i}.srv-{n}.test.")))
            .collect();
        for i in 0..n {
            server.set_a(
                &format!("t{i}.srv-{n}.test."),
                300,
                [Ipv4Addr::from(0x0b00_0000 + i)],
            );
        }
        server.set_srv(&format!("_svc._tcp.srv-{n}.test."), 300, targets);
    }
}

fn configured(builder: DnsDiscoveryBuilder, server: &TestDnsServer) -> DnsDiscoveryBuilder {
    builder
        .nameserver(server.nameserver())
        .ip_family(IpFamily::V4)
        .query_timeout(Duration::from_secs(2))
}

fn first_answer(c: &mut Criterion) {
    let rt = runtime();
    let server = rt
        .block_on(TestDnsServer::start())
        .expect("a loopback dns server");
    zone(&server);
    let mut group = c.benchmark_group("dns_first_answer");
    group.sample_size(30);
    for n in SIZES {
        group.bench_with_input(BenchmarkId::new("a", n), &n, |b, &n| {
            b.iter(|| {
                let dns = configured(DnsDiscovery::a_aaaa(format!("host-{n}.test."), 80), &server)
                    .build()
                    .expect("valid settings");
                let answer = rt.block_on(dns.discover()).expect("an answer");
                assert_eq!(answer.backends.len(), n as usize);
            });
        });
        group.bench_with_input(BenchmarkId::new("srv", n), &n, |b, &n| {
            b.iter(|| {
                let dns = configured(
                    DnsDiscovery::srv(format!("_svc._tcp.srv-{n}.test.")),
                    &server,
                )
                .build()
                .expect("valid settings");
                let answer = rt.block_on(dns.discover()).expect("an answer");
                assert_eq!(answer.backends.len(), n as usize);
            });
        });
    }
    group.finish();
}

fn cached_discover(c: &mut Criterion) {
    let rt = runtime();
    let server = rt
        .block_on(TestDnsServer::start())
        .expect("a loopback dns server");
    zone(&server);
    let mut group = c.benchmark_group("dns_cached_discover");
    for n in SIZES {
        let dns = configured(
            DnsDiscovery::srv(format!("_svc._tcp.srv-{n}.test.")),
            &server,
        )
        .build()
        .expect("valid settings");
        rt.block_on(dns.discover()).expect("an answer");
        group.bench_with_input(BenchmarkId::new("srv", n), &n, |b, _| {
            b.iter(|| rt.block_on(dns.discover()).expect("an answer"));
        });
    }
    group.finish();
}

criterion_group!(benches, first_answer, cached_discover);
criterion_main!(benches);
