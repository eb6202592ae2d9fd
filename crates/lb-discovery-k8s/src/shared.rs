//! [`Shared`]: what the watch task publishes and the discovery handles read: the merged set,
//! the numbered record of its changes, and the watch's status.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry as Slot;
use std::sync::{Mutex, MutexGuard, PoisonError};

use lb_core::{
    Address, Answer, Backend, Change, ChangeLog, ChangeNotifier, DEFAULT_CHANGE_LOG_CAPACITY,
    Discovered, Enablement,
};
use tokio::sync::watch;

use crate::failure::WatchFailure;

/// What the watch has done so far, from
/// [`EndpointSliceDiscovery::status`](crate::EndpointSliceDiscovery::status).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchStatus {
    /// Whether a list has completed: from then on the source has a set to report, and keeps it
    /// through API outages.
    pub listed: bool,
    /// Completed lists: the first, and every re-list (after a `410 Gone`, for example).
    pub lists: u64,
    /// Versions of the set published: the first list, and every event that changed the set
    /// (backends, their states or their metadata). An event that changes nothing publishes
    /// nothing.
    pub updates: u64,
    /// The number of backends published.
    pub backends: usize,
    /// The number of the Service's EndpointSlices in the current view, including any that
    /// contribute no backend (no endpoints, no usable port or address).
    pub slices: usize,
    /// Errors of the list and watch calls (each is retried after a backoff).
    pub errors: u64,
    /// The most recent error, if there has been one.
    pub last_error: Option<WatchFailure>,
}

/// The backends published and their states, by address.
type View = BTreeMap<Address, (Backend, Enablement)>;

/// The published set and the record of its changes.
#[derive(Debug)]
struct Published {
    /// `None` before the first list.
    view: Option<View>,
    log: ChangeLog,
}

/// The state the watch task and the discovery handles share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) namespace: String,
    pub(crate) service: String,
    pub(crate) notifier: ChangeNotifier,
    published: Mutex<Published>,
    status: watch::Sender<WatchStatus>,
}

impl Shared {
    pub(crate) fn new(namespace: String, service: String) -> Self {
        Shared {
            namespace,
            service,
            notifier: ChangeNotifier::new(),
            published: Mutex::new(Published {
                view: None,
                log: ChangeLog::default(),
            }),
            status: watch::Sender::new(WatchStatus::default()),
        }
    }

    fn published(&self) -> MutexGuard<'_, Published> {
        // Every critical section applies one event's changes to the view and records them in the
        // log, neither of which can stop halfway but by a failed allocation (an abort), so a
        // poisoned lock still guards a consistent set.
        self.published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The whole published set, `None` before the first list.
    pub(crate) fn discovered(&self) -> Option<Discovered> {
        self.published().view.as_ref().map(whole)
    }

    /// What changed since version `since` of the published set (the whole set when the log
    /// cannot tell), `None` before the first list.
    pub(crate) fn answer(&self, since: Option<u64>) -> Option<Answer> {
        let published = self.published();
        let view = published.view.as_ref()?;
        Some(published.log.answer(since, || whole(view)))
    }

    pub(crate) fn status(&self) -> WatchStatus {
        self.status.borrow().clone()
    }

    pub(crate) fn status_receiver(&self) -> watch::Receiver<WatchStatus> {
        self.status.subscribe()
    }

    /// Publishes one event's changes of the merged set (the store's, complete) as one version,
    /// and signals the load balancer, when there are any or this is the first list. Returns
    /// whether a version was published.
    pub(crate) fn publish(&self, changes: Vec<Change>, slices: usize, list_done: bool) -> bool {
        let (changed, backends) = {
            let mut published = self.published();
            let Published { view, log } = &mut *published;
            let first = view.is_none();
            let view = view.get_or_insert_with(View::new);
            for change in &changes {
                apply(view, change);
            }
            let changed = first || !changes.is_empty();
            if changes.len() > DEFAULT_CHANGE_LOG_CAPACITY {
                // More than the log keeps: asked about an earlier version, it would answer the
                // whole set anyway.
                log.reset();
            } else {
                log.commit(changes);
            }
            (changed, view.len())
        };
        self.status.send_modify(|s| {
            s.listed = true;
            s.backends = backends;
            s.slices = slices;
            s.lists += u64::from(list_done);
            s.updates += u64::from(changed);
        });
        if changed {
            tracing::info!(
                namespace = %self.namespace,
                service = %self.service,
                backends,
                slices,
                "kubernetes endpoints changed"
            );
            self.notifier.notify();
        }
        changed
    }

    pub(crate) fn record_error(&self, failure: WatchFailure) {
        self.status.send_modify(|s| {
            s.errors += 1;
            s.last_error = Some(failure);
        });
    }

    /// The addresses published, in order, `None` before the first list.
    #[cfg(test)]
    pub(crate) fn addrs(&self) -> Option<Vec<String>> {
        let published = self.published();
        let view = published.view.as_ref()?;
        Some(view.keys().map(ToString::to_string).collect())
    }
}

/// Applies one of the store's changes to the view.
fn apply(view: &mut View, change: &Change) {
    match change {
        Change::Upsert(backend) => match view.entry(backend.addr.clone()) {
            Slot::Occupied(mut slot) => slot.get_mut().0 = backend.clone(),
            Slot::Vacant(slot) => {
                // The store follows every new backend's upsert with its enablement.
                slot.insert((backend.clone(), Enablement::Enabled));
            }
        },
        Change::Remove(addr) => {
            view.remove(addr);
        }
        Change::Enablement(addr, enablement) => {
            if let Some((_, state)) = view.get_mut(addr) {
                *state = *enablement;
            }
        }
        // The store makes no other kind of change.
        _ => {}
    }
}

/// The whole view as one answer: every backend, with its enablement.
fn whole(view: &View) -> Discovered {
    let mut discovered = Discovered::new(view.values().map(|(backend, _)| backend.clone()));
    discovered.enablement = view
        .iter()
        .map(|(addr, (_, enablement))| (addr.clone(), *enablement))
        .collect();
    discovered
}
