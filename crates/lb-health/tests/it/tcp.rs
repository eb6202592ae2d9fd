//! TcpHealthCheck: plain connects, port overrides, thresholds through a load balancer, and TLS.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lb_core::{Backends, HealthCheck, HealthSchedule, LoadBalancer};
use lb_health::{Phase, ProbeError, ProbeErrorKind, TcpHealthCheck, TlsConfig};
use tokio::net::TcpSocket;

use crate::support::{self, InOrder, Pki};

fn kind(e: &lb_core::BoxError) -> ProbeErrorKind {
    ProbeError::kind_of(e.as_ref()).unwrap_or_else(|| panic!("not a ProbeError: {e}"))
}

#[tokio::test]
async fn a_listening_backend_is_healthy_and_a_closed_port_is_refused() {
    let up = support::accept_and_hold().await;
    let check = TcpHealthCheck::new();
    check.check(&support::backend(up)).await.unwrap();

    let down = support::closed_port().await;
    let e = check.check(&support::backend(down)).await.unwrap_err();
    assert_eq!(kind(&e), ProbeErrorKind::Refused);
    assert_eq!(e.to_string(), format!("connection to {down} refused"));
}

#[tokio::test]
async fn probe_answers_with_a_typed_error_that_needs_no_downcast() {
    let up = support::accept_and_hold().await;
    let check = TcpHealthCheck::new();
    check.probe(&support::backend(up)).await.unwrap();

    let down = support::closed_port().await;
    let e: ProbeError = check.probe(&support::backend(down)).await.unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Refused);
    assert!(
        matches!(&e, ProbeError::Refused { target, .. } if *target == down.to_string()),
        "{e:?}"
    );

    // TLS failures are typed too: the public roots do not know the test CA.
    let pki = Pki::new("test ca");
    let server = support::tls_accept_and_hold(pki.server_config(&["localhost"], &[], None)).await;
    let e = TcpHealthCheck::new_tls("localhost")
        .unwrap()
        .probe(&support::backend(server))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Tls);
    // And `check` reports the very same error, boxed.
    let boxed = TcpHealthCheck::new()
        .check(&support::backend(down))
        .await
        .unwrap_err();
    assert_eq!(boxed.to_string(), format!("connection to {down} refused"));
}

#[tokio::test]
async fn the_port_override_replaces_the_backends_port() {
    let up = support::accept_and_hold().await;
    let down = support::closed_port().await;
    let check = TcpHealthCheck::new().with_port_override(up.port());
    // The backend's own port is closed; its health port is open.
    let target = support::backend(std::net::SocketAddr::new(down.ip(), down.port()));
    check.check(&target).await.unwrap();
    assert_eq!(
        check.backend_summary(&target),
        format!("tcp connect to {up}")
    );
    let e = TcpHealthCheck::new()
        .with_port_override(down.port())
        .check(&support::backend(up))
        .await
        .unwrap_err();
    assert_eq!(kind(&e), ProbeErrorKind::Refused);
}

#[tokio::test]
async fn a_full_accept_queue_times_out_within_the_connect_timeout() {
    // A listener that never accepts, with the smallest backlog: once the queue is full, the
    // kernel drops further SYNs and a connect hangs, like a black-holed backend.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let check = TcpHealthCheck::new().with_connect_timeout(Duration::from_millis(200));
    let mut timed_out = None;
    for _ in 0..16 {
        let started = Instant::now();
        match check.check(&support::backend(addr)).await {
            // Each probe's connection, closed or not, waits in the queue until accepted.
            Ok(()) => continue,
            Err(e) => {
                timed_out = Some((e, started.elapsed()));
                break;
            }
        }
    }
    let (e, elapsed) = timed_out.expect("the accept queue never filled");
    assert_eq!(kind(&e), ProbeErrorKind::Timeout);
    let probe = e.downcast_ref::<ProbeError>().unwrap();
    assert!(matches!(
        probe,
        ProbeError::Timeout {
            phase: Phase::Connect,
            ..
        }
    ));
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    drop(listener);
}

#[tokio::test]
async fn thresholds_flip_a_backend_only_after_consecutive_results() {
    let (listener, addr) = support::listener().await;
    let flips = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&flips);
    let check = TcpHealthCheck::new()
        .with_thresholds(2, 3)
        .on_status_change(move |_, _| {
            seen.fetch_add(1, Ordering::SeqCst);
        });
    assert_eq!(check.health_threshold(true), 2);
    assert_eq!(check.health_threshold(false), 3);
    let mut backends = Backends::fixed([support::backend(addr)]);
    backends.set_health_check(Box::new(check));
    let lb = LoadBalancer::<InOrder>::from_backends(backends);
    lb.set_panic_threshold(0); // one backend: select answers whether it is ready
    lb.update().await.unwrap();
    let registry = lb.backends().health_registry().clone();
    let schedule = HealthSchedule::default().with_timeout(Duration::from_secs(5));
    let accept = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });

    registry.check_once(&schedule).await;
    assert!(lb.select(b"").is_some(), "healthy while the port listens");

    accept.abort();
    let _ = accept.await; // The listener is dropped with the task: the port now refuses.
    for pass in 1..=3 {
        let report = registry.check_once(&schedule).await;
        assert_eq!(report.failed, 1);
        let ready = lb.select(b"").is_some();
        assert_eq!(ready, pass < 3, "after {pass} failures");
    }
    assert_eq!(flips.load(Ordering::SeqCst), 1);
    let state = lb.backends().state(&support::backend(addr)).unwrap();
    let last = state.health().last_error.unwrap();
    assert_eq!(
        &*last,
        format!("connection to {addr} refused: Connection refused (os error 111)").as_str()
    );
}

#[tokio::test]
async fn tls_probes_verify_the_certificate_and_the_name() {
    let pki = Pki::new("test ca");
    let server = support::tls_accept_and_hold(pki.server_config(&["localhost"], &[], None)).await;
    let target = support::backend(server);
    let trusted = TlsConfig::new()
        .with_root_certificates(pki.roots())
        .with_server_name("localhost");
    TcpHealthCheck::new()
        .with_tls(trusted.clone())
        .unwrap()
        .check(&target)
        .await
        .unwrap();

    // Untrusted: the default (public) roots do not know the test CA.
    let e = TcpHealthCheck::new_tls("localhost")
        .unwrap()
        .check(&target)
        .await
        .unwrap_err();
    assert_eq!(kind(&e), ProbeErrorKind::Tls);
    let text = support::error_chain(e.as_ref());
    assert!(text.contains("UnknownIssuer"), "{text}");
    assert!(text.contains(&server.to_string()), "{text}");

    // Wrong name: trusted CA, but the certificate is not for this name.
    let wrong = TlsConfig::new()
        .with_root_certificates(pki.roots())
        .with_server_name("other.example");
    let e = TcpHealthCheck::new()
        .with_tls(wrong)
        .unwrap()
        .check(&target)
        .await
        .unwrap_err();
    assert_eq!(kind(&e), ProbeErrorKind::Tls);
    let text = support::error_chain(e.as_ref());
    assert!(
        text.contains("not valid for name \"other.example\""),
        "{text}"
    );

    // No name: the backend's IP address is verified, and the certificate does not carry it.
    let by_ip = TlsConfig::new().with_root_certificates(pki.roots());
    let e = TcpHealthCheck::new()
        .with_tls(by_ip)
        .unwrap()
        .check(&target)
        .await
        .unwrap_err();
    assert_eq!(kind(&e), ProbeErrorKind::Tls);

    // The opt-out accepts the untrusted certificate.
    TcpHealthCheck::new()
        .with_tls(TlsConfig::new().dangerous_accept_any_certificate())
        .unwrap()
        .check(&target)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_tls_probe_of_a_plain_tcp_server_that_never_answers_times_out() {
    let server = support::accept_and_hold().await;
    let check = TcpHealthCheck::new()
        .with_tls(TlsConfig::new().with_server_name("localhost"))
        .unwrap()
        .with_connect_timeout(Duration::from_millis(300))
        .with_deadline(Duration::from_millis(500));
    let started = Instant::now();
    let e = check.check(&support::backend(server)).await.unwrap_err();
    assert_eq!(kind(&e), ProbeErrorKind::Timeout);
    assert!(matches!(
        e.downcast_ref::<ProbeError>().unwrap(),
        ProbeError::Timeout {
            phase: Phase::TlsHandshake,
            ..
        }
    ));
    assert!(started.elapsed() < Duration::from_millis(900));
}

#[tokio::test]
async fn probes_reach_unix_sockets() {
    let path = std::env::temp_dir().join(format!("lb-health-{}-unix.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(crate::servers::full(
                        http::StatusCode::OK,
                        "ok",
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let backend = lb_core::Backend::new(&format!("unix:{}", path.display())).unwrap();
    // The port override does not apply to a path.
    TcpHealthCheck::new()
        .with_port_override(9)
        .check(&backend)
        .await
        .unwrap();
    lb_health::HttpHealthCheck::new("svc", false)
        .unwrap()
        .probe(&backend)
        .await
        .unwrap();
    lb_health::HttpHealthCheck::h2c("svc")
        .unwrap()
        .probe(&backend)
        .await
        .expect_err("an HTTP/1.1-only server does not speak h2c");
    std::fs::remove_file(&path).unwrap();
    let e = TcpHealthCheck::new().check(&backend).await.unwrap_err();
    assert_eq!(kind(&e), ProbeErrorKind::Connect);
    assert!(e.to_string().starts_with("connecting to unix:"), "{e}");
}
