//! The request an HTTP probe sends, built per probe for the connection's HTTP version, and the
//! pieces the gRPC probe's request shares with it.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::Full;
use lb_core::Address;

use crate::error::ConfigError;
use crate::transport::Wire;

/// Method, path, host and extra headers of a probe's request.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    pub(crate) method: Method,
    pub(crate) path: PathAndQuery,
    /// `None`: the probed address.
    pub(crate) host: Option<Authority>,
    pub(crate) headers: HeaderMap,
}

/// The `User-Agent` of every HTTP and gRPC probe.
pub(crate) const USER_AGENT: &str = concat!("lb-health/", env!("CARGO_PKG_VERSION"));

/// The host a probe names in `Host` or `:authority`, checked once when the probe is built.
pub(crate) fn parse_host(host: &str) -> Result<Authority, ConfigError> {
    Authority::try_from(host).map_err(|_| ConfigError::Host {
        host: host.to_owned(),
    })
}

/// The TLS server name a host implies: its host part, without port or IPv6 brackets.
pub(crate) fn tls_name(host: &Authority) -> &str {
    host.host().trim_start_matches('[').trim_end_matches(']')
}

/// The authority of a request to `addr` when the probe has no host of its own.
pub(crate) fn address_authority(addr: &Address) -> Authority {
    match addr {
        // A socket address always renders as a valid authority ("1.2.3.4:80", "[::1]:80").
        Address::Inet(sa) => Authority::try_from(sa.to_string())
            .unwrap_or_else(|_| Authority::from_static("localhost")),
        Address::Unix(_) => Authority::from_static("localhost"),
    }
}

/// The absolute URI an HTTP/2 request carries (`:scheme`, `:authority`, `:path`).
pub(crate) fn absolute_uri(tls: bool, authority: Authority, path: PathAndQuery) -> Uri {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(if tls { Scheme::HTTPS } else { Scheme::HTTP });
    parts.authority = Some(authority);
    parts.path_and_query = Some(path);
    // Scheme, authority and path are each valid, so the URI is; the fallback is unreachable.
    Uri::from_parts(parts).unwrap_or_default()
}

impl Template {
    pub(crate) fn new(host: Option<Authority>) -> Self {
        Template {
            method: Method::GET,
            path: PathAndQuery::from_static("/"),
            host,
            headers: HeaderMap::new(),
        }
    }

    fn authority(&self, addr: &Address) -> Authority {
        match &self.host {
            Some(host) => host.clone(),
            None => address_authority(addr),
        }
    }

    /// The request for one probe of `addr` over `wire`. `close` asks an HTTP/1.1 server to
    /// close the connection after answering.
    pub(crate) fn build(
        &self,
        wire: Wire,
        tls: bool,
        addr: &Address,
        close: bool,
    ) -> Request<Full<Bytes>> {
        let authority = self.authority(addr);
        let mut request = Request::new(Full::new(Bytes::new()));
        *request.method_mut() = self.method.clone();
        match wire {
            Wire::H1 => {
                *request.uri_mut() = Uri::from(self.path.clone());
                let headers = request.headers_mut();
                // An authority is always a valid header value (it is a subset of its bytes).
                if let Ok(host) = HeaderValue::try_from(authority.as_str()) {
                    headers.insert(header::HOST, host);
                }
                if close {
                    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
            }
            Wire::H2 => *request.uri_mut() = absolute_uri(tls, authority, self.path.clone()),
        }
        let headers = request.headers_mut();
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        for (name, value) in &self.headers {
            // HTTP/2 carries the host in `:authority` and has no connection-specific headers.
            if wire == Wire::H2 && (name == header::HOST || name == header::CONNECTION) {
                continue;
            }
            // The caller's Host (HTTP/1.1) and User-Agent replace ours: two of either is a
            // malformed request that servers may reject.
            if name == header::USER_AGENT || name == header::HOST {
                headers.insert(name, value.clone());
            } else {
                headers.append(name, value.clone());
            }
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http1_uses_origin_form_and_host_while_http2_uses_an_absolute_uri() {
        let addr = Address::parse("127.0.0.1:8080").unwrap();
        let mut t = Template::new(Some(Authority::from_static("api.internal")));
        t.path = PathAndQuery::from_static("/healthz?full=1");
        t.headers.append("x-probe", HeaderValue::from_static("lb"));
        t.headers
            .append(header::HOST, HeaderValue::from_static("override"));
        let r = t.build(Wire::H1, false, &addr, true);
        assert_eq!(r.uri(), "/healthz?full=1");
        let hosts: Vec<_> = r.headers().get_all(header::HOST).iter().collect();
        assert_eq!(
            hosts,
            ["override"],
            "the caller's Host replaces the default"
        );
        assert_eq!(r.headers()[header::CONNECTION], "close");
        assert_eq!(r.headers()["x-probe"], "lb");
        let r = t.build(Wire::H2, true, &addr, true);
        assert_eq!(r.uri(), "https://api.internal/healthz?full=1");
        assert!(r.headers().get(header::HOST).is_none());
        assert!(r.headers().get(header::CONNECTION).is_none());

        let anon = Template::new(None);
        let r = anon.build(Wire::H1, false, &Address::parse("[::1]:81").unwrap(), false);
        assert_eq!(r.headers()[header::HOST], "[::1]:81");
        assert!(r.headers().get(header::CONNECTION).is_none());
        let r = anon.build(
            Wire::H2,
            false,
            &Address::parse("unix:/tmp/x.sock").unwrap(),
            false,
        );
        assert_eq!(r.uri(), "http://localhost/");
    }
}
