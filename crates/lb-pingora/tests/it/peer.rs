//! Peers from picks: addresses of every kind, TLS from `UpstreamTls`, and errors that become
//! pingora errors.

use lb::{LoadBalancer, RoundRobin};
use lb_pingora::{PeerError, UpstreamTls, basic_peer, http_peer, socket_addr};
use pingora_core::upstreams::peer::Peer;

#[test]
fn an_empty_or_malformed_server_name_is_refused() {
    assert!(matches!(UpstreamTls::new(""), Err(PeerError::EmptySni)));
    let err = UpstreamTls::new("api example.com").unwrap_err();
    assert!(matches!(err, PeerError::InvalidSni { bad: ' ', .. }));
    assert!(err.to_string().contains("api example.com"), "{err}");
    assert!(UpstreamTls::new("bad\u{0}name").is_err());
    assert_eq!(
        UpstreamTls::new("api.example.com").unwrap().sni(),
        "api.example.com"
    );
}

#[test]
fn a_pick_becomes_a_peer_with_its_backends_tls() {
    let lb = LoadBalancer::<RoundRobin>::try_from_iter([lb::Backend::new("10.0.0.1:443")
        .unwrap()
        .with_ext(UpstreamTls::new("api.example.com").unwrap())])
    .unwrap();
    let pick = lb.select(b"").unwrap();
    let peer = http_peer(&pick).unwrap();
    assert!(peer.is_tls());
    assert_eq!(peer.sni, "api.example.com");
    assert_eq!(peer.address().to_string(), "10.0.0.1:443");
    // Certificate checks stay on: pingora's defaults.
    assert!(peer.options.verify_cert && peer.options.verify_hostname);
    let basic = basic_peer(&pick).unwrap();
    assert!(basic.tls());
    assert_eq!(basic.sni(), "api.example.com");

    let plain = LoadBalancer::<RoundRobin>::try_from_iter(["[::1]:8080"]).unwrap();
    let pick = plain.select(b"").unwrap();
    let (peer, basic) = (http_peer(&pick).unwrap(), basic_peer(&pick).unwrap());
    assert!(!peer.is_tls() && !basic.tls());
    assert_eq!(peer.address().to_string(), "[::1]:8080");
}

#[test]
fn unix_socket_backends_become_unix_peers() {
    let backend = lb::Backend::new("unix:/run/app.sock").unwrap();
    let peer = http_peer(&backend).unwrap();
    let path = peer._address.as_unix().and_then(|a| a.as_pathname());
    assert_eq!(path, Some(std::path::Path::new("/run/app.sock")));
    assert!(basic_peer(&backend).unwrap().address().as_unix().is_some());
}

#[test]
fn an_unusable_unix_path_is_an_error_naming_it_and_a_pingora_error_through_question_mark() {
    // Built directly, an address skips `Address::parse`'s checks; the OS refuses a path this long.
    let long = format!("/{}", "x".repeat(200));
    let addr = lb::Address::Unix(long.clone().into());
    let err = socket_addr(&addr).unwrap_err();
    assert!(matches!(err, PeerError::UnixPath { .. }));
    assert!(err.to_string().contains(&long));

    fn in_a_phase(addr: &lb::Address) -> pingora_core::Result<()> {
        socket_addr(addr)?;
        Ok(())
    }
    let err = in_a_phase(&addr).unwrap_err();
    assert_eq!(*err.etype(), pingora_core::ErrorType::InternalError);
    assert!(err.to_string().contains(&long), "{err}");
}
