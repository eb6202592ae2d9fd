//! The inner services of a [`Balance`](crate::Balance), one per backend, kept by backend index in
//! the set they were made for and carried by address to the next set.
//!
//! Finding the service of a pick costs an atomic load of the cache's generation, a comparison of
//! generation numbers, and an atomic load of the backend's slot: no lock, no hashing. When the
//! load balancer publishes a new set, the first request or the maintenance task that sees it
//! builds the next generation (under a lock that requests never take otherwise), carrying each
//! staying backend's slot; the slots of backends that left are dropped with the old generation,
//! and with them their services.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use lb_core::{Backend, BackendSet, BoxError};
use tokio::time::Instant;

use crate::make::MakeBackendService;

/// One backend's place in the cache.
pub(crate) struct Slot<Svc> {
    service: ArcSwapOption<Svc>,
    /// Set by each request that uses the slot, cleared by each idle sweep.
    used: AtomicBool,
    /// When the last sweep found the slot used, in nanoseconds since the cache's epoch.
    seen_used: AtomicU64,
}

impl<Svc> Slot<Svc> {
    fn new() -> Self {
        Slot {
            service: ArcSwapOption::empty(),
            used: AtomicBool::new(false),
            seen_used: AtomicU64::new(0),
        }
    }
}

impl<Svc: Clone> Slot<Svc> {
    /// A clone of the slot's service, made by `make` if the slot has none.
    #[inline]
    fn get_or_make<M>(&self, backend: &Backend, make: &M) -> Result<Svc, BoxError>
    where
        M: MakeBackendService<Service = Svc>,
    {
        // A load first: a hot slot's cache line stays shared between cores.
        if !self.used.load(Ordering::Relaxed) {
            self.used.store(true, Ordering::Relaxed);
        }
        if let Some(service) = &*self.service.load() {
            return Ok(Svc::clone(service));
        }
        self.make(backend, make)
    }

    #[cold]
    #[inline(never)]
    fn make<M>(&self, backend: &Backend, make: &M) -> Result<Svc, BoxError>
    where
        M: MakeBackendService<Service = Svc>,
    {
        let made = Arc::new(make.make_service(backend)?);
        let previous = self
            .service
            .compare_and_swap(&None::<Arc<Svc>>, Some(Arc::clone(&made)));
        // Another request made one first: use theirs, so that all share one.
        Ok(match &*previous {
            Some(theirs) => Svc::clone(theirs),
            None => Svc::clone(&made),
        })
    }
}

/// The slots of one backend set, at the set's indices.
struct Generation<Svc> {
    set: Arc<BackendSet>,
    slots: Box<[Arc<Slot<Svc>>]>,
}

impl<Svc> Generation<Svc> {
    /// The next generation, for `set`: the slots of backends that stay are carried by address.
    fn carried_to(&self, set: Arc<BackendSet>) -> Self {
        let slots = set
            .iter()
            .map(|backend| match self.set.index_of(&backend.addr) {
                Some(i) => Arc::clone(&self.slots[i]),
                None => Arc::new(Slot::new()),
            })
            .collect();
        Generation { set, slots }
    }
}

/// The inner services of a `Balance`, shared by its clones and its maintenance task.
pub(crate) struct Cache<Svc> {
    current: ArcSwap<Generation<Svc>>,
    /// Held while building the next generation, so that two threads do not build one each.
    advancing: Mutex<()>,
    epoch: Instant,
}

impl<Svc: Clone> Cache<Svc> {
    pub(crate) fn new(set: Arc<BackendSet>) -> Self {
        let slots = set.iter().map(|_| Arc::new(Slot::new())).collect();
        Cache {
            current: ArcSwap::from_pointee(Generation { set, slots }),
            advancing: Mutex::new(()),
            epoch: Instant::now(),
        }
    }

    /// A clone of the service of backend `index` of `set`, made by `make` the first time.
    /// `current` gives the load balancer's current set when `set` is not the cache's.
    #[inline]
    pub(crate) fn service<M>(
        &self,
        set: &Arc<BackendSet>,
        index: usize,
        make: &M,
        current: impl FnOnce() -> Arc<BackendSet>,
    ) -> Result<Svc, BoxError>
    where
        M: MakeBackendService<Service = Svc>,
    {
        {
            let generation = self.current.load();
            if generation.set.generation() == set.generation()
                && let (Some(slot), Some(backend)) = (generation.slots.get(index), set.get(index))
            {
                return slot.get_or_make(backend, make);
            }
        }
        self.service_slow(set, index, make, current())
    }

    #[cold]
    #[inline(never)]
    fn service_slow<M>(
        &self,
        set: &Arc<BackendSet>,
        index: usize,
        make: &M,
        current: Arc<BackendSet>,
    ) -> Result<Svc, BoxError>
    where
        M: MakeBackendService<Service = Svc>,
    {
        let Some(backend) = set.get(index) else {
            return Err(format!("backend index {index} is out of its set").into());
        };
        // The pick may come from a set newer than the cache (the first request after an
        // update) or, racing with an update, from an older one: move to the newest of the two.
        let newest = if current.generation() >= set.generation() {
            current
        } else {
            Arc::clone(set)
        };
        let generation = self.advance(newest);
        match generation.set.index_of(&backend.addr) {
            Some(i) => generation.slots[i].get_or_make(backend, make),
            // The backend has left the set since it was picked: serve this request with a
            // service of its own, which is not kept.
            None => make.make_service(backend),
        }
    }

    /// Moves the cache to `set` if it is newer than the cache's; returns the cache's generation.
    fn advance(&self, set: Arc<BackendSet>) -> Arc<Generation<Svc>> {
        // The guarded value is `()`: a poisoned lock has nothing broken to protect.
        let _advancing = self
            .advancing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let generation = self.current.load_full();
        if set.generation() <= generation.set.generation() {
            return generation;
        }
        let next = Arc::new(generation.carried_to(set));
        self.current.store(Arc::clone(&next));
        next
    }

    /// Follows the load balancer to `set`: the services of backends that left it are dropped.
    pub(crate) fn follow(&self, set: Arc<BackendSet>) {
        drop(self.advance(set));
    }

    /// Drops the services unused since at least `idle` ago as of `now` (by the sweeps' count:
    /// a slot used since the previous sweep is seen used now). Returns how many it dropped.
    pub(crate) fn sweep(&self, now: Instant, idle: Duration) -> usize {
        let now = nanos(now.saturating_duration_since(self.epoch));
        let idle = nanos(idle);
        let generation = self.current.load();
        let mut dropped = 0;
        for slot in generation.slots.iter() {
            if slot.used.swap(false, Ordering::Relaxed) {
                slot.seen_used.store(now, Ordering::Relaxed);
            } else if now.saturating_sub(slot.seen_used.load(Ordering::Relaxed)) >= idle
                && slot.service.swap(None).is_some()
            {
                dropped += 1;
            }
        }
        dropped
    }

    /// How many backends have a service now (for tests and debugging).
    pub(crate) fn len(&self) -> usize {
        let generation = self.current.load();
        generation
            .slots
            .iter()
            .filter(|s| s.service.load().is_some())
            .count()
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl<Svc> fmt::Debug for Cache<Svc> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let generation = self.current.load();
        f.debug_struct("Cache")
            .field("generation", &generation.set.generation())
            .field("backends", &generation.slots.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lb_core::{BackendSelection, LoadBalancer};
    use std::sync::atomic::AtomicUsize;

    struct First;
    struct It(Option<usize>);
    impl lb_core::BackendIter for It {
        fn next(&mut self) -> Option<usize> {
            self.0.take()
        }
    }
    impl BackendSelection for First {
        type Config = ();
        type Iter<'a> = It;
        fn build(_: &[Backend], _: &()) -> Result<Self, BoxError> {
            Ok(First)
        }
        fn iter(&self, _: &[u8]) -> It {
            It(Some(0))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn services_are_made_once_carried_by_address_and_dropped_when_idle() {
        let lb = LoadBalancer::<First>::try_from_iter(["10.0.0.1:80", "10.0.0.2:80"]).unwrap();
        let made = AtomicUsize::new(0);
        let make = |b: &Backend| {
            made.fetch_add(1, Ordering::Relaxed);
            b.addr.to_string()
        };
        let set = lb.backends().get_backend();
        let cache = Cache::new(Arc::clone(&set));
        let current = || lb.backends().get_backend();
        assert_eq!(
            cache.service(&set, 1, &make, current).unwrap(),
            "10.0.0.2:80"
        );
        assert_eq!(
            cache.service(&set, 1, &make, current).unwrap(),
            "10.0.0.2:80"
        );
        assert_eq!(made.load(Ordering::Relaxed), 1);
        assert_eq!(cache.len(), 1);

        // A newer set: the staying backend keeps its service, at its new index.
        let next = {
            let lb2 = LoadBalancer::<First>::try_from_iter(["10.0.0.0:80", "10.0.0.2:80"]).unwrap();
            lb2.backends().get_backend()
        };
        cache.follow(Arc::clone(&next));
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache.service(&next, 1, &make, current).unwrap(),
            "10.0.0.2:80"
        );
        assert_eq!(made.load(Ordering::Relaxed), 1, "carried, not made again");
        // A pick from the old set whose backend has left: served, not kept.
        assert_eq!(
            cache.service(&set, 0, &make, current).unwrap(),
            "10.0.0.1:80"
        );
        assert_eq!(cache.len(), 1);

        // Idle: the first sweep sees the slot used, the next ones count from there.
        let idle = Duration::from_secs(60);
        assert_eq!(cache.sweep(Instant::now(), idle), 0);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(cache.sweep(Instant::now(), idle), 0);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(cache.sweep(Instant::now(), idle), 1);
        assert_eq!(cache.len(), 0);
        assert_eq!(
            cache.service(&next, 1, &make, current).unwrap(),
            "10.0.0.2:80"
        );
        assert_eq!(
            made.load(Ordering::Relaxed),
            3,
            "made again after its eviction"
        );
    }
}
