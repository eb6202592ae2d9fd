//! [`DnsDiscovery`]: the discovery source, its shared state and its refresh task.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use hickory_resolver::TokioResolver;
use lb_core::{
    Answer, BoxError, Change, ChangeLog, ChangeNotifier, ChangeSubscription, Discovered,
    ServiceDiscovery,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::builder::{DnsDiscoveryBuilder, Settings};
use crate::entry::{Entry, to_discovered};
use crate::error::DnsError;
use crate::monitor::{DnsMonitor, DnsStats};
use crate::resolve::{Resolved, resolve};
use crate::resolver::Failure;
use crate::schedule::Schedule;

/// A discovery source that follows a DNS name: the addresses of a host name (A/AAAA) or the
/// targets of an SRV record set, re-resolved when the TTLs of the answer run out.
///
/// Build one with [`DnsDiscovery::a_aaaa`] or [`DnsDiscovery::srv`], give it to
/// [`Backends::new`](lb_core::Backends::new), and run the load balancer's background service:
/// the source tells the load balancer when the answer changes, so no polling is needed
/// (`update_frequency` can stay `None`). See the crate documentation for the rules.
///
/// **The refresh task** starts on the first [`discover`](ServiceDiscovery::discover) or
/// [`subscribe`](ServiceDiscovery::subscribe) called inside a tokio runtime, runs on that
/// runtime, and stops when the `DnsDiscovery` is dropped. If that runtime shuts down, the next
/// `discover` or `subscribe` starts a new task on the caller's runtime.
pub struct DnsDiscovery {
    shared: Arc<Shared>,
    task: Mutex<Option<AbortOnDrop>>,
}

/// Aborts the refresh task when the discovery source is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The state shared by the source, its task and its monitors.
pub(crate) struct Shared {
    pub(crate) name: String,
    settings: Settings,
    resolver: TokioResolver,
    pub(crate) notifier: ChangeNotifier,
    state: Mutex<State>,
    /// The number of refreshes done, for waiters on the first answer and on monitors.
    pub(crate) refreshes: watch::Sender<u64>,
}

#[derive(Default)]
pub(crate) struct State {
    /// The current answer: `None` until the first answer with records (or the first empty set
    /// published after the negative grace period).
    pub(crate) current: Option<(Vec<Entry>, Discovered)>,
    /// Every change of the answer, numbered, for `discover_changes`.
    pub(crate) log: ChangeLog,
    pub(crate) stats: DnsStats,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values are replaced whole with values computed before locking; a panic while
    // one is held cannot leave it half-written in a way that matters, so a poisoned lock is used.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DnsDiscovery {
    /// Follows the A/AAAA records of `host`, each address a backend on `port`.
    ///
    /// `host` is a DNS name (`backend.example.com`; end it with a dot to skip the system's
    /// search domains) or an IP address (one fixed backend, no lookups).
    pub fn a_aaaa(host: impl Into<String>, port: u16) -> DnsDiscoveryBuilder {
        DnsDiscoveryBuilder::host(host.into(), port)
    }

    /// Follows the SRV records of `name` (for example `_http._tcp.service.example.com`): every
    /// address of every target is a backend on the record's port, weighted by the record.
    pub fn srv(name: impl Into<String>) -> DnsDiscoveryBuilder {
        DnsDiscoveryBuilder::srv(name.into())
    }

    pub(crate) fn from_settings(settings: Settings, resolver: TokioResolver) -> Self {
        DnsDiscovery {
            shared: Arc::new(Shared {
                name: settings.target.name(),
                settings,
                resolver,
                notifier: ChangeNotifier::new(),
                state: Mutex::new(State::default()),
                refreshes: watch::Sender::new(0),
            }),
            task: Mutex::new(None),
        }
    }

    /// A handle for watching this source after it has been given to a load balancer:
    /// statistics, the current answer, change notifications.
    pub fn monitor(&self) -> DnsMonitor {
        DnsMonitor::new(Arc::clone(&self.shared))
    }

    /// Starts the refresh task if it is not running and a tokio runtime is available.
    fn ensure_started(&self) {
        let mut task = lock(&self.task);
        if task.as_ref().is_some_and(|t| !t.0.is_finished()) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(&self.shared);
        *task = Some(AbortOnDrop(runtime.spawn(refresh_loop(weak))));
    }
}

/// Refreshes until the source is dropped. The task holds the shared state only while a refresh
/// runs, and is aborted when the source is dropped.
async fn refresh_loop(shared: Weak<Shared>) {
    let Some(policy) = shared.upgrade().map(|s| s.settings.policy) else {
        return;
    };
    let mut schedule = Schedule::new(policy);
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let outcome = strong.refresh().await;
        let next = strong.record(outcome, &mut schedule, Instant::now());
        drop(strong);
        tokio::time::sleep_until(next).await;
    }
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// One refresh, under the refresh deadline.
    async fn refresh(&self) -> Result<Resolved, Failure> {
        // The source is the cache of its answer: every refresh asks the nameservers.
        self.resolver.clear_cache();
        let previous = self
            .state()
            .current
            .as_ref()
            .map(|(entries, _)| entries.clone())
            .unwrap_or_default();
        let timeout = self.settings.refresh_timeout;
        let work = resolve(
            &self.resolver,
            &self.settings.target,
            self.settings.lookups,
            &previous,
        );
        match tokio::time::timeout(timeout, work).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Failure::new(DnsError::RefreshTimeout {
                name: self.name.clone(),
                timeout,
            })),
        }
    }

    /// Applies a refresh's outcome: publishes a changed answer (and notifies), counts, logs.
    /// Returns when to refresh next.
    fn record(
        &self,
        outcome: Result<Resolved, Failure>,
        schedule: &mut Schedule,
        now: Instant,
    ) -> Instant {
        let mut state = self.state();
        state.stats.refreshes += 1;
        let (next, changed) = match outcome {
            Ok(resolved) => {
                state.stats.dropped_records += resolved.dropped;
                state.stats.unresolved_targets += resolved.unresolved;
                let partial = resolved.partial.is_some();
                if let Some(error) = resolved.partial {
                    state.stats.failures += 1;
                    state.stats.last_error = Some(error);
                }
                let next = schedule.on_records(now, resolved.ttl, partial);
                let changed = replace(&mut state, resolved.entries);
                (next, changed)
            }
            Err(Failure {
                error,
                negative_ttl,
            }) if error.is_negative() => {
                state.stats.negative_answers += 1;
                let (expired, next) = schedule.on_negative(now, negative_ttl);
                tracing::warn!(name = %self.name, %error, grace_over = expired, "negative dns answer");
                state.stats.last_error = Some(error);
                let changed = expired && replace(&mut state, Vec::new());
                if changed {
                    state.stats.emptied += 1;
                }
                (next, changed)
            }
            Err(Failure { error, .. }) => {
                state.stats.failures += 1;
                tracing::warn!(name = %self.name, %error, "dns refresh failed; keeping the last good set");
                state.stats.last_error = Some(error);
                (schedule.on_failure(now), false)
            }
        };
        state.stats.refresh_interval = Some(next.saturating_duration_since(now));
        let refreshes = state.stats.refreshes;
        drop(state);
        if changed {
            self.notifier.notify();
        }
        self.refreshes.send_replace(refreshes);
        next
    }
}

/// The changes from `old` to `new` (each sorted by address): one merge.
fn diff(old: &[Entry], new: &[Entry]) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut before = old.iter().peekable();
    for e in new {
        while let Some(gone) = before.next_if(|o| o.addr < e.addr) {
            changes.push(Change::Remove(gone.addr.into()));
        }
        match before.next_if(|o| o.addr == e.addr) {
            Some(o) if o == e => {}
            _ => changes.push(Change::Upsert(e.to_backend())),
        }
    }
    changes.extend(before.map(|gone| Change::Remove(gone.addr.into())));
    changes
}

/// Replaces the current answer when `entries` differs from it, recording the difference in the
/// change log. Returns whether it changed.
fn replace(state: &mut State, mut entries: Vec<Entry>) -> bool {
    entries.sort();
    if state
        .current
        .as_ref()
        .is_some_and(|(current, _)| *current == entries)
    {
        return false;
    }
    let old = state.current.as_ref().map_or(&[][..], |(e, _)| &e[..]);
    let changes = diff(old, &entries);
    state.log.commit(changes);
    let discovered = to_discovered(&entries);
    tracing::info!(backends = entries.len(), "dns answer changed");
    state.current = Some((entries, discovered));
    state.stats.changes += 1;
    true
}

#[lb_core::async_trait]
impl ServiceDiscovery for DnsDiscovery {
    /// The current answer. The first call waits for the first refresh; while no answer has
    /// been found yet, it returns the last error (the load balancer retries, and is told as
    /// soon as a refresh finds backends).
    async fn discover(&self) -> Result<Discovered, BoxError> {
        self.first_refresh().await;
        let state = self.shared.state();
        self.current(&state).cloned()
    }

    /// The changes since answer `since`, from the log of the answers' differences: an unchanged
    /// refresh answers [`Answer::Unchanged`], so the load balancer publishes nothing.
    async fn discover_changes(&self, since: Option<u64>) -> Result<Answer, BoxError> {
        self.first_refresh().await;
        let state = self.shared.state();
        let set = self.current(&state)?;
        // The set and its number read under one lock, so the number is the set's.
        Ok(state.log.answer(since, || set.clone()))
    }

    fn subscribe(&self) -> Option<ChangeSubscription> {
        self.ensure_started();
        Some(self.shared.notifier.subscribe())
    }
}

impl DnsDiscovery {
    /// Waits for the first refresh (bounded by the refresh deadline) when there is no answer
    /// yet.
    async fn first_refresh(&self) {
        self.ensure_started();
        let mut refreshes = self.shared.refreshes.subscribe();
        if self.shared.state().current.is_none() && *refreshes.borrow() == 0 {
            // Bounded: a refresh ends within its deadline. The sender lives in `shared`, which
            // `self` keeps alive, so the channel cannot close while waiting.
            let limit = self
                .shared
                .settings
                .refresh_timeout
                .saturating_add(std::time::Duration::from_secs(1));
            let _ = tokio::time::timeout(limit, refreshes.wait_for(|n| *n > 0)).await;
        }
    }

    /// The current answer, or the error that explains its absence.
    fn current<'a>(&self, state: &'a State) -> Result<&'a Discovered, BoxError> {
        match (&state.current, &state.stats.last_error) {
            (Some((_, discovered)), _) => Ok(discovered),
            (None, Some(error)) => Err(Box::new(error.clone())),
            (None, None) => Err(Box::new(DnsError::RefreshTimeout {
                name: self.shared.name.clone(),
                timeout: self.shared.settings.refresh_timeout,
            })),
        }
    }
}

impl fmt::Debug for DnsDiscovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsDiscovery")
            .field("name", &self.shared.name)
            .field(
                "running",
                &lock(&self.task)
                    .as_ref()
                    .is_some_and(|t| !t.0.is_finished()),
            )
            .finish_non_exhaustive()
    }
}
