//! HttpHealthCheck against real hyper servers: HTTP/1.1, h2c and TLS with ALPN.

use http::{StatusCode, Version};
use lb_core::HealthCheck;
use lb_health::{HttpHealthCheck, HttpProtocol, ProbeError, ProbeErrorKind, TlsConfig};

use crate::servers::{self, Mode};
use crate::support::{self, Pki};

async fn probe(check: &HttpHealthCheck, addr: std::net::SocketAddr) -> Result<(), ProbeError> {
    check.probe(&support::backend(addr)).await
}

#[tokio::test]
async fn http1_200_is_healthy_and_the_request_carries_host_path_and_headers() {
    let server = servers::fixed(Mode::H1, StatusCode::OK, "ok").await;
    let check = HttpHealthCheck::new("api.internal", false)
        .unwrap()
        .with_path("/healthz?deep=1")
        .unwrap()
        .with_header("x-probe", "lb")
        .unwrap();
    probe(&check, server.addr).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.version, Version::HTTP_11);
    assert_eq!(req.method, http::Method::GET);
    assert_eq!(req.uri, "/healthz?deep=1");
    assert_eq!(req.headers["host"], "api.internal");
    assert_eq!(req.headers["x-probe"], "lb");
    assert_eq!(req.headers["connection"], "close");
    assert!(
        req.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("lb-health/")
    );
    assert_eq!(
        check.backend_summary(&support::backend(server.addr)),
        format!("GET http://api.internal/healthz?deep=1 via {}", server.addr)
    );
}

#[tokio::test]
async fn a_host_header_replaces_the_default_host_instead_of_adding_a_second() {
    let server = servers::fixed(Mode::H1, StatusCode::OK, "ok").await;
    let check = HttpHealthCheck::new("api.internal", false)
        .unwrap()
        .with_header("Host", "other.internal")
        .unwrap();
    probe(&check, server.addr).await.unwrap();
    let hosts: Vec<_> = server.seen()[0]
        .headers
        .get_all("host")
        .iter()
        .cloned()
        .collect();
    assert_eq!(hosts, ["other.internal"], "one Host, the one given last");
}

#[tokio::test]
async fn statuses_other_than_200_fail_unless_expected() {
    let server = servers::fixed(Mode::H1, StatusCode::SERVICE_UNAVAILABLE, "down").await;
    let check = HttpHealthCheck::new("", false).unwrap();
    let e = probe(&check, server.addr).await.unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Status);
    assert_eq!(
        e.to_string(),
        format!("{} answered http status 503, expected 200", server.addr)
    );
    // With no host, the probed address is the Host.
    assert_eq!(
        server.seen()[0].headers["host"],
        server.addr.to_string().as_str()
    );

    probe(&check.clone().expect_status([200, 503]), server.addr)
        .await
        .unwrap();
    probe(&check.clone().expect_status_range(500..=599), server.addr)
        .await
        .unwrap();
    let e = probe(&check.clone().expect_status_range(200..=299), server.addr)
        .await
        .unwrap_err();
    assert!(e.to_string().ends_with("expected 200-299"), "{e}");
}

#[tokio::test]
async fn a_validator_judges_status_and_headers() {
    let server = servers::serve(Mode::H1, |_req| async {
        let mut r = servers::full(StatusCode::OK, "ok");
        r.headers_mut().insert("x-ready", "no".parse().unwrap());
        r
    })
    .await;
    let check = HttpHealthCheck::new("svc", false)
        .unwrap()
        .with_validator(|status, headers| match headers.get("x-ready") {
            Some(v) if v == "yes" && status.is_success() => Ok(()),
            other => Err(format!("x-ready is {other:?}")),
        });
    let e = probe(&check, server.addr).await.unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Status);
    assert!(
        e.to_string().ends_with("rejected: x-ready is Some(\"no\")"),
        "{e}"
    );
}

#[tokio::test]
async fn body_checks_read_the_body() {
    let server = servers::fixed(Mode::H1, StatusCode::OK, "{\"status\":\"ok\"}").await;
    let check = HttpHealthCheck::new("svc", false).unwrap();
    probe(&check.clone().with_body_contains("\"ok\""), server.addr)
        .await
        .unwrap();
    let e = probe(&check.clone().with_body_contains("degraded"), server.addr)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Body);
    probe(
        &check
            .clone()
            .with_body_predicate(|b| b.starts_with(b"{") && b.len() == 15),
        server.addr,
    )
    .await
    .unwrap();
    let e = probe(&check.clone().with_limits(16 * 1024, 8), server.addr)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Body);
    assert_eq!(
        e.to_string(),
        format!("response body from {} exceeds 8 bytes", server.addr)
    );
}

#[tokio::test]
async fn head_requests_and_port_overrides() {
    let server = servers::fixed(Mode::H1, StatusCode::OK, "ok").await;
    let closed = support::closed_port().await;
    let check = HttpHealthCheck::new("svc", false)
        .unwrap()
        .with_method(http::Method::HEAD)
        .with_port_override(server.addr.port());
    probe(&check, closed).await.unwrap();
    assert_eq!(server.seen()[0].method, http::Method::HEAD);
    let e = probe(&HttpHealthCheck::new("svc", false).unwrap(), closed)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Refused);
}

#[tokio::test]
async fn h2c_speaks_http2_with_prior_knowledge() {
    let server = servers::fixed(Mode::H2c, StatusCode::OK, "ok").await;
    let check = HttpHealthCheck::h2c("grpc.internal:50051")
        .unwrap()
        .with_path("/ready")
        .unwrap();
    probe(&check, server.addr).await.unwrap();
    let req = &server.seen()[0];
    assert_eq!(req.version, Version::HTTP_2);
    assert_eq!(req.uri, "http://grpc.internal:50051/ready");
    // An HTTP/1.1 probe of an h2c-only server fails as a protocol error, not a timeout.
    let e = probe(&HttpHealthCheck::new("svc", false).unwrap(), server.addr)
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ProbeErrorKind::Protocol | ProbeErrorKind::Reset),
        "{e}"
    );
}

#[tokio::test]
async fn connections_are_reused_only_when_asked() {
    for mode in [Mode::H1, Mode::H2c] {
        let server = servers::fixed(mode.clone(), StatusCode::OK, "ok").await;
        let fresh = HttpHealthCheck::new("svc", false).unwrap();
        let fresh = if matches!(mode, Mode::H2c) {
            fresh.with_protocol(HttpProtocol::Http2)
        } else {
            fresh
        };
        for _ in 0..3 {
            probe(&fresh, server.addr).await.unwrap();
        }
        assert_eq!(server.connections(), 3, "one connection per probe");
        let reuse = fresh.clone().with_reuse_connection(true);
        for _ in 0..3 {
            probe(&reuse, server.addr).await.unwrap();
        }
        assert_eq!(
            server.connections(),
            4,
            "one connection for all reusing probes"
        );
        assert!(
            server
                .seen()
                .iter()
                .skip(3)
                .all(|r| r.headers.get("connection").is_none())
        );
    }
}

#[tokio::test]
async fn a_clone_never_reuses_a_connection_opened_with_other_settings() {
    let server = servers::fixed(Mode::H1, StatusCode::OK, "ok").await;
    let plain = HttpHealthCheck::new("svc", false)
        .unwrap()
        .with_reuse_connection(true);
    probe(&plain, server.addr).await.unwrap();
    // The clone speaks HTTPS: the plain connection the original keeps idle is not its own.
    let https = plain.clone().with_tls(TlsConfig::new()).unwrap();
    let e = probe(&https, server.addr).await.unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Tls, "{e}");
    // The original still reuses its own.
    probe(&plain, server.addr).await.unwrap();
    assert_eq!(
        server.connections(),
        2,
        "the original's one and the clone's failed one"
    );
}

#[tokio::test]
async fn https_negotiates_h2_or_http1_by_alpn() {
    let pki = Pki::new("test ca");
    let tls = TlsConfig::new().with_root_certificates(pki.roots());
    let both = servers::fixed(
        Mode::Tls(pki.server_config(&["svc.test"], &[b"h2", b"http/1.1"], None)),
        StatusCode::OK,
        "ok",
    )
    .await;
    let h1_only = servers::fixed(
        Mode::Tls(pki.server_config(&["svc.test"], &[b"http/1.1"], None)),
        StatusCode::OK,
        "ok",
    )
    .await;
    let check = HttpHealthCheck::new("svc.test", false)
        .unwrap()
        .with_tls(tls.clone())
        .unwrap();
    probe(&check, both.addr).await.unwrap();
    assert_eq!(both.seen()[0].version, Version::HTTP_2);
    assert_eq!(both.seen()[0].uri, "https://svc.test/");
    probe(&check, h1_only.addr).await.unwrap();
    assert_eq!(h1_only.seen()[0].version, Version::HTTP_11);

    let forced_h1 = check.clone().with_protocol(HttpProtocol::Http1);
    probe(&forced_h1, both.addr).await.unwrap();
    assert_eq!(both.seen()[1].version, Version::HTTP_11);

    // A server offering only http/1.1 refuses a client offering only h2 in the handshake.
    let forced_h2 = check.clone().with_protocol(HttpProtocol::Http2);
    let e = probe(&forced_h2, h1_only.addr).await.unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Tls);
    assert!(
        support::error_chain(&e).contains("NoApplicationProtocol"),
        "{}",
        support::error_chain(&e)
    );
    // A server that ignores ALPN leaves the probe without h2: a protocol failure.
    let no_alpn = servers::fixed(
        Mode::Tls(pki.server_config(&["svc.test"], &[], None)),
        StatusCode::OK,
        "ok",
    )
    .await;
    let e = probe(&forced_h2, no_alpn.addr).await.unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Protocol);
    assert!(
        support::error_chain(&e).contains("the server chose no protocol, not h2"),
        "{}",
        support::error_chain(&e)
    );
    probe(&check, no_alpn.addr).await.unwrap();
    assert_eq!(no_alpn.seen()[0].version, Version::HTTP_11);
}

#[tokio::test]
async fn https_rejects_untrusted_and_wrong_name_certificates() {
    let pki = Pki::new("test ca");
    let server = servers::fixed(
        Mode::Tls(pki.server_config(&["svc.test"], &[b"h2", b"http/1.1"], None)),
        StatusCode::OK,
        "ok",
    )
    .await;
    let untrusted = HttpHealthCheck::new("svc.test", true).unwrap();
    let e = probe(&untrusted, server.addr).await.unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Tls);
    assert!(support::error_chain(&e).contains("UnknownIssuer"));

    let wrong = HttpHealthCheck::new("other.test", false)
        .unwrap()
        .with_tls(TlsConfig::new().with_root_certificates(pki.roots()))
        .unwrap();
    let e = probe(&wrong, server.addr).await.unwrap_err();
    assert_eq!(e.kind(), ProbeErrorKind::Tls);
    assert!(support::error_chain(&e).contains("other.test"));

    // The explicit server name wins over the host.
    let named = HttpHealthCheck::new("other.test", false)
        .unwrap()
        .with_tls(
            TlsConfig::new()
                .with_root_certificates(pki.roots())
                .with_server_name("svc.test"),
        )
        .unwrap();
    probe(&named, server.addr).await.unwrap();

    let anything = HttpHealthCheck::new("whatever", false)
        .unwrap()
        .with_tls(TlsConfig::new().dangerous_accept_any_certificate())
        .unwrap();
    probe(&anything, server.addr).await.unwrap();
}

#[tokio::test]
async fn mutual_tls_presents_the_client_certificate() {
    let server_pki = Pki::new("server ca");
    let client_pki = Pki::new("client ca");
    let server = servers::fixed(
        Mode::Tls(server_pki.server_config(
            &["svc.test"],
            &[b"h2", b"http/1.1"],
            Some(&client_pki),
        )),
        StatusCode::OK,
        "ok",
    )
    .await;
    let client = client_pki.leaf(&["prober.test"]);
    let tls = TlsConfig::new().with_root_certificates(server_pki.roots());
    let with_cert = HttpHealthCheck::new("svc.test", false)
        .unwrap()
        .with_tls(tls.clone().with_client_auth(client.chain, client.key))
        .unwrap();
    probe(&with_cert, server.addr).await.unwrap();

    let without = HttpHealthCheck::new("svc.test", false)
        .unwrap()
        .with_tls(tls)
        .unwrap();
    let e = probe(&without, server.addr).await.unwrap_err();
    assert_eq!(
        e.kind(),
        ProbeErrorKind::Tls,
        "{}",
        support::error_chain(&e)
    );
    assert_eq!(
        server.seen().len(),
        1,
        "the request without a certificate never arrived"
    );
}

#[tokio::test]
async fn a_rejected_client_certificate_is_a_tls_failure_when_the_ip_is_verified() {
    // No host and no server name: the backend's IP address is sent and verified, and the
    // server's rejection of the missing client certificate (an alert after a TLS 1.3
    // handshake, read through HTTP/2) is still a TLS failure.
    let server_pki = Pki::new("server ca");
    let client_pki = Pki::new("client ca");
    let server = servers::fixed(
        Mode::Tls(server_pki.server_config(&["127.0.0.1"], &[b"h2"], Some(&client_pki))),
        StatusCode::OK,
        "ok",
    )
    .await;
    let tls = TlsConfig::new().with_root_certificates(server_pki.roots());
    let client = client_pki.leaf(&["prober.test"]);
    let by_ip = HttpHealthCheck::new("", false).unwrap();
    let with_cert = by_ip
        .clone()
        .with_tls(tls.clone().with_client_auth(client.chain, client.key))
        .unwrap();
    probe(&with_cert, server.addr).await.unwrap();
    let without = by_ip.with_tls(tls).unwrap();
    let e = probe(&without, server.addr).await.unwrap_err();
    let chain = support::error_chain(&e);
    assert_eq!(e.kind(), ProbeErrorKind::Tls, "{chain}");
    assert!(
        chain.contains("127.0.0.1"),
        "the message names the server name: {chain}"
    );
}
