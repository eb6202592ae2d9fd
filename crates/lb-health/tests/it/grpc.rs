//! GrpcHealthCheck against a hand-rolled `grpc.health.v1.Health` server on hyper (h2c and TLS).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use lb_core::HealthCheck;
use lb_health::{GrpcHealthCheck, ProbeError, ProbeErrorKind, TlsConfig};

use crate::servers::{self, Body, Mode, Server};
use crate::support::{self, Pki};

fn response_frame(status: u8) -> Bytes {
    Bytes::from(vec![0, 0, 0, 0, 2, 0x08, status])
}

fn with_trailers(body: Bytes, trailers: HeaderMap) -> Body {
    Full::new(body)
        .with_trailers(async move { Some(Ok(trailers)) })
        .boxed()
}

fn trailers(code: &str, message: Option<&str>) -> HeaderMap {
    let mut t = HeaderMap::new();
    t.insert("grpc-status", code.parse().unwrap());
    if let Some(m) = message {
        t.insert("grpc-message", m.parse().unwrap());
    }
    t
}

/// The service name in a `HealthCheckRequest` frame (names shorter than 128 bytes).
async fn service_of(req: Request<Incoming>) -> String {
    let body = req.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body[0], 0, "uncompressed");
    let message = &body[5..];
    if message.is_empty() {
        String::new()
    } else {
        assert_eq!(message[0], 0x0a);
        String::from_utf8(message[2..2 + message[1] as usize].to_vec()).unwrap()
    }
}

/// A health server: "" and "api" serve, "batch" does not, others are unknown (grpc-status 5,
/// trailers-only, as grpc-go answers).
async fn health_server(mode: Mode) -> Server {
    servers::serve(mode, |req| async move {
        let ok_path = req.uri().path() == "/grpc.health.v1.Health/Check";
        let service = service_of(req).await;
        let mut response = http::Response::new(match (ok_path, service.as_str()) {
            (false, _) => with_trailers(Bytes::new(), trailers("12", Some("unknown method"))),
            (true, "" | "api") => with_trailers(response_frame(1), trailers("0", None)),
            (true, "batch") => with_trailers(response_frame(2), trailers("0", None)),
            (true, _) => Full::new(Bytes::new()).boxed(),
        });
        response
            .headers_mut()
            .insert("content-type", "application/grpc".parse().unwrap());
        if ok_path && !matches!(service.as_str(), "" | "api" | "batch") {
            response
                .headers_mut()
                .insert("grpc-status", "5".parse().unwrap());
            response
                .headers_mut()
                .insert("grpc-message", "unknown%20service".parse().unwrap());
        }
        response
    })
    .await
}

async fn probe(check: &GrpcHealthCheck, server: &Server) -> Result<(), ProbeError> {
    check.probe(&support::backend(server.addr)).await
}

#[tokio::test]
async fn serving_is_healthy_and_everything_else_is_not() {
    let server = health_server(Mode::H2c).await;
    probe(&GrpcHealthCheck::new("").unwrap(), &server)
        .await
        .unwrap();
    probe(&GrpcHealthCheck::new("api").unwrap(), &server)
        .await
        .unwrap();
    let seen = &server.seen()[0];
    assert_eq!(seen.version, Version::HTTP_2);
    assert_eq!(seen.method, http::Method::POST);
    assert_eq!(
        seen.uri,
        format!("http://{}/grpc.health.v1.Health/Check", server.addr).as_str()
    );
    assert_eq!(seen.headers["content-type"], "application/grpc");
    assert_eq!(seen.headers["te"], "trailers");
    let timeout = seen.headers["grpc-timeout"].to_str().unwrap();
    let millis: u64 = timeout.strip_suffix('m').unwrap().parse().unwrap();
    assert!((1..=3000).contains(&millis), "{timeout}");

    let e = probe(&GrpcHealthCheck::new("batch").unwrap(), &server)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::NotServing);
    assert_eq!(
        e.to_string(),
        format!(
            "grpc health of {} service \"batch\" is NOT_SERVING",
            server.addr
        )
    );

    let e = probe(&GrpcHealthCheck::new("nope").unwrap(), &server)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Status);
    assert_eq!(
        e.to_string(),
        format!(
            "grpc health check of {} failed with grpc-status 5 (unknown service)",
            server.addr
        )
    );
    let check = GrpcHealthCheck::new("batch").unwrap();
    assert_eq!(
        check.backend_summary(&support::backend(server.addr)),
        format!("grpc health of \"batch\" via {}", server.addr)
    );
}

#[tokio::test]
async fn grpc_over_tls_uses_h2_by_alpn_and_verifies_the_server() {
    let pki = Pki::new("test ca");
    let server = health_server(Mode::Tls(pki.server_config(
        &["health.test"],
        &[b"h2"],
        None,
    )))
    .await;
    let check = GrpcHealthCheck::new("api")
        .unwrap()
        .with_authority("health.test:443")
        .unwrap()
        .with_tls(TlsConfig::new().with_root_certificates(pki.roots()))
        .unwrap();
    probe(&check, &server).await.unwrap();
    assert_eq!(
        server.seen()[0].uri,
        "https://health.test:443/grpc.health.v1.Health/Check"
    );
    let untrusted = GrpcHealthCheck::new("api")
        .unwrap()
        .with_authority("health.test")
        .unwrap()
        .with_tls(TlsConfig::new())
        .unwrap();
    assert_eq!(
        probe(&untrusted, &server).await.unwrap_err().kind(),
        ProbeErrorKind::Tls
    );
}

#[tokio::test]
async fn connections_are_reused_only_when_asked() {
    let server = health_server(Mode::H2c).await;
    let check = GrpcHealthCheck::new("").unwrap();
    probe(&check, &server).await.unwrap();
    probe(&check, &server).await.unwrap();
    assert_eq!(server.connections(), 2);
    let reuse = check.with_reuse_connection(true);
    for _ in 0..3 {
        probe(&reuse, &server).await.unwrap();
    }
    assert_eq!(server.connections(), 3);
}

#[tokio::test]
async fn broken_health_servers_fail_with_the_right_reason() {
    let short = || {
        GrpcHealthCheck::new("").unwrap().with_timeouts(
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_millis(300),
        )
    };
    // An HTTP/2 server that is not a gRPC server.
    let plain = servers::fixed(Mode::H2c, StatusCode::OK, "hello").await;
    let e = probe(&short(), &plain).await.unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Protocol, "{e}");
    // A 404.
    let missing = servers::fixed(Mode::H2c, StatusCode::NOT_FOUND, "").await;
    let e = probe(&short(), &missing).await.unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Status, "{e}");
    // A message without grpc-status.
    let no_status = servers::serve(Mode::H2c, |_req| async {
        let mut r = http::Response::new(Full::new(response_frame(1)).boxed());
        r.headers_mut()
            .insert("content-type", "application/grpc".parse().unwrap());
        r
    })
    .await;
    let e = probe(&short(), &no_status).await.unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Protocol, "{e}");
    assert!(support::error_chain(&e).contains("no grpc-status"));
    // Garbage instead of a message.
    let garbage = servers::serve(Mode::H2c, |_req| async {
        let mut r = http::Response::new(with_trailers(
            Bytes::from_static(b"\x00\x00\x00\x00\x09garbage"),
            trailers("0", None),
        ));
        r.headers_mut()
            .insert("content-type", "application/grpc".parse().unwrap());
        r
    })
    .await;
    let e = probe(&short(), &garbage).await.unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Protocol, "{e}");
    // An oversized message.
    let huge = servers::serve(Mode::H2c, |_req| async {
        let mut r = http::Response::new(with_trailers(
            Bytes::from(vec![0u8; 64 * 1024]),
            trailers("0", None),
        ));
        r.headers_mut()
            .insert("content-type", "application/grpc".parse().unwrap());
        r
    })
    .await;
    let e = probe(&short(), &huge).await.unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Body, "{e}");
    // A server that answers the head and never finishes: the deadline ends the probe.
    let stalled = servers::serve(Mode::H2c, |_req| async {
        let mut r = http::Response::new(NeverEnds.boxed());
        r.headers_mut()
            .insert("content-type", "application/grpc".parse().unwrap());
        r
    })
    .await;
    let started = std::time::Instant::now();
    let e = probe(&short(), &stalled).await.unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Timeout, "{e}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn service_names_are_capped() {
    assert!(GrpcHealthCheck::new(&"s".repeat(1024)).is_ok());
    let e = GrpcHealthCheck::new(&"s".repeat(1025)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "grpc service name of 1025 bytes is too long (at most 1024)"
    );
}

/// A response body that never yields a frame and never ends.
struct NeverEnds;

impl hyper::body::Body for NeverEnds {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Pending
    }
}
