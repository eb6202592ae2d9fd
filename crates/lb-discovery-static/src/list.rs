//! [`Static`]: a backend list the application edits at run time; every edit is pushed.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lb_core::{
    Address, AddressError, Backend, BoxError, ChangeNotifier, ChangeSubscription, Discovered,
    IntoBackend, ServiceDiscovery,
};

/// A backend list set by the application; a discovery source that pushes every change.
///
/// Clones are handles to the same list: give one to [`Backends::new`](lb_core::Backends::new)
/// and keep another to edit. Backends are identified by address: adding an address that is
/// already present replaces its weight and extensions (the load balancer keeps its health).
#[derive(Clone)]
pub struct Static {
    inner: Arc<Inner>,
}

struct Inner {
    backends: Mutex<BTreeMap<Address, Backend>>,
    notifier: ChangeNotifier,
}

impl Static {
    /// A list of these backends (later duplicates of an address replace earlier ones).
    pub fn new(backends: impl IntoIterator<Item = Backend>) -> Self {
        Static {
            inner: Arc::new(Inner {
                backends: Mutex::new(backends.into_iter().map(|b| (b.addr.clone(), b)).collect()),
                notifier: ChangeNotifier::new(),
            }),
        }
    }

    /// A list parsed from addresses (`"1.2.3.4:80"`, `"[::1]:80"`, `"unix:/path"`, socket
    /// addresses or backends); the error names the first bad address.
    pub fn try_from_iter<I>(iter: I) -> Result<Self, AddressError>
    where
        I: IntoIterator,
        I::Item: IntoBackend,
    {
        let backends = iter
            .into_iter()
            .map(IntoBackend::into_backend)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(backends))
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Address, Backend>> {
        // Every critical section is a single map operation that cannot leave the map
        // half-updated, so a poisoned lock still guards a consistent map.
        self.inner
            .backends
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `backend`, or replaces the attributes of the backend at its address. Returns
    /// whether the address is new.
    pub fn add(&self, backend: Backend) -> bool {
        let new = self.lock().insert(backend.addr.clone(), backend).is_none();
        self.inner.notifier.notify();
        new
    }

    /// Removes the backend with `backend`'s address. Returns whether it was present.
    pub fn remove(&self, backend: &Backend) -> bool {
        self.remove_addr(&backend.addr)
    }

    /// Removes the backend at `addr`. Returns whether it was present.
    pub fn remove_addr(&self, addr: &Address) -> bool {
        let removed = self.lock().remove(addr).is_some();
        if removed {
            self.inner.notifier.notify();
        }
        removed
    }

    /// Replaces the whole list.
    pub fn set(&self, backends: impl IntoIterator<Item = Backend>) {
        let map = backends.into_iter().map(|b| (b.addr.clone(), b)).collect();
        *self.lock() = map;
        self.inner.notifier.notify();
    }

    /// The current list, sorted by address.
    pub fn get(&self) -> Vec<Backend> {
        self.lock().values().cloned().collect()
    }

    /// How many backends the list holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[lb_core::async_trait]
impl ServiceDiscovery for Static {
    async fn discover(&self) -> Result<Discovered, BoxError> {
        Ok(Discovered::new(self.get()))
    }

    fn subscribe(&self) -> Option<ChangeSubscription> {
        Some(self.inner.notifier.subscribe())
    }
}

impl fmt::Debug for Static {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Static")
            .field("backends", &self.get())
            .finish()
    }
}
