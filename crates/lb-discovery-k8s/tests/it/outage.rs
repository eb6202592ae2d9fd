//! API outages: every failed request reaches `status()` as it happens, with its real cause, and
//! is retried on the source's own backoff, never by the client beneath it.
//!
//! These tests run on tokio's paused clock: the waits are virtual, and the times the fake API
//! server logs are exact, so the gaps between requests can be held to the backoff's bounds.

use std::sync::Arc;
use std::time::Duration;

use lb_core::Enablement::*;
use lb_discovery_k8s::{Builder, EndpointSliceDiscovery, Limits, WatchStatus};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedKey, DistinguishedName, DnType, IsCa, KeyPair,
    generate_simple_self_signed,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::fake_api::{FakeApi, Mode, Seen};
use crate::support::*;

/// The first step of the backoff in these tests; it doubles up to [`MAX`].
const STEP: Duration = Duration::from_secs(1);
const MAX: Duration = Duration::from_secs(8);
/// How much later than the request its error may be recorded, or than its backoff a retry may
/// start: the work in between takes no virtual time, so this is only a margin.
const SLACK: Duration = Duration::from_millis(50);

/// A kube configuration for `url` without kube's own timers, so that the paused clock only ever
/// jumps to the source's backoff (the request deadline below is an hour away).
fn quiet_config(url: &str) -> kube::Config {
    let mut config = kube::Config::new(url.parse().unwrap());
    config.default_namespace = NAMESPACE.into();
    config.connect_timeout = None;
    config.read_timeout = None;
    config.write_timeout = None;
    config
}

fn outage_builder(config: kube::Config, initial: Duration, max: Duration) -> Builder {
    EndpointSliceDiscovery::builder("web")
        .config(config)
        .port(lb_discovery_k8s::Port::name("http"))
        .backoff(initial, max)
        .limits(Limits::default().request_timeout(Duration::from_secs(3600)))
        .initial_list_timeout(Duration::ZERO)
}

/// Waits until the watch has recorded `n` errors; returns when each was recorded, with the
/// status right after it.
async fn errors(discovery: &EndpointSliceDiscovery, n: u64) -> Vec<(Instant, WatchStatus)> {
    errors_after(discovery, 0, n).await
}

/// [`errors`] from the `from`-th on, when the first `from` were recorded already.
async fn errors_after(
    discovery: &EndpointSliceDiscovery,
    from: u64,
    n: u64,
) -> Vec<(Instant, WatchStatus)> {
    let mut rx = discovery.status_watch();
    let mut out: Vec<(Instant, WatchStatus)> = Vec::new();
    loop {
        let status = rx.borrow_and_update().clone();
        if status.errors > out.last().map_or(from, |(_, s)| s.errors) {
            out.push((Instant::now(), status));
        }
        if out.last().is_some_and(|(_, s)| s.errors >= n) {
            return out;
        }
        let changed = tokio::time::timeout(Duration::from_secs(600), rx.changed()).await;
        assert!(
            matches!(changed, Ok(Ok(()))),
            "no error {} within 10 minutes; status: {:?}",
            out.len() + 1,
            discovery.status()
        );
    }
}

/// The times of the requests answered with an error status.
fn failed_at(api: &FakeApi) -> Vec<Instant> {
    api.seen_at()
        .into_iter()
        .filter(|(_, s)| matches!(s, Seen::Failed { .. }))
        .map(|(at, _)| at)
        .collect()
}

/// Each error was recorded as its attempt was answered, not after hidden retries.
fn recorded_at_once(attempts: &[Instant], errors: &[(Instant, WatchStatus)]) {
    assert_eq!(
        attempts.len(),
        errors.len(),
        "one attempt per error, none retried out of sight: attempts at {:?}",
        relative(attempts)
    );
    for (attempt, (recorded, status)) in attempts.iter().zip(errors) {
        let after = recorded.duration_since(*attempt);
        assert!(
            after <= SLACK,
            "error {} recorded {after:?} after its attempt",
            status.errors
        );
    }
}

/// The gaps between attempts follow the backoff: the k-th wait is half to all of
/// `initial * 2^k`, capped at `max`.
fn paced(attempts: &[Instant], initial: Duration, max: Duration) {
    let mut step = initial;
    for pair in attempts.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(
            gap >= step / 2 && gap <= step + SLACK,
            "a retry {gap:?} after the last attempt, outside [{:?}, {step:?}]; attempts at {:?}",
            step / 2,
            relative(attempts)
        );
        step = (step * 2).min(max);
    }
}

fn relative(times: &[Instant]) -> Vec<Duration> {
    times.iter().map(|t| t.duration_since(times[0])).collect()
}

#[tokio::test(start_paused = true)]
async fn unavailable_answers_reach_the_status_at_once_and_are_retried_on_the_backoff() {
    for status in [503, 504] {
        let api = FakeApi::start().await;
        api.apply(web("web-a", "10.0.0.1"));
        api.set_mode(Mode::Fail {
            status,
            retry_after: None,
        });
        let discovery = outage_builder(quiet_config(&api.url()), STEP, MAX)
            .build()
            .await
            .unwrap();
        let errors = errors(&discovery, 5).await;
        let attempts = failed_at(&api);
        recorded_at_once(&attempts, &errors);
        paced(&attempts, STEP, MAX);
        for (_, s) in &errors {
            let error = s.last_error.as_ref().unwrap();
            assert!(
                error
                    .message()
                    .contains(&format!("kubernetes api answered {status} ")),
                "{error}"
            );
            assert!(
                error
                    .message()
                    .contains("the server is currently unable to handle the request"),
                "{error}"
            );
        }
        // Back up: the next retry lists.
        api.set_mode(Mode::Up);
        let mut changes = lb_core::ServiceDiscovery::subscribe(&discovery).unwrap();
        wait_set(&discovery, &mut changes, &[("10.0.0.1:8080", Enabled)]).await;
    }
}

#[tokio::test(start_paused = true)]
async fn too_many_requests_waits_as_long_as_retry_after_says_within_the_longest_backoff() {
    let api = FakeApi::start().await;
    api.set_mode(Mode::Fail {
        status: 429,
        retry_after: Some(3),
    });
    let (initial, max) = (Duration::from_millis(100), Duration::from_secs(10));
    let discovery = outage_builder(quiet_config(&api.url()), initial, max)
        .build()
        .await
        .unwrap();
    let mut errors = errors(&discovery, 3).await;
    // A server that asks for an hour is heard only up to the longest backoff.
    api.set_mode(Mode::Fail {
        status: 429,
        retry_after: Some(3600),
    });
    errors.extend(errors_after(&discovery, 3, 5).await);
    let attempts = failed_at(&api);
    recorded_at_once(&attempts, &errors);
    let gaps: Vec<Duration> = attempts.windows(2).map(|p| p[1] - p[0]).collect();
    // Three answers asked for 3 s (the backoff alone would have waited 0.05 s to 0.4 s), the
    // fourth for an hour, cut to 10 s.
    let wanted = [3, 3, 3, 10].map(Duration::from_secs);
    assert_eq!(gaps.len(), wanted.len(), "{gaps:?}");
    for (gap, wanted) in gaps.iter().zip(wanted) {
        assert!(
            *gap >= wanted && *gap <= wanted + SLACK,
            "gaps {gaps:?}, wanted {wanted:?}"
        );
    }
    let error = discovery.status().last_error.unwrap();
    assert!(
        error
            .message()
            .contains("kubernetes api answered 429 Too Many Requests: too many requests"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_internal_error_is_reported_with_its_status_and_message() {
    let api = FakeApi::start().await;
    api.set_mode(Mode::Fail {
        status: 500,
        retry_after: None,
    });
    let discovery = outage_builder(quiet_config(&api.url()), STEP, MAX)
        .build()
        .await
        .unwrap();
    let errors = errors(&discovery, 3).await;
    let attempts = failed_at(&api);
    recorded_at_once(&attempts, &errors);
    paced(&attempts, STEP, MAX);
    let error = discovery.status().last_error.unwrap();
    assert_eq!(
        error.message(),
        "failed to perform initial object list: kubernetes api answered 500 Internal Server \
         Error: Internal error occurred: etcd cluster is unavailable (InternalError)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_connection_names_the_api_server_and_is_retried_on_the_backoff() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let url = format!("http://{closed}");
    let discovery = outage_builder(quiet_config(&url), STEP, MAX)
        .build()
        .await
        .unwrap();
    let errors = errors(&discovery, 4).await;
    let times: Vec<Instant> = errors.iter().map(|(at, _)| *at).collect();
    paced(&times, STEP, MAX);
    let error = discovery.status().last_error.unwrap();
    let text = error.message();
    assert!(
        text.contains(&format!(
            "{url}/apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}/endpointslices"
        )),
        "{text}"
    );
    assert!(text.contains("Connection refused"), "{text}");
}

/// A TLS server whose certificate no client here trusts; it logs each handshake it is offered.
async fn untrusted_tls_server() -> (String, watch::Receiver<Vec<Instant>>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let CertifiedKey { cert, signing_key } =
        generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let (log, seen) = watch::channel(Vec::new());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            log.send_modify(|l| l.push(Instant::now()));
            let acceptor = acceptor.clone();
            // The client refuses the certificate: the handshake fails on both sides.
            tokio::spawn(async move { acceptor.accept(stream).await.is_err() });
        }
    });
    (url, seen)
}

#[tokio::test(start_paused = true)]
async fn an_untrusted_certificate_names_the_api_server_and_is_retried_on_the_backoff() {
    let (url, handshakes) = untrusted_tls_server().await;
    let mut config = quiet_config(&url);
    // The client trusts another CA than the one that signed the server's certificate.
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "another ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other_ca = params.self_signed(&KeyPair::generate().unwrap()).unwrap();
    config.root_cert = Some(vec![other_ca.der().to_vec()]);
    let discovery = outage_builder(config, STEP, MAX).build().await.unwrap();
    let errors = errors(&discovery, 4).await;
    let attempts = handshakes.borrow().clone();
    recorded_at_once(&attempts, &errors);
    paced(&attempts, STEP, MAX);
    let text = discovery.status().last_error.unwrap().message().to_owned();
    assert!(text.contains(&format!("{url}/apis/")), "{text}");
    assert!(text.contains("UnknownIssuer"), "{text}");
}
