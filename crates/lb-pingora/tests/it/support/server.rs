//! A pingora `Server` run in process, on a thread of its own: lb's background service and a
//! proxy service that depends on it, listening on a Unix socket in a fresh folder (a socket path
//! is known before the server starts, unlike a TCP port 0 that pingora binds out of sight).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use async_trait::async_trait;
use lb::{BackendSelection, LoadBalancer};
use lb_pingora::LoadBalancerService;
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch, ShutdownWatch};
use pingora_core::services::ServiceReadyNotifier;
use pingora_core::services::background::{BackgroundService, GenBackgroundService};
use pingora_proxy::http_proxy_service;
use tokio::sync::{oneshot, watch};

use super::proxy::Proxy;
use super::within;

/// A running server.
pub(crate) struct ProxyServer {
    dir: PathBuf,
    pub(crate) socket: PathBuf,
    signal: Option<oneshot::Sender<ShutdownSignal>>,
    /// Sends once `Server::run` has returned.
    ended: Option<oneshot::Receiver<()>>,
    thread: Option<JoinHandle<()>>,
    /// Whether lb's background service returned by itself (rather than being dropped with its
    /// runtime).
    pub(crate) lb_service_returned: watch::Receiver<bool>,
}

impl ProxyServer {
    /// Starts a server running `lb`'s background service and `proxy`, the proxy on one worker
    /// thread (so that round robin takes its turns in one sequence) and starting once the load
    /// balancer is ready.
    pub(crate) fn start<S: BackendSelection>(lb: Arc<LoadBalancer<S>>, proxy: Proxy<S>) -> Self {
        let dir = unique_dir();
        let socket = dir.join("proxy.sock");
        let (signal, signal_rx) = oneshot::channel();
        let (ended_tx, ended) = oneshot::channel();
        let (returned_tx, lb_service_returned) = watch::channel(false);
        let socket_path = socket.to_str().expect("temp paths are UTF-8").to_owned();
        let thread = std::thread::spawn(move || {
            let conf = ServerConf {
                threads: 1,
                // The time services have, after the shutdown watch turns, to stop by themselves
                // before pingora tears their runtimes down (pingora's default is 60 s).
                grace_period_seconds: Some(1),
                graceful_shutdown_timeout_seconds: Some(1),
                pid_file: String::new(),
                ..ServerConf::default()
            };
            let mut server = Server::new_with_opt_and_conf(None, conf);
            server.bootstrap();
            let background = GenBackgroundService::new(
                "lb".to_owned(),
                Arc::new(Observed {
                    inner: LoadBalancerService::new(lb),
                    returned: returned_tx,
                }),
            );
            let mut service = http_proxy_service(&server.configuration, proxy);
            service.threads = Some(1);
            service.add_uds(&socket_path, None);
            let lb_handle = server.add_service(background);
            server.add_service(service).add_dependency(&lb_handle);
            server.run(RunArgs {
                shutdown_signal: Box::new(TestSignal(Mutex::new(Some(signal_rx)))),
            });
            let _ = ended_tx.send(());
        });
        ProxyServer {
            dir,
            socket,
            signal: Some(signal),
            ended: Some(ended),
            thread: Some(thread),
            lb_service_returned,
        }
    }

    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }

    /// Asks the server to shut down gracefully (pingora's SIGTERM) and waits until `Server::run`
    /// has returned.
    pub(crate) async fn shutdown(mut self) {
        if let Some(signal) = self.signal.take() {
            let _ = signal.send(ShutdownSignal::GracefulTerminate);
        }
        let ended = self.ended.take().expect("shutdown runs once");
        within("the server to stop", ended)
            .await
            .expect("the server thread ends by returning from Server::run");
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the server thread does not panic");
        }
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        // A test that failed before `shutdown`: stop the server without waiting for it.
        if let Some(signal) = self.signal.take() {
            let _ = signal.send(ShutdownSignal::FastShutdown);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The shutdown signal of a test: whatever the test sends, or a fast shutdown if the test is
/// gone.
struct TestSignal(Mutex<Option<oneshot::Receiver<ShutdownSignal>>>);

#[async_trait]
impl ShutdownSignalWatch for TestSignal {
    async fn recv(&self) -> ShutdownSignal {
        let rx = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        match rx {
            Some(rx) => rx.await.unwrap_or(ShutdownSignal::FastShutdown),
            None => std::future::pending().await,
        }
    }
}

/// A background service that says when the one it runs returns.
struct Observed<T> {
    inner: T,
    returned: watch::Sender<bool>,
}

#[async_trait]
impl<T: BackgroundService + Send + Sync> BackgroundService for Observed<T> {
    async fn start_with_ready_notifier(
        &self,
        shutdown: ShutdownWatch,
        ready: ServiceReadyNotifier,
    ) {
        self.inner.start_with_ready_notifier(shutdown, ready).await;
        self.returned.send_replace(true);
    }
}

/// A new folder under the system's temporary folder, short enough for a socket path.
fn unique_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "lbp-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("the temporary folder is writable");
    dir
}
