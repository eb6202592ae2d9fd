//! Real HTTP peers: in-process hyper servers speaking HTTP/1.1, h2c, or TLS with ALPN
//! (h2 or http/1.1), which count connections and record the requests they see.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lb_health::rustls::ServerConfig;

pub(crate) type Body = BoxBody<Bytes, Infallible>;
type Handler = Arc<
    dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> + Send + Sync,
>;

/// How a test server speaks.
#[derive(Clone)]
pub(crate) enum Mode {
    H1,
    H2c,
    /// TLS; the protocol follows the ALPN the handshake chose.
    Tls(Arc<ServerConfig>),
}

/// What a server saw of one request.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) method: http::Method,
    pub(crate) uri: http::Uri,
    pub(crate) version: Version,
    pub(crate) headers: http::HeaderMap,
}

pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) connections: Arc<AtomicUsize>,
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

pub(crate) fn full(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())).boxed());
    *r.status_mut() = status;
    r
}

/// A server whose every answer is `status` with `body`.
pub(crate) async fn fixed(mode: Mode, status: StatusCode, body: &'static str) -> Server {
    serve(mode, move |_req| async move { full(status, body) }).await
}

/// A server answering each request with `handler`.
pub(crate) async fn serve<F, Fut>(mode: Mode, handler: F) -> Server
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let handler: Handler = Arc::new(move |req| Box::pin(handler(req)));
    let (listener, addr) = crate::support::listener().await;
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = Server {
        addr,
        connections: Arc::clone(&connections),
        seen: Arc::clone(&seen),
    };
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            connections.fetch_add(1, Ordering::SeqCst);
            let handler = Arc::clone(&handler);
            let seen = Arc::clone(&seen);
            let mode = mode.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    seen.lock().unwrap().push(Seen {
                        method: req.method().clone(),
                        uri: req.uri().clone(),
                        version: req.version(),
                        headers: req.headers().clone(),
                    });
                    let fut = handler(req);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                match mode {
                    Mode::H1 => {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                    Mode::H2c => {
                        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                    Mode::Tls(config) => {
                        let Ok(tls) = tokio_rustls::TlsAcceptor::from(config).accept(stream).await
                        else {
                            return;
                        };
                        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                        let io = TokioIo::new(tls);
                        if h2 {
                            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                                .serve_connection(io, service)
                                .await;
                        } else {
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(io, service)
                                .await;
                        }
                    }
                }
            });
        }
    });
    server
}
