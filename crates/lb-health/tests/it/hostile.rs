//! Hostile backends on real sockets: every probe ends within its deadline, fails with the
//! right reason, and reads a bounded number of bytes.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::StatusCode;
use lb_health::{HttpHealthCheck, HttpProtocol, Phase, ProbeError, ProbeErrorKind, TlsConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::servers::{self, Mode};
use crate::support::{self, Pki};

const DEADLINE: Duration = Duration::from_millis(300);
/// Scheduling slack on a loaded 2-core machine; the probe itself stops at the deadline.
const SLACK: Duration = Duration::from_millis(700);

/// A raw TCP server running `behave` on every connection.
async fn raw<F, Fut>(behave: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (listener, addr) = support::listener().await;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(behave(stream));
        }
    });
    addr
}

/// Reads the request head so that the server's answer is a response, not an early reply.
async fn read_head(stream: &mut TcpStream) {
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn check() -> HttpHealthCheck {
    HttpHealthCheck::new("svc", false).unwrap().with_timeouts(
        Duration::from_secs(1),
        Duration::from_secs(1),
        DEADLINE,
    )
}

/// Probes `addr` and returns the error and how long the probe took.
async fn fail(check: &HttpHealthCheck, addr: SocketAddr) -> (ProbeError, Duration) {
    let started = Instant::now();
    let e = check
        .probe(&support::backend(addr))
        .await
        .expect_err("a hostile backend passed the probe");
    (e, started.elapsed())
}

fn assert_timeout_within_deadline(e: &ProbeError, elapsed: Duration, phase: Phase) {
    assert_eq!(e.kind(), ProbeErrorKind::Timeout, "{e}");
    assert!(
        matches!(e, ProbeError::Timeout { phase: p, after, .. } if *p == phase && *after <= DEADLINE),
        "{e:?}"
    );
    assert!(elapsed < DEADLINE + SLACK, "took {elapsed:?}");
}

#[tokio::test]
async fn a_backend_that_accepts_and_never_answers_times_out() {
    let addr = raw(|mut s| async move {
        read_head(&mut s).await;
        let _ = s.read(&mut [0u8; 1]).await; // hold until the prober leaves
    })
    .await;
    let (e, elapsed) = fail(&check(), addr).await;
    assert_timeout_within_deadline(&e, elapsed, Phase::Response);
}

#[tokio::test]
async fn a_status_line_dripped_one_byte_per_second_times_out() {
    let addr = raw(|mut s| async move {
        read_head(&mut s).await;
        for b in b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n" {
            if s.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
    .await;
    let (e, elapsed) = fail(&check(), addr).await;
    assert_timeout_within_deadline(&e, elapsed, Phase::Response);
}

#[tokio::test]
async fn an_endless_body_fails_at_the_byte_cap() {
    let addr = raw(|mut s| async move {
        read_head(&mut s).await;
        if s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
        let chunk = vec![b'x'; 16 * 1024];
        while s.write_all(&chunk).await.is_ok() {}
    })
    .await;
    let long = check().with_timeouts(
        Duration::from_secs(1),
        Duration::from_secs(5),
        Duration::from_secs(5),
    );
    let (e, elapsed) = fail(&long, addr).await;
    assert_eq!(e.kind(), ProbeErrorKind::Body, "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "response body from {addr} exceeds {} bytes",
            lb_health::DEFAULT_MAX_BODY_BYTES
        )
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "the cap, not the deadline, ended it"
    );
    // With a body check, the same cap applies.
    let (e, _) = fail(&long.clone().with_body_contains("never"), addr).await;
    assert_eq!(e.kind(), ProbeErrorKind::Body);
}

#[tokio::test]
async fn ten_mebibytes_of_headers_fail_at_the_header_cap() {
    let addr = raw(|mut s| async move {
        read_head(&mut s).await;
        if s.write_all(b"HTTP/1.1 200 OK\r\n").await.is_err() {
            return;
        }
        let line = format!("x-junk: {}\r\n", "a".repeat(1000));
        let mut written = 0;
        while written < 10 * 1024 * 1024 {
            if s.write_all(line.as_bytes()).await.is_err() {
                return;
            }
            written += line.len();
        }
        let _ = s.write_all(b"\r\n").await;
    })
    .await;
    let (e, elapsed) = fail(&check(), addr).await;
    assert_eq!(e.kind(), ProbeErrorKind::Protocol, "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "response headers from {addr} exceed {} bytes",
            lb_health::DEFAULT_MAX_HEADER_BYTES
        )
    );
    assert!(elapsed < DEADLINE + SLACK);

    // One enormous header line is capped the same way.
    let addr = raw(|mut s| async move {
        read_head(&mut s).await;
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nx-huge: ").await;
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..160 {
            if s.write_all(&chunk).await.is_err() {
                return;
            }
        }
    })
    .await;
    let (e, _) = fail(&check(), addr).await;
    assert_eq!(e.kind(), ProbeErrorKind::Protocol, "{e}");
}

#[tokio::test]
async fn garbage_bytes_are_a_protocol_error() {
    let addr = raw(|mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"\x16\x03\x01garbage\xff\xfe not http at all\r\n\r\n")
            .await;
        let _ = s.read(&mut [0u8; 1]).await;
    })
    .await;
    let (e, elapsed) = fail(&check(), addr).await;
    assert_eq!(e.kind(), ProbeErrorKind::Protocol, "{e}");
    assert!(
        support::error_chain(&e).contains("http/1.1"),
        "{}",
        support::error_chain(&e)
    );
    assert!(elapsed < DEADLINE + SLACK);
}

#[tokio::test]
async fn a_reset_or_a_close_mid_response_is_a_reset() {
    let rst = raw(|mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nonly a part")
            .await;
        let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO)); // the drop below sends RST instead of FIN
    })
    .await;
    let (e, _) = fail(&check(), rst).await;
    assert_eq!(
        e.kind(),
        ProbeErrorKind::Reset,
        "{}",
        support::error_chain(&e)
    );
    assert!(
        e.to_string()
            .contains("closed the connection before the answer was complete")
    );

    let eof = raw(|mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nonly a part")
            .await;
        let _ = s.shutdown().await;
    })
    .await;
    let (e, _) = fail(&check(), eof).await;
    assert_eq!(
        e.kind(),
        ProbeErrorKind::Reset,
        "{}",
        support::error_chain(&e)
    );

    let before_head = raw(|mut s| async move {
        read_head(&mut s).await;
    })
    .await;
    let (e, _) = fail(&check(), before_head).await;
    assert_eq!(
        e.kind(),
        ProbeErrorKind::Reset,
        "{}",
        support::error_chain(&e)
    );
}

#[tokio::test]
async fn an_http2_server_that_never_sends_settings_times_out() {
    let addr = raw(|mut s| async move {
        let mut sink = tokio::io::sink();
        let _ = tokio::io::copy(&mut s, &mut sink).await; // reads the preface, never answers
    })
    .await;
    let h2c = check().with_protocol(HttpProtocol::Http2);
    let (e, elapsed) = fail(&h2c, addr).await;
    assert_eq!(e.kind(), ProbeErrorKind::Timeout, "{e}");
    assert!(elapsed < DEADLINE + SLACK, "took {elapsed:?}");

    // The same over TLS, after a good handshake that chose h2.
    let pki = Pki::new("test ca");
    let tls_addr = support::tls_accept_and_hold(pki.server_config(&["svc"], &[b"h2"], None)).await;
    let h2 = check()
        .with_tls(TlsConfig::new().with_root_certificates(pki.roots()))
        .unwrap();
    let (e, elapsed) = fail(&h2, tls_addr).await;
    assert_eq!(e.kind(), ProbeErrorKind::Timeout, "{e}");
    assert!(elapsed < DEADLINE + SLACK, "took {elapsed:?}");
}

#[tokio::test]
async fn an_http2_header_list_over_the_cap_fails() {
    let server = servers::serve(Mode::H2c, |_req| async {
        let mut r = servers::full(StatusCode::OK, "ok");
        r.headers_mut()
            .insert("x-huge", "a".repeat(100 * 1024).parse().unwrap());
        r
    })
    .await;
    let h2c = check().with_protocol(HttpProtocol::Http2);
    let (e, elapsed) = fail(&h2c, server.addr).await;
    assert_eq!(e.kind(), ProbeErrorKind::Protocol, "{e}");
    let text = support::error_chain(&e);
    assert!(text.contains("header_list_way_too_large"), "{text}");
    assert!(elapsed < DEADLINE + SLACK);
}

#[tokio::test]
async fn a_tls_server_answering_garbage_fails_the_handshake() {
    let addr = raw(|mut s| async move {
        let _ = s.read(&mut [0u8; 512]).await;
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        let _ = s.read(&mut [0u8; 1]).await;
    })
    .await;
    let https = check().with_tls(TlsConfig::new()).unwrap();
    let (e, elapsed) = fail(&https, addr).await;
    assert_eq!(e.kind(), ProbeErrorKind::Tls, "{e}");
    assert!(elapsed < DEADLINE + SLACK);
}

#[tokio::test]
async fn hostile_backends_cannot_stall_a_pass_or_hide_a_healthy_one() {
    let good = servers::fixed(Mode::H1, StatusCode::OK, "ok").await;
    let silent = raw(|mut s| async move {
        read_head(&mut s).await;
        let _ = s.read(&mut [0u8; 1]).await;
    })
    .await;
    let endless = raw(|mut s| async move {
        read_head(&mut s).await;
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await;
        let chunk = vec![b'x'; 16 * 1024];
        while s.write_all(&chunk).await.is_ok() {}
    })
    .await;
    let mut backends = lb_core::Backends::fixed([good.addr, silent, endless].map(support::backend));
    backends.set_health_check(Box::new(check()));
    let lb = lb_core::LoadBalancer::<support::InOrder>::from_backends(backends);
    // Two of three down would be panic mode: the point here is that the healthy one is found.
    lb.set_panic_threshold(0);
    lb.update().await.unwrap();
    let schedule = lb_core::HealthSchedule::default()
        .with_timeout(Duration::from_secs(10))
        .with_parallelism(8);
    let report = lb.backends().health_registry().check_once(&schedule).await;
    assert_eq!((report.checked, report.failed), (3, 2));
    assert!(report.elapsed < DEADLINE + SLACK, "{:?}", report.elapsed);
    let set = lb.backends().get_backend();
    let state = |addr| set.state_of(&lb_core::Address::Inet(addr)).unwrap().clone();
    assert!(state(good.addr).is_healthy());
    let silent_state = state(silent).health();
    assert!(!silent_state.healthy);
    assert!(silent_state.last_error.unwrap().contains("timed out"));
    let endless_state = state(endless).health();
    assert!(
        endless_state
            .last_error
            .unwrap()
            .contains("exceeds 65536 bytes")
    );
    assert_eq!(
        lb.select(b"").unwrap().addr,
        lb_core::Address::Inet(good.addr)
    );
}

#[tokio::test]
async fn a_kept_connection_the_backend_dropped_is_replaced_not_counted_as_a_failure() {
    // Each connection answers one request and then closes on the next without an answer, as a
    // backend does when its keep-alive timeout ends as the probe's request arrives.
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    let addr = raw(move |mut s| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            read_head(&mut s).await;
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            if s.write_all(answer).await.is_ok() {
                read_head(&mut s).await;
            }
        }
    })
    .await;
    let reuse = check().with_reuse_connection(true);
    for probe in 1..=3 {
        let result = reuse.probe(&support::backend(addr)).await;
        assert!(result.is_ok(), "probe {probe}: {result:?}");
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        3,
        "one new connection per probe"
    );
}
