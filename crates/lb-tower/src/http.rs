//! [`ToBackend`]: sends an HTTP request to its backend's address, for HTTP clients that connect
//! where the URI says (hyper-util's `Client`).

use std::fmt;
use std::task::{Context, Poll};

use http::uri::{Authority, PathAndQuery, Scheme};
use lb_core::Backend;
use tower::Service;

/// Wraps an HTTP client so that every request goes to one backend: the request URI's scheme and
/// authority are set to `http` (or the scheme given) and the backend's address, its path and
/// query kept. The `Host` header is left as the caller set it. A backend on a Unix socket has no
/// authority: its requests go out unchanged, for a client whose connector knows the socket.
///
/// With one client per backend (make the client in the [`Balance`](crate::Balance) factory), a
/// backend that leaves the set has its client dropped, and its connections closed.
#[derive(Clone)]
pub struct ToBackend<Svc> {
    inner: Svc,
    scheme: Scheme,
    authority: Option<Authority>,
}

impl<Svc> ToBackend<Svc> {
    /// Sends the requests given to `inner` to `backend`, over `http`.
    pub fn new(backend: &Backend, inner: Svc) -> Self {
        let authority = backend
            .socket_addr()
            .and_then(|addr| Authority::try_from(addr.to_string()).ok());
        ToBackend {
            inner,
            scheme: Scheme::HTTP,
            authority,
        }
    }

    /// Uses `scheme` (such as `https`, for a client with TLS) instead of `http`.
    pub fn with_scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// The wrapped client.
    pub fn inner(&self) -> &Svc {
        &self.inner
    }
}

impl<Svc, B> Service<http::Request<B>> for ToBackend<Svc>
where
    Svc: Service<http::Request<B>>,
{
    type Response = Svc::Response;
    type Error = Svc::Error;
    type Future = Svc::Future;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if let Some(authority) = &self.authority {
            let mut parts = std::mem::take(req.uri_mut()).into_parts();
            parts.scheme = Some(self.scheme.clone());
            parts.authority = Some(authority.clone());
            if parts.path_and_query.is_none() {
                parts.path_and_query = Some(PathAndQuery::from_static("/"));
            }
            // Scheme, authority and path are all set, which is all `from_parts` checks.
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
        self.inner.call(req)
    }
}

impl<Svc> fmt::Debug for ToBackend<Svc> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToBackend")
            .field("scheme", &self.scheme)
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_go_to_the_backend_with_their_path() {
        let echo = tower::service_fn(|req: http::Request<()>| async move {
            Ok::<_, std::convert::Infallible>(req.uri().to_string())
        });
        let backend = Backend::new("[::1]:8080").unwrap();
        let mut svc = ToBackend::new(&backend, echo);
        let uri = futures_util::FutureExt::now_or_never(
            svc.call(http::Request::get("/a/b?c=1").body(()).unwrap()),
        );
        assert_eq!(uri.unwrap().unwrap(), "http://[::1]:8080/a/b?c=1");
        let mut svc = svc.with_scheme(Scheme::HTTPS);
        let uri = futures_util::FutureExt::now_or_never(
            svc.call(http::Request::get("http://other:1").body(()).unwrap()),
        );
        assert_eq!(uri.unwrap().unwrap(), "https://[::1]:8080/");
    }
}
