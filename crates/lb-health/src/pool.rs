//! [`Pool`]: the idle connections kept between probes when a probe reuses connections.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use lb_core::Address;

use crate::transport::Conn;

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

    /// The idle connection to `addr`, if it can still carry a request.
    pub(crate) fn take(&self, addr: &Address) -> Option<Conn> {
        self.lock().conns.remove(addr).filter(Conn::is_reusable)
    }

    /// Keeps `conn` for the next probe of `addr` if it can carry another request.
    pub(crate) fn put(&self, addr: Address, conn: Conn) {
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
