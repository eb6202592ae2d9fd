//! [`Pool`]: the idle connections kept between probes when a probe reuses connections, and
//! the one way HTTP and gRPC probes get a connection for their exchange.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use lb_core::Address;

use crate::budget::Budget;
use crate::error::{ProbeError, ProbeErrorKind};
use crate::transport::Conn;

/// What an HTTP or gRPC probe does with a connection, so that [`Pool::exchange`] chooses the
/// connection, and retries on a stale one, the same way for both.
pub(crate) trait Exchange: Sync {
    /// Opens a new connection to `addr` with the probe's settings.
    fn open(
        &self,
        addr: &Address,
        budget: &Budget,
    ) -> impl Future<Output = Result<Conn, ProbeError>> + Send;

    /// Sends the probe's request on `conn` and judges the answer.
    fn exchange(
        &self,
        conn: &mut Conn,
        addr: &Address,
        budget: &Budget,
    ) -> impl Future<Output = Result<(), ProbeError>> + Send;
}

/// At most one idle connection per probed address. Entries whose connection has closed are
/// dropped from time to time as connections are put back, so the pool holds about one entry
/// per backend that is still probed or has not yet closed its idle connection.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<Idle>,
}

/// A clone starts empty: idle connections belong to the probe that opened them, and a clone of
/// a probe may be given other TLS or HTTP settings before it probes the same address.
impl Clone for Pool {
    fn clone(&self) -> Self {
        Pool::default()
    }
}

#[derive(Debug, Default)]
struct Idle {
    conns: HashMap<Address, Conn>,
    /// Insertions since closed entries were last dropped; pruning when this exceeds the map's
    /// size keeps `put` amortised O(1) with thousands of backends.
    puts_since_prune: usize,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, Idle> {
        // No critical section leaves the map half-updated, so a poisoned lock is still usable.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one probe's exchange on a connection to `addr`: without `reuse`, on a new one;
    /// with it, on the idle one kept from the last probe if there is one, and the connection is
    /// kept again after a success. A kept connection that the backend closed while idle says
    /// nothing about its health, so a reset on it is retried once on a new one.
    pub(crate) async fn exchange(
        &self,
        probe: &impl Exchange,
        addr: &Address,
        budget: &Budget,
        reuse: bool,
    ) -> Result<(), ProbeError> {
        let idle = if reuse { self.take(addr) } else { None };
        let reused = idle.is_some();
        let mut conn = match idle {
            Some(conn) => conn,
            None => probe.open(addr, budget).await?,
        };
        let mut result = probe.exchange(&mut conn, addr, budget).await;
        if reused && matches!(&result, Err(e) if e.kind() == ProbeErrorKind::Reset) {
            conn = probe.open(addr, budget).await?;
            result = probe.exchange(&mut conn, addr, budget).await;
        }
        if result.is_ok() && reuse {
            self.put(addr.clone(), conn);
        }
        result
    }

    /// The idle connection to `addr`, if it can still carry a request.
    fn take(&self, addr: &Address) -> Option<Conn> {
        self.lock().conns.remove(addr).filter(Conn::is_reusable)
    }

    /// Keeps `conn` for the next probe of `addr` if it can carry another request.
    fn put(&self, addr: Address, conn: Conn) {
        if !conn.is_reusable() {
            return;
        }
        let mut idle = self.lock();
        idle.puts_since_prune += 1;
        if idle.puts_since_prune > idle.conns.len() {
            idle.conns.retain(|_, c| c.is_reusable());
            idle.puts_since_prune = 0;
        }
        idle.conns.insert(addr, conn);
    }
}
