//! A hyper HTTP/1.1 backend on 127.0.0.1:0 that answers with its own address and counts what it
//! sees; optionally behind TLS, recording the server name each client sent.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// What a backend has seen, and how it answers.
#[derive(Debug)]
pub(crate) struct Counters {
    requests: AtomicU64,
    /// The status of every answer (200 until changed).
    status: AtomicU16,
    /// Requests received so far, to wait on.
    seen: watch::Sender<u64>,
    /// The TLS server name of each TLS connection (`None` when the client sent none).
    server_names: Mutex<Vec<Option<String>>>,
}

/// A backend; dropping it (or [`Backend::stop`]) closes its listener and every connection.
#[derive(Debug)]
pub(crate) struct Backend {
    pub(crate) addr: SocketAddr,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl Backend {
    /// A plain HTTP/1.1 backend.
    pub(crate) async fn start() -> Backend {
        Self::start_with(None).await
    }

    /// A backend behind TLS with `acceptor`.
    pub(crate) async fn start_tls(acceptor: TlsAcceptor) -> Backend {
        Self::start_with(Some(acceptor)).await
    }

    async fn start_with(tls: Option<TlsAcceptor>) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let counters = Arc::new(Counters {
            requests: AtomicU64::new(0),
            status: AtomicU16::new(200),
            seen: watch::Sender::new(0),
            server_names: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(accept(listener, tls, Arc::clone(&counters), addr));
        Backend {
            addr,
            counters,
            task,
        }
    }

    /// The lb backend for this server.
    pub(crate) fn backend(&self) -> lb::Backend {
        lb::Backend::from(self.addr)
    }

    pub(crate) fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::SeqCst)
    }

    /// Answers every request with `status` from now on.
    pub(crate) fn answer(&self, status: u16) {
        self.counters.status.store(status, Ordering::SeqCst);
    }

    /// The server names TLS clients sent, one per connection.
    pub(crate) fn server_names(&self) -> Vec<Option<String>> {
        self.counters
            .server_names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops the backend: the listener and every connection close, so connecting is refused.
    pub(crate) fn stop(&self) {
        self.task.abort();
    }

    /// Waits until the backend's task has ended (its listener is closed).
    pub(crate) async fn stopped(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    counters: Arc<Counters>,
    local: SocketAddr,
) {
    // Owned here: aborting the accept task drops the set, which aborts every connection.
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let counters = Arc::clone(&counters);
        let tls = tls.clone();
        connections.spawn(async move {
            match tls {
                None => serve(stream, counters, local).await,
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let name = stream.get_ref().1.server_name().map(str::to_owned);
                    counters
                        .server_names
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(name);
                    serve(stream, counters, local).await;
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

async fn serve<T>(stream: T, counters: Arc<Counters>, local: SocketAddr)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| answer(req, Arc::clone(&counters), local));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn answer(
    req: http::Request<Incoming>,
    counters: Arc<Counters>,
    local: SocketAddr,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    counters.requests.fetch_add(1, Ordering::SeqCst);
    counters.seen.send_modify(|n| *n += 1);
    // The tests send no request bodies; a drain keeps the connection reusable all the same.
    let _ = req.into_body().collect().await;
    let status = counters.status.load(Ordering::SeqCst);
    let mut response = http::Response::new(Full::new(Bytes::from(local.to_string())));
    *response.status_mut() = http::StatusCode::from_u16(status).expect("tests set valid statuses");
    Ok(response)
}

/// A CA made at test time and a server certificate it signed for `name`.
pub(crate) struct TestPki {
    /// The CA certificate, DER.
    pub(crate) ca_der: Vec<u8>,
    /// An acceptor presenting the server certificate.
    pub(crate) acceptor: TlsAcceptor,
}

impl TestPki {
    pub(crate) fn new(name: &str) -> TestPki {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())
            .expect("empty subject alt names are valid");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "lb-pingora test ca");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca = rcgen::CertifiedIssuer::self_signed(
            ca_params,
            rcgen::KeyPair::generate().expect("generate a CA key"),
        )
        .expect("self-sign the CA");
        let key = rcgen::KeyPair::generate().expect("generate a server key");
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .expect("a valid DNS name")
            .signed_by(&key, &ca)
            .expect("sign the server certificate");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("a matching certificate and key");
        TestPki {
            ca_der: ca.der().to_vec(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        }
    }
}
