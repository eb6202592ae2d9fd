//! The demo servers `health_urls` checks when it is given no URL: real HTTP/1.1, h2c and gRPC
//! health endpoints on 127.0.0.1 whose health changes over time.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lb::BoxError;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant};

type Body = BoxBody<Bytes, Infallible>;

/// Running demo servers; they stop when this is dropped.
pub(crate) struct Demo {
    pub(crate) urls: Vec<String>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

pub(crate) async fn start() -> Result<Demo, BoxError> {
    let born = Instant::now();
    let mut tasks = Vec::new();
    let mut urls = Vec::new();

    // HTTP/1.1: 200 for three seconds, then 503 for three seconds, and so on.
    let (addr, task) = serve(false, move |_req| {
        let up = (born.elapsed().as_secs() / 3).is_multiple_of(2);
        let (status, text) = if up {
            (StatusCode::OK, "ok")
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, "busy")
        };
        let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed());
        *r.status_mut() = status;
        r
    })
    .await?;
    urls.push(format!("http://{addr}/healthz"));
    tasks.push(task);

    // h2c: always fine.
    let (addr, task) = serve(true, |_req| {
        Response::new(Full::new(Bytes::from_static(b"ok")).boxed())
    })
    .await?;
    urls.push(format!("h2c://{addr}/ready"));
    tasks.push(task);

    // gRPC health: SERVING for four seconds, then NOT_SERVING.
    let (addr, task) = serve(true, move |_req| {
        let status = if born.elapsed() < Duration::from_secs(4) {
            1
        } else {
            2
        };
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().expect("a valid header value"));
        let message = Bytes::from(vec![0, 0, 0, 0, 2, 0x08, status]);
        let body = Full::new(message)
            .with_trailers(async move { Some(Ok(trailers)) })
            .boxed();
        let mut r = Response::new(body);
        r.headers_mut().insert(
            "content-type",
            "application/grpc".parse().expect("a valid header value"),
        );
        r
    })
    .await?;
    urls.push(format!("grpc://{addr}"));
    tasks.push(task);

    // A port where nothing listens.
    let closed = TcpListener::bind("127.0.0.1:0").await?.local_addr()?;
    urls.push(format!("tcp://{closed}"));

    Ok(Demo { urls, tasks })
}

async fn serve(
    h2: bool,
    answer: impl Fn(Request<Incoming>) -> Response<Body> + Clone + Send + Sync + 'static,
) -> Result<(SocketAddr, JoinHandle<()>), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let answer = answer.clone();
                    async move { Ok::<_, Infallible>(answer(req)) }
                });
                let io = TokioIo::new(stream);
                if h2 {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, service)
                        .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                }
            });
        }
    });
    Ok((addr, task))
}
