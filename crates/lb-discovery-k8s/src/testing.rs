//! Driving the source by hand, without a client or a watch task (feature `testing`): for tests
//! and benches that time what the source does with one watch event.

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::Event;
use lb_core::{Answer, BoxError, ChangeSubscription, Discovered, ServiceDiscovery};

use crate::error::Error;
use crate::failure::WatchFailure;
use crate::limits::Limits;
use crate::port::Port;
use crate::shared::{Shared, WatchStatus};
use crate::slice::Entry;
use crate::store::Store;
use crate::watch::step;

/// An EndpointSlice discovery source fed kube watcher events by the caller, one at a time: the
/// store, the published set, its change log and the answers of
/// [`EndpointSliceDiscovery`](crate::EndpointSliceDiscovery), with no client and no watch task.
///
/// ```
/// use lb_core::{Answer, ServiceDiscovery};
/// use lb_discovery_k8s::kube::runtime::watcher::Event;
/// use lb_discovery_k8s::testing::Feed;
/// use lb_discovery_k8s::{Limits, Port};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lb_core::BoxError> {
/// let feed = Feed::new("default", "web", Port::Only, Limits::default());
/// assert!(feed.discover().await.is_err(), "nothing before the first list");
/// feed.apply(Event::Init)?;
/// assert!(feed.apply(Event::InitDone)?, "the first list is published");
/// let Answer::Full { set, version } = feed.discover_changes(None).await? else {
///     unreachable!("no number: the whole set")
/// };
/// assert!(set.backends.is_empty());
/// assert!(matches!(feed.discover_changes(version).await?, Answer::Unchanged));
/// # Ok(()) }
/// ```
pub struct Feed {
    store: Mutex<Store>,
    shared: Shared,
    /// The last set [`Feed::recompute`] made.
    recomputed: Mutex<Option<Vec<Entry>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is one call of the store or one replacement of a value: a panic in
    // another caller cannot leave them half-written in a way later calls would misread.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Feed {
    /// A source for the Service `namespace/service`, its backends on `port`, within `limits`.
    pub fn new(
        namespace: impl Into<String>,
        service: impl Into<String>,
        port: impl Into<Port>,
        limits: Limits,
    ) -> Self {
        let service = service.into();
        Feed {
            store: Mutex::new(Store::new(service.clone(), port.into(), limits)),
            shared: Shared::new(namespace.into(), service),
            recomputed: Mutex::new(None),
        }
    }

    /// Applies one event as the watch task does: the merged set's changes it makes are
    /// published as one version. Returns whether a version was published (the first list, or a
    /// change); a slice past a limit is refused as the watch refuses it (the error is also
    /// recorded in the status).
    pub fn apply(&self, event: Event<EndpointSlice>) -> Result<bool, Error> {
        let mut store = lock(&self.store);
        step(&mut store, &self.shared, event).map_err(|refused| {
            let error =
                refused.into_error(self.shared.namespace.clone(), self.shared.service.clone());
            self.shared
                .record_error(WatchFailure::new(error.to_string()));
            error
        })
    }

    /// What the source has done so far, as
    /// [`EndpointSliceDiscovery::status`](crate::EndpointSliceDiscovery::status) says it.
    pub fn status(&self) -> WatchStatus {
        self.shared.status()
    }

    /// Recomputes the whole merged set the way this source did on every event before it kept
    /// the set incrementally: every slice's entries collected, sorted by address and state, and
    /// deduplicated, the result compared whole with the last recomputation, and a backend built
    /// for each entry. `None` when the set equals the last one, else the whole set.
    ///
    /// The source's answers never come from here: it is kept so that benches can time both
    /// ways on the same events.
    pub fn recompute(&self) -> Option<Discovered> {
        let entries = lock(&self.store).recompute();
        let mut last = lock(&self.recomputed);
        if last.as_deref() == Some(entries.as_slice()) {
            return None;
        }
        let mut discovered = Discovered::new(entries.iter().map(Entry::backend));
        discovered.enablement = entries
            .iter()
            .map(|e| (lb_core::Address::Inet(e.addr), e.enablement))
            .collect();
        *last = Some(entries);
        Some(discovered)
    }

    fn not_listed(&self) -> BoxError {
        Error::NotListed {
            namespace: self.shared.namespace.clone(),
            service: self.shared.service.clone(),
            last_error: self.status().last_error,
        }
        .into()
    }
}

#[lb_core::async_trait]
impl ServiceDiscovery for Feed {
    /// The whole set; [`Error::NotListed`] before the first list (there is nothing to wait for).
    async fn discover(&self) -> Result<Discovered, BoxError> {
        self.shared.discovered().ok_or_else(|| self.not_listed())
    }

    fn subscribe(&self) -> Option<ChangeSubscription> {
        Some(self.shared.notifier.subscribe())
    }

    async fn discover_changes(&self, since: Option<u64>) -> Result<Answer, BoxError> {
        self.shared.answer(since).ok_or_else(|| self.not_listed())
    }
}

impl fmt::Debug for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feed")
            .field("namespace", &self.shared.namespace)
            .field("service", &self.shared.service)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}
