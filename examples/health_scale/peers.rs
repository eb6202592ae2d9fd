//! The probed side: one TCP listener that accepts and closes, or one HTTP/1.1 server that
//! answers 200, on `0.0.0.0` (so that it answers every `127.a.b.c` target) and on a thread of
//! its own: it stands for the backends' hosts, not for the prober.
//!
//! The TCP peer accepts on a plain thread: one `accept` and one `close` per connection, no event
//! loop and no allocation per connection, polling its non-blocking listener and sleeping a little
//! when the queue is empty (a thread blocked in `accept` would be woken by every connection), so
//! that it keeps up with the prober on the same CPUs and adds nothing to the heap the run counts. It closes each
//! connection [`HELD`] connections later, by which time the probe has closed it with a reset:
//! closing it at once would race the probe, and a server that closes first sends a FIN, which
//! costs the kernel (on these same CPUs) another round of packets.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lb::BoxError;
use socket2::{Domain, Socket, Type};
use tokio::sync::oneshot;

/// The accept backlog: a probe's connect completes in the kernel before the server accepts, so
/// the queue absorbs the difference in pace. Linux caps it at `net.core.somaxconn` (4096 by
/// default); a full queue drops SYNs, and a dropped SYN is retried only after a second, which a
/// probe's connect timeout would count as a failure.
const BACKLOG: i32 = 4096;

/// Accepted connections the TCP peer keeps open before it closes the oldest: each holds a
/// descriptor.
pub(crate) const HELD: usize = 1024;

/// How long the TCP peer waits when its accept queue is empty before it looks again: at the
/// pace of a pass (some 30,000 connections a second), a few dozen connections queue meanwhile,
/// far below [`BACKLOG`].
const IDLE: Duration = Duration::from_micros(500);

/// What a peer does with each accepted connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Serve {
    /// Closes it at once (a TCP probe asks for nothing more).
    Close,
    /// Serves HTTP/1.1 on it, answering every request with 200 and `ok`, keeping it alive
    /// while the client does.
    Http,
}

/// The nice value the peer's thread asks for (Linux; refused without `CAP_SYS_NICE`, which
/// changes nothing else). A peer starved of CPU by the prober, or by other work on the machine,
/// lets its accept queue fill, and the kernel then drops SYNs: probes time out on a backend that
/// is up. Real backends run on other hosts; this keeps the stand-in from being outrun on ours.
const PEER_NICE: i32 = -10;

/// Asks for [`PEER_NICE`] for the calling thread; whether it was granted.
fn raise_priority() -> bool {
    // On Linux, PRIO_PROCESS with no pid sets the calling thread's nice value, not the process's.
    #[cfg(target_os = "linux")]
    let granted = rustix::process::setpriority_process(None, PEER_NICE).is_ok();
    #[cfg(not(target_os = "linux"))]
    let granted = false;
    granted
}

/// A running peer; it stops when dropped.
#[derive(Debug)]
pub(crate) struct Peer {
    /// The port it listens on, on every address.
    pub(crate) port: u16,
    /// Whether its thread runs at a higher priority than the prober's.
    pub(crate) prioritized: bool,
    tally: Arc<Tally>,
    stop: Stop,
}

/// What the peer's thread counts: connections accepted, and its own CPU time (as of its last
/// accepted connection or answered request), so that a run can tell the prober's CPU time from
/// the stand-in backends'.
#[derive(Debug, Default)]
struct Tally {
    accepted: AtomicU64,
    cpu_ns: AtomicU64,
}

impl Tally {
    fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.busy();
    }

    /// Records the calling thread's CPU time (the peer's thread calls it).
    fn busy(&self) {
        self.cpu_ns.store(thread_cpu_ns(), Ordering::Relaxed);
    }
}

/// The calling thread's CPU time in nanoseconds (0 where it cannot be read).
fn thread_cpu_ns() -> u64 {
    #[cfg(unix)]
    {
        use rustix::time::{ClockId, clock_gettime};
        let t = clock_gettime(ClockId::ThreadCPUTime);
        let secs = u64::try_from(t.tv_sec).unwrap_or(0);
        let nanos = u64::try_from(t.tv_nsec).unwrap_or(0);
        secs.saturating_mul(1_000_000_000).saturating_add(nanos)
    }
    #[cfg(not(unix))]
    0
}

#[derive(Debug)]
enum Stop {
    /// Set the flag, then connect once (the peer sees the flag within one idle wait).
    Flag(Arc<AtomicBool>),
    /// The HTTP server's runtime ends when this is sent or dropped.
    Signal(Option<oneshot::Sender<()>>),
}

impl Peer {
    /// Connections accepted so far.
    pub(crate) fn accepted(&self) -> u64 {
        self.tally.accepted.load(Ordering::Relaxed)
    }

    /// The CPU time the peer's thread has used, as of its last connection or request.
    pub(crate) fn cpu(&self) -> Duration {
        Duration::from_nanos(self.tally.cpu_ns.load(Ordering::Relaxed))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        match &mut self.stop {
            Stop::Flag(stop) => {
                stop.store(true, Ordering::SeqCst);
                // A refused or failed wake-up only means the thread is already gone.
                let _ = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], self.port)));
            }
            Stop::Signal(stop) => drop(stop.take()),
        }
    }
}

/// A listener on `0.0.0.0:0` with [`BACKLOG`].
fn bind() -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::from(([0, 0, 0, 0], 0)).into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Starts a peer on `0.0.0.0:0` on its own thread.
pub(crate) fn start(serve: Serve) -> Result<Peer, BoxError> {
    let listener = bind()?;
    let port = listener.local_addr()?.port();
    let tally = Arc::new(Tally::default());
    let counter = Arc::clone(&tally);
    let thread = std::thread::Builder::new().name(format!("peer-{serve:?}").to_lowercase());
    let (prioritized_tx, prioritized) = std::sync::mpsc::channel();
    let stop = match serve {
        Serve::Close => {
            let stop = Arc::new(AtomicBool::new(false));
            let stopped = Arc::clone(&stop);
            listener.set_nonblocking(true)?;
            thread.spawn(move || {
                let _ = prioritized_tx.send(raise_priority());
                let mut held = VecDeque::with_capacity(HELD + 1);
                while !stopped.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            counter.accepted();
                            held.push_back(stream);
                            if held.len() > HELD {
                                drop(held.pop_front());
                            }
                        }
                        // The queue is empty: wait a little rather than in `accept`, so that a
                        // connection arriving wakes no thread (a wake-up per connection costs
                        // the kernel more than the accept itself).
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(IDLE);
                        }
                        // A connection reset before it was accepted, or a lack of descriptors:
                        // the listener itself is fine, so keep accepting.
                        Err(_) => {}
                    }
                }
            })?;
            Stop::Flag(stop)
        }
        Serve::Http => {
            listener.set_nonblocking(true)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (stop, stopped) = oneshot::channel::<()>();
            thread.spawn(move || {
                let _ = prioritized_tx.send(raise_priority());
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        () = serve_http(listener, counter) => {}
                        _ = stopped => {}
                    }
                });
            })?;
            Stop::Signal(Some(stop))
        }
    };
    Ok(Peer {
        port,
        // A thread that ended before it said counts as not raised.
        prioritized: prioritized.recv().unwrap_or(false),
        tally,
        stop,
    })
}

async fn serve_http(listener: tokio::net::TcpListener, tally: Arc<Tally>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // As above: the listener is fine; yield so that a burst of errors cannot spin.
            tokio::task::yield_now().await;
            continue;
        };
        tally.accepted();
        let tally = Arc::clone(&tally);
        tokio::spawn(async move {
            let service = service_fn(move |_request| {
                // The runtime has one thread: the peer's.
                tally.busy();
                async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok")))) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
