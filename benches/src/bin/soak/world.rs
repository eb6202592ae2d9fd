//! The backends: one real TCP listener per backend on its own loopback address, accepting and
//! dropping every connection, on a runtime of their own (the peers keep running when the load
//! balancer's runtime stops for a clock jump). A listener can be closed (its port then refuses
//! connections) and opened again.

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::state::Shared;

/// Asks an accept loop to drop its listener; it answers once the listener is closed.
type Stop = oneshot::Sender<oneshot::Sender<()>>;

/// The listeners, by backend id.
#[derive(Debug)]
pub(crate) struct World {
    handle: Handle,
    stops: Vec<Mutex<Option<Stop>>>,
}

/// Finds a port that is free on the first backend's address, for every backend to use.
pub(crate) fn pick_port() -> io::Result<u16> {
    let probe = StdListener::bind("127.1.0.1:0")?;
    Ok(probe.local_addr()?.port())
}

impl World {
    pub(crate) fn new(handle: Handle, n: usize) -> Self {
        World {
            handle,
            stops: (0..n).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Opens backend `id`'s listener. Once this returns, connections to it succeed (the kernel
    /// completes them into the backlog even before the accept loop runs).
    pub(crate) fn open(&self, shared: &Shared, id: usize) -> io::Result<()> {
        let addr = shared.layout.socket(id);
        let listener = bind(addr)?;
        let (stop, mut stopped) = oneshot::channel::<oneshot::Sender<()>>();
        self.handle.spawn(async move {
            // `from_std` needs the runtime, so it runs in the task; the socket listens already.
            let Ok(listener) = TcpListener::from_std(listener) else {
                return;
            };
            loop {
                tokio::select! {
                    accepted = listener.accept() => drop(accepted),
                    ack = &mut stopped => {
                        drop(listener);
                        if let Ok(ack) = ack {
                            let _ = ack.send(());
                        }
                        return;
                    }
                }
            }
        });
        *lock(&self.stops[id]) = Some(stop);
        shared.open[id].store(true, Ordering::Release);
        Ok(())
    }

    /// Closes backend `id`'s listener and waits until its port refuses connections.
    pub(crate) async fn close(&self, shared: &Shared, id: usize) {
        let stop = lock(&self.stops[id]).take();
        if let Some(stop) = stop {
            let (ack, acked) = oneshot::channel();
            if stop.send(ack).is_ok() {
                let _ = acked.await;
            }
        }
        shared.open[id].store(false, Ordering::Release);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded value is replaced whole; a panic elsewhere cannot leave it half-written.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A non-blocking listener on `addr` with a backlog large enough for a pass's probes.
fn bind(addr: SocketAddr) -> io::Result<StdListener> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
