//! [`discover`]: a load balancer's backends as a `tower::discover` stream of changes, for
//! tower's own balancer and tonic's `Channel::balance_channel`.

use std::collections::{BTreeSet, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use lb_core::{
    Address, Backend, BackendSelection, BackendSet, BackendState, Enablement, EnablementChanges,
    Generations, HealthWatch, LoadBalancer,
};
use tower::discover::Change;

/// The backends of `lb` as a stream of [`Change`]s keyed by address (a
/// [`tower::discover::Discover`]): a backend is inserted when it is in the published set,
/// healthy and enabled, and removed when it leaves the set, turns unhealthy, or is disabled or
/// drained; it is inserted again when it recovers. So tower's p2c balancer and tonic's
/// `Channel::balance_channel` get lb's discovery (static, DNS, Kubernetes) and active health
/// checks. The stream starts with an insert per present backend and ends when the load balancer
/// is dropped.
///
/// Passive-health ejections are not followed: they come from requests picked by lb itself,
/// which the balancer consuming this stream does not make.
///
/// See [`discover_with`] to turn each backend into an endpoint or a service.
pub fn discover<S: BackendSelection>(lb: &LoadBalancer<S>) -> Discover<fn(&Backend) -> Backend> {
    discover_with(lb, Backend::clone)
}

/// [`discover`], with each inserted backend turned into what the consumer wants by `endpoint`:
/// a tonic `Endpoint`, or a tower service (with a `Load`) for tower's p2c balancer.
pub fn discover_with<S, F, T>(lb: &LoadBalancer<S>, endpoint: F) -> Discover<F>
where
    S: BackendSelection,
    F: FnMut(&Backend) -> T,
{
    Discover {
        sets: lb.generations(),
        health: Some(lb.backends().health_watch()),
        admin: Some(lb.backends().enablement_changes()),
        set: None,
        inserted: BTreeSet::new(),
        removals: VecDeque::new(),
        insertions: VecDeque::new(),
        endpoint,
    }
}

/// The stream [`discover`] and [`discover_with`] return: `Result<Change<Address, T>,
/// Infallible>` items.
pub struct Discover<F> {
    sets: Generations,
    health: Option<HealthWatch>,
    /// Changes of administrative state, which publish no new set.
    admin: Option<EnablementChanges>,
    /// The newest set seen.
    set: Option<Arc<BackendSet>>,
    /// The addresses inserted downstream and not removed since.
    inserted: BTreeSet<Address>,
    removals: VecDeque<Address>,
    /// Backends to insert, by index in `set`.
    insertions: VecDeque<Backend>,
    endpoint: F,
}

/// Whether a backend belongs downstream: healthy and enabled.
fn present(state: &BackendState) -> bool {
    state.is_healthy() && state.enablement() == Enablement::Enabled
}

impl<F> Discover<F> {
    /// Queues the changes that bring the consumer to `set`.
    fn follow(&mut self, set: Arc<BackendSet>) {
        let wanted: BTreeSet<&Address> = set
            .iter()
            .zip(set.states())
            .filter(|(_, state)| present(state))
            .map(|(backend, _)| &backend.addr)
            .collect();
        self.removals.clear();
        self.insertions.clear();
        for addr in &self.inserted {
            if !wanted.contains(addr) {
                self.removals.push_back(addr.clone());
            }
        }
        for (backend, state) in set.iter().zip(set.states()) {
            if present(state) && !self.inserted.contains(&backend.addr) {
                self.insertions.push_back(backend.clone());
            }
        }
        self.set = Some(set);
    }

    /// Queues the change that a health event about `addr` calls for.
    fn recheck(&mut self, addr: &Address) {
        let Some(set) = &self.set else {
            return;
        };
        let Some(i) = set.index_of(addr) else {
            return;
        };
        let (Some(backend), Some(state)) = (set.get(i), set.state(i)) else {
            return;
        };
        let inserted = self.inserted.contains(addr);
        if present(state) && !inserted {
            self.removals.retain(|a| a != addr);
            self.insertions.push_back(backend.clone());
        } else if !present(state) && inserted {
            self.insertions.retain(|b| &b.addr != addr);
            self.removals.push_back(addr.clone());
        }
    }
}

impl<F, T> Stream for Discover<F>
where
    F: FnMut(&Backend) -> T + Unpin,
{
    type Item = Result<Change<Address, T>, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(addr) = this.removals.pop_front() {
                if this.inserted.remove(&addr) {
                    return Poll::Ready(Some(Ok(Change::Remove(addr))));
                }
                continue;
            }
            if let Some(backend) = this.insertions.pop_front() {
                if this.inserted.insert(backend.addr.clone()) {
                    let endpoint = (this.endpoint)(&backend);
                    return Poll::Ready(Some(Ok(Change::Insert(backend.addr, endpoint))));
                }
                continue;
            }
            match Pin::new(&mut this.sets).poll_next(cx) {
                Poll::Ready(Some(set)) => {
                    this.follow(set);
                    continue;
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {}
            }
            if let Some(admin) = &mut this.admin {
                match Pin::new(admin).poll_next(cx) {
                    Poll::Ready(Some(())) => {
                        if let Some(set) = this.set.clone() {
                            this.follow(set);
                        }
                        continue;
                    }
                    Poll::Ready(None) => this.admin = None,
                    Poll::Pending => {}
                }
            }
            let Some(health) = &mut this.health else {
                return Poll::Pending;
            };
            match Pin::new(health).poll_next(cx) {
                Poll::Ready(Some(event)) => this.recheck(&event.backend.addr),
                Poll::Ready(None) => this.health = None,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<F> fmt::Debug for Discover<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discover")
            .field("inserted", &self.inserted)
            .field("pending", &(self.removals.len() + self.insertions.len()))
            .finish_non_exhaustive()
    }
}
