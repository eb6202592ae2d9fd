//! [`Static`]: a backend list the application edits at run time; every edit is pushed.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lb_core::{
    Address, AddressError, Answer, Backend, BoxError, Change, ChangeLog, ChangeNotifier,
    ChangeSubscription, Discovered, IntoBackend, ServiceDiscovery,
};

/// A backend list set by the application; a discovery source that pushes every change.
///
/// Clones are handles to the same list: give one to [`Backends::new`](lb_core::Backends::new)
/// and keep another to edit. Backends are identified by address: adding an address that is
/// already present replaces its weight and extensions (the load balancer keeps its health).
///
/// Every edit is recorded in a [`ChangeLog`], so the load balancer is told only what changed
/// (`discover_changes`) and applies it in time proportional to the change, whatever the size of
/// the list; [`Static::set`] records the difference between the old list and the new one.
#[derive(Clone)]
pub struct Static {
    inner: Arc<Inner>,
}

struct Inner {
    list: Mutex<List>,
    notifier: ChangeNotifier,
}

struct List {
    backends: BTreeMap<Address, Backend>,
    log: ChangeLog,
}

impl List {
    /// The changes from this list to `next`: one merge of the two sorted maps.
    fn diff(&self, next: &BTreeMap<Address, Backend>) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut old = self.backends.iter().peekable();
        for (addr, b) in next {
            while let Some((gone, _)) = old.next_if(|(a, _)| *a < addr) {
                changes.push(Change::Remove(gone.clone()));
            }
            match old.next_if(|(a, _)| *a == addr) {
                Some((_, before)) if same(before, b) => {}
                _ => changes.push(Change::Upsert(b.clone())),
            }
        }
        changes.extend(old.map(|(gone, _)| Change::Remove(gone.clone())));
        changes
    }
}

/// Whether two backends of one address select alike as far as the list can tell (weight; the
/// extensions cannot be compared, so a backend given again with extensions is a change).
fn same(a: &Backend, b: &Backend) -> bool {
    a.weight == b.weight && a.ext.is_empty() && b.ext.is_empty()
}

impl Static {
    /// A list of these backends (later duplicates of an address replace earlier ones).
    pub fn new(backends: impl IntoIterator<Item = Backend>) -> Self {
        Static {
            inner: Arc::new(Inner {
                list: Mutex::new(List {
                    backends: backends.into_iter().map(|b| (b.addr.clone(), b)).collect(),
                    log: ChangeLog::default(),
                }),
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

    fn lock(&self) -> MutexGuard<'_, List> {
        // Every critical section changes the map and then logs the change, neither of which
        // can panic halfway, so a poisoned lock still guards a consistent list.
        self.inner
            .list
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `backend`, or replaces the attributes of the backend at its address. Returns
    /// whether the address is new.
    pub fn add(&self, backend: Backend) -> bool {
        let mut list = self.lock();
        let new = list
            .backends
            .insert(backend.addr.clone(), backend.clone())
            .is_none();
        list.log.commit([Change::Upsert(backend)]);
        drop(list);
        self.inner.notifier.notify();
        new
    }

    /// Removes the backend with `backend`'s address. Returns whether it was present.
    pub fn remove(&self, backend: &Backend) -> bool {
        self.remove_addr(&backend.addr)
    }

    /// Removes the backend at `addr`. Returns whether it was present.
    pub fn remove_addr(&self, addr: &Address) -> bool {
        let mut list = self.lock();
        let removed = list.backends.remove(addr).is_some();
        if removed {
            list.log.commit([Change::Remove(addr.clone())]);
        }
        drop(list);
        if removed {
            self.inner.notifier.notify();
        }
        removed
    }

    /// Replaces the whole list (later duplicates of an address replace earlier ones). The
    /// load balancer is told the difference.
    pub fn set(&self, backends: impl IntoIterator<Item = Backend>) {
        let map: BTreeMap<Address, Backend> =
            backends.into_iter().map(|b| (b.addr.clone(), b)).collect();
        let mut list = self.lock();
        let changes = list.diff(&map);
        list.log.commit(changes);
        list.backends = map;
        drop(list);
        self.inner.notifier.notify();
    }

    /// The current list, sorted by address.
    pub fn get(&self) -> Vec<Backend> {
        self.lock().backends.values().cloned().collect()
    }

    /// How many backends the list holds.
    pub fn len(&self) -> usize {
        self.lock().backends.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.lock().backends.is_empty()
    }

    /// The number of the list's current version (each edit makes one).
    pub fn version(&self) -> u64 {
        self.lock().log.version()
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

    async fn discover_changes(&self, since: Option<u64>) -> Result<Answer, BoxError> {
        let list = self.lock();
        Ok(list
            .log
            .answer(since, || Discovered::new(list.backends.values().cloned())))
    }
}

impl fmt::Debug for Static {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Static")
            .field("backends", &self.get())
            .finish()
    }
}
