//! A pingora reverse proxy on 127.0.0.1 balancing three local backends with lb's round robin,
//! TCP health checks and passive health.
//!
//! ```text
//! cargo run --example reverse_proxy                # serve on 127.0.0.1:6188 until Ctrl+C
//! cargo run --example reverse_proxy -- --listen 127.0.0.1:8080
//! cargo run --example reverse_proxy -- --demo      # send traffic, stop a backend, print counts, exit
//! ```
//!
//! The backends are hyper servers on 127.0.0.1 ports the system picks; each answers with its
//! name. In `--demo` mode the proxy listens on a free port, a client sends 30 requests through
//! it, backend 2 is stopped, the demo waits for lb's health check to mark it down, sends 30 more,
//! prints how many requests each backend answered in each round, and shuts the server down.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lb::{LoadBalancer, PassiveHealth, RoundRobin, TcpHealthCheck};
use lb_pingora::{Attempt, LoadBalancerService, report_error, report_status};
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use pingora_core::upstreams::peer::HttpPeer;
use pingora_core::{Error, ErrorType};
use pingora_http::ResponseHeader;
use pingora_proxy::{ProxyHttp, Session, http_proxy_service};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connections tried per request: a refused connection is retried on a new pick.
const TRIES: u32 = 3;
/// How long the demo waits for anything before it gives up.
const DEADLINE: Duration = Duration::from_secs(10);

fn main() -> Result<(), BoxError> {
    let mut demo = false;
    let mut listen: SocketAddr = "127.0.0.1:6188".parse()?;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--demo" => demo = true,
            "--listen" => {
                let value = args.next().ok_or("--listen needs an address")?;
                listen = value
                    .parse()
                    .map_err(|e| format!("--listen {value}: {e}"))?;
                if !listen.ip().is_loopback() {
                    return Err(
                        format!("--listen {listen}: this example serves 127.0.0.1 only").into(),
                    );
                }
            }
            other => return Err(format!("unknown argument `{other}` (try --demo)").into()),
        }
    }
    if demo {
        // A free port: bound and released here, then bound by pingora.
        listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    }

    // The backends run on a runtime of their own: pingora's `Server::run` takes this thread.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let backends = runtime.block_on(async {
        let mut backends = Vec::new();
        for name in ["backend 1", "backend 2", "backend 3"] {
            backends.push(Backend::start(name).await?);
        }
        Ok::<_, BoxError>(backends)
    })?;

    let mut lb = LoadBalancer::<RoundRobin>::try_from_iter(backends.iter().map(|b| b.addr))?;
    lb.set_health_check(Box::new(TcpHealthCheck::new()));
    lb.health_check_frequency = Some(Duration::from_millis(200));
    lb.set_passive_health(Some(PassiveHealth::default()));
    let lb = Arc::new(lb);

    let conf = ServerConf {
        // Short enough for the demo to end promptly; pingora's default grace period is 60 s.
        grace_period_seconds: Some(1),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let background = lb_pingora::background_service("load balancer", Arc::clone(&lb));
    let mut proxy = http_proxy_service(&server.configuration, Proxy(background.task()));
    proxy.add_tcp(&listen.to_string());
    let lb_service = server.add_service(background);
    server.add_service(proxy).add_dependency(&lb_service);

    for backend in &backends {
        println!("{} on {}", backend.name, backend.addr);
    }
    println!("proxy on http://{listen}");
    if !demo {
        server.run(RunArgs::default());
        return Ok(());
    }
    let (stop, stopped) = oneshot::channel();
    let driver = std::thread::spawn(move || {
        let result = runtime.block_on(run_demo(listen, &backends, &lb));
        let _ = stop.send(ShutdownSignal::GracefulTerminate);
        result
    });
    server.run(RunArgs {
        shutdown_signal: Box::new(DemoSignal(Mutex::new(Some(stopped)))),
    });
    match driver.join() {
        Ok(result) => result,
        Err(_) => Err("the demo client panicked".into()),
    }
}

/// Sends traffic through the proxy, stops backend 2, and prints where the requests went.
async fn run_demo(
    proxy: SocketAddr,
    backends: &[Backend],
    lb: &LoadBalancer<RoundRobin>,
) -> Result<(), BoxError> {
    wait_listening(proxy).await?;
    let before = counts(backends);
    let statuses = send(proxy, 30).await?;
    report("round 1: three backends up", backends, &before, &statuses);

    let stopped = &backends[1];
    let mut health = lb.backends().health_watch();
    stopped.stop();
    println!("\nstopped {} ({})", stopped.name, stopped.addr);
    let down = tokio::time::timeout(DEADLINE, async {
        while let Some(event) = health.next().await {
            if event.backend.socket_addr() == Some(stopped.addr) && !event.healthy {
                return Some(event);
            }
        }
        None
    })
    .await
    .map_err(|_| "the health check did not mark the stopped backend down in time")?
    .ok_or("the load balancer is gone")?;
    let reason = down.reason.as_deref().unwrap_or("no reason given");
    println!("lb's health check marked {} down: {reason}", stopped.name);

    let before = counts(backends);
    let statuses = send(proxy, 30).await?;
    report("round 2: backend 2 stopped", backends, &before, &statuses);
    println!("\nshutting the server down");
    Ok(())
}

fn counts(backends: &[Backend]) -> Vec<u64> {
    backends
        .iter()
        .map(|b| b.requests.load(Ordering::SeqCst))
        .collect()
}

fn report(title: &str, backends: &[Backend], before: &[u64], statuses: &[u16]) {
    println!("\n{title}");
    for (backend, before) in backends.iter().zip(before) {
        let answered = backend.requests.load(Ordering::SeqCst) - before;
        println!(
            "  {:<10} {:<16} {answered:>3} requests",
            backend.name,
            backend.addr.to_string()
        );
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    println!("  answers: {ok} of {} with 200", statuses.len());
}

/// Sends `n` requests to the proxy, one connection each; returns their statuses.
async fn send(proxy: SocketAddr, n: usize) -> Result<Vec<u16>, BoxError> {
    let mut statuses = Vec::with_capacity(n);
    for _ in 0..n {
        let status = tokio::time::timeout(DEADLINE, get(proxy))
            .await
            .map_err(|_| "the proxy did not answer in time")??;
        statuses.push(status);
    }
    Ok(statuses)
}

async fn get(proxy: SocketAddr) -> Result<u16, BoxError> {
    let stream = TcpStream::connect(proxy).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(connection);
    let request = http::Request::get("/")
        .header(http::header::HOST, "demo.local")
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    // The backends answer with their name: a few bytes.
    Limited::new(response.into_body(), 64 * 1024)
        .collect()
        .await?;
    driver.abort();
    Ok(status)
}

/// Waits until the proxy accepts connections (pingora says nothing when its listener is bound).
async fn wait_listening(proxy: SocketAddr) -> Result<(), BoxError> {
    tokio::time::timeout(DEADLINE, async {
        while TcpStream::connect(proxy).await.is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .map_err(|_| format!("the proxy did not listen on {proxy} in time").into())
}

/// The reverse proxy: round robin over lb, each attempt's outcome reported to lb.
struct Proxy(Arc<LoadBalancerService<RoundRobin>>);

/// A request's attempt on its backend, and how many connections it has tried.
struct Ctx {
    attempt: Option<Attempt<RoundRobin>>,
    tries: u32,
}

#[async_trait]
impl ProxyHttp for Proxy {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx {
            attempt: None,
            tries: 0,
        }
    }

    async fn upstream_peer(
        &self,
        _: &mut Session,
        ctx: &mut Ctx,
    ) -> pingora_core::Result<Box<HttpPeer>> {
        ctx.tries += 1;
        let pick = self
            .0
            .select(b"")
            .ok_or_else(|| Error::explain(ErrorType::HTTPStatus(503), "no backend is ready"))?;
        let attempt = ctx.attempt.insert(Attempt::new(pick));
        Ok(Box::new(attempt.http_peer()?))
    }

    async fn upstream_response_filter(
        &self,
        _: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> pingora_core::Result<()> {
        report_status(&mut ctx.attempt, response.status.as_u16());
        Ok(())
    }

    fn fail_to_connect(
        &self,
        _: &mut Session,
        _: &HttpPeer,
        ctx: &mut Ctx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        report_error(&mut ctx.attempt, &e);
        if ctx.tries < TRIES {
            e.set_retry(true);
        }
        e
    }

    async fn logging(&self, _: &mut Session, e: Option<&Error>, ctx: &mut Ctx) {
        if let Some(e) = e {
            report_error(&mut ctx.attempt, e);
        }
    }
}

/// The demo's shutdown: sent by the demo client when it is done.
struct DemoSignal(Mutex<Option<oneshot::Receiver<ShutdownSignal>>>);

#[async_trait]
impl ShutdownSignalWatch for DemoSignal {
    async fn recv(&self) -> ShutdownSignal {
        let rx = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        match rx {
            // A client that is gone without a word: stop at once.
            Some(rx) => rx.await.unwrap_or(ShutdownSignal::FastShutdown),
            None => std::future::pending().await,
        }
    }
}

/// A backend: a hyper HTTP/1.1 server on 127.0.0.1 that answers with its name.
struct Backend {
    name: &'static str,
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Backend {
    async fn start(name: &'static str) -> Result<Backend, BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let counter = Arc::clone(&counter);
                connections.spawn(async move {
                    let service = service_fn(move |_req| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        async move {
                            Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(name))))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Backend {
            name,
            addr,
            requests,
            task,
        })
    }

    /// Closes the listener and every connection: connecting is refused from now on.
    fn stop(&self) {
        self.task.abort();
    }
}
