//! Test doubles that drive lb-core through its public traits: a rotating strategy, a scripted
//! health check and a scripted discovery source. They are the application side of the
//! contract (lb-core cannot depend on the real strategies, probes or sources, which depend on it).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lb_core::{
    Address, Backend, BackendIter, BackendSelection, BoxError, ChangeNotifier, ChangeSubscription,
    Discovered, HealthCheck, ServiceDiscovery,
};

/// Round robin over indices: each `iter` starts one further and offers every index once.
pub(crate) struct Rotate {
    len: usize,
    next: AtomicUsize,
}

pub(crate) struct RotateIter {
    pos: usize,
    left: usize,
    len: usize,
}

impl BackendIter for RotateIter {
    fn next(&mut self) -> Option<usize> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let i = self.pos;
        self.pos += 1;
        if self.pos == self.len {
            self.pos = 0;
        }
        Some(i)
    }
}

impl BackendSelection for Rotate {
    type Config = ();
    type Iter<'a> = RotateIter;
    fn build(backends: &[Backend], _: &()) -> Result<Self, BoxError> {
        Ok(Rotate {
            len: backends.len(),
            next: AtomicUsize::new(0),
        })
    }
    fn iter(&self, _key: &[u8]) -> RotateIter {
        let pos = if self.len == 0 {
            0
        } else {
            self.next.fetch_add(1, Ordering::Relaxed) % self.len
        };
        RotateIter {
            pos,
            left: self.len,
            len: self.len,
        }
    }
}

/// Always offers the last index only: a selector built for a set of another size would be seen
/// at once (an index out of range, or a pick that is not the last of its set).
pub(crate) struct LastOnly(usize);
pub(crate) struct Once(Option<usize>);
impl BackendIter for Once {
    fn next(&mut self) -> Option<usize> {
        self.0.take()
    }
}
impl BackendSelection for LastOnly {
    type Config = ();
    type Iter<'a> = Once;
    fn build(backends: &[Backend], _: &()) -> Result<Self, BoxError> {
        Ok(LastOnly(backends.len()))
    }
    fn iter(&self, _key: &[u8]) -> Once {
        Once(self.0.checked_sub(1))
    }
}

/// A strategy whose build fails above a size, like a hash ring with too many points.
pub(crate) struct Limited(Rotate);
impl BackendSelection for Limited {
    type Config = ();
    type Iter<'a> = RotateIter;
    fn build(backends: &[Backend], c: &()) -> Result<Self, BoxError> {
        if backends.len() > 3 {
            return Err(format!("{} backends is more than 3", backends.len()).into());
        }
        Ok(Limited(Rotate::build(backends, c)?))
    }
    fn iter(&self, key: &[u8]) -> RotateIter {
        self.0.iter(key)
    }
}

/// A health check whose answer per address the test sets; it counts calls and concurrency.
#[derive(Clone, Default)]
pub(crate) struct ScriptedCheck {
    pub(crate) inner: Arc<CheckInner>,
}

#[derive(Default)]
pub(crate) struct CheckInner {
    pub(crate) down: Mutex<HashSet<Address>>,
    pub(crate) calls: Mutex<HashMap<Address, usize>>,
    pub(crate) changes: Mutex<Vec<(Address, bool)>>,
    pub(crate) delay: Mutex<Option<Duration>>,
    pub(crate) panic_on: Mutex<HashSet<Address>>,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) max_in_flight: AtomicUsize,
    pub(crate) success_threshold: AtomicUsize,
    pub(crate) failure_threshold: AtomicUsize,
}

impl ScriptedCheck {
    pub(crate) fn new(success_threshold: usize, failure_threshold: usize) -> Self {
        let c = ScriptedCheck::default();
        c.inner
            .success_threshold
            .store(success_threshold, Ordering::Relaxed);
        c.inner
            .failure_threshold
            .store(failure_threshold, Ordering::Relaxed);
        c
    }
    pub(crate) fn set_down(&self, addr: &str, down: bool) {
        let addr: Address = addr.parse().unwrap();
        let mut set = self.inner.down.lock().unwrap();
        if down {
            set.insert(addr);
        } else {
            set.remove(&addr);
        }
    }
    pub(crate) fn set_delay(&self, delay: Option<Duration>) {
        *self.inner.delay.lock().unwrap() = delay;
    }
    pub(crate) fn calls(&self, addr: &str) -> usize {
        let addr: Address = addr.parse().unwrap();
        self.inner
            .calls
            .lock()
            .unwrap()
            .get(&addr)
            .copied()
            .unwrap_or(0)
    }
    pub(crate) fn total_calls(&self) -> usize {
        self.inner.calls.lock().unwrap().values().sum()
    }
    pub(crate) fn changes(&self) -> Vec<(String, bool)> {
        self.inner
            .changes
            .lock()
            .unwrap()
            .iter()
            .map(|(a, h)| (a.to_string(), *h))
            .collect()
    }
}

#[lb_core::async_trait]
impl HealthCheck for ScriptedCheck {
    async fn check(&self, target: &Backend) -> Result<(), BoxError> {
        *self
            .inner
            .calls
            .lock()
            .unwrap()
            .entry(target.addr.clone())
            .or_default() += 1;
        let now = self.inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let delay = *self.inner.delay.lock().unwrap();
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        self.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.inner.panic_on.lock().unwrap().contains(&target.addr) {
            panic!("scripted panic for {}", target.addr);
        }
        if self.inner.down.lock().unwrap().contains(&target.addr) {
            return Err(format!("connection to {} refused", target.addr).into());
        }
        Ok(())
    }

    async fn health_status_change(&self, target: &Backend, healthy: bool) {
        self.inner
            .changes
            .lock()
            .unwrap()
            .push((target.addr.clone(), healthy));
    }

    fn health_threshold(&self, success: bool) -> usize {
        if success {
            self.inner.success_threshold.load(Ordering::Relaxed)
        } else {
            self.inner.failure_threshold.load(Ordering::Relaxed)
        }
    }
}

/// A discovery source whose answers the test scripts: a current answer or an error; it counts
/// calls and can push change signals.
#[derive(Clone, Default)]
pub(crate) struct ScriptedDiscovery {
    pub(crate) inner: Arc<DiscoveryInner>,
}

#[derive(Default)]
pub(crate) struct DiscoveryInner {
    pub(crate) answer: Mutex<Option<Result<Vec<Backend>, String>>>,
    pub(crate) calls: AtomicUsize,
    pub(crate) notifier: Mutex<Option<ChangeNotifier>>,
}

impl ScriptedDiscovery {
    pub(crate) fn answering(addrs: &[&str]) -> Self {
        let d = ScriptedDiscovery::default();
        d.set(addrs);
        d
    }
    pub(crate) fn failing(why: &str) -> Self {
        let d = ScriptedDiscovery::default();
        d.fail(why);
        d
    }
    /// Makes the source a push source.
    pub(crate) fn with_notifier(self) -> Self {
        *self.inner.notifier.lock().unwrap() = Some(ChangeNotifier::new());
        self
    }
    pub(crate) fn set(&self, addrs: &[&str]) {
        let backends = addrs.iter().map(|a| Backend::new(a).unwrap()).collect();
        *self.inner.answer.lock().unwrap() = Some(Ok(backends));
        if let Some(n) = &*self.inner.notifier.lock().unwrap() {
            n.notify();
        }
    }
    pub(crate) fn fail(&self, why: &str) {
        *self.inner.answer.lock().unwrap() = Some(Err(why.to_owned()));
    }
    pub(crate) fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }
}

#[lb_core::async_trait]
impl ServiceDiscovery for ScriptedDiscovery {
    async fn discover(&self) -> Result<Discovered, BoxError> {
        self.inner.calls.fetch_add(1, Ordering::SeqCst);
        match self.inner.answer.lock().unwrap().clone() {
            Some(Ok(backends)) => Ok(Discovered::new(backends)),
            Some(Err(why)) => Err(why.into()),
            None => Err("no answer scripted".into()),
        }
    }

    fn subscribe(&self) -> Option<ChangeSubscription> {
        self.inner
            .notifier
            .lock()
            .unwrap()
            .as_ref()
            .map(ChangeNotifier::subscribe)
    }
}

/// The addresses of a backend list, as strings.
pub(crate) fn addrs(list: &[Backend]) -> Vec<String> {
    list.iter().map(|b| b.addr.to_string()).collect()
}

/// Offers index `config % len` first, then the rest in order: a strategy with a configuration,
/// to tell selectors of one group apart.
pub(crate) struct StartAt {
    start: usize,
    len: usize,
}
impl BackendSelection for StartAt {
    type Config = usize;
    type Iter<'a> = RotateIter;
    fn build(backends: &[Backend], start: &usize) -> Result<Self, BoxError> {
        Ok(StartAt {
            start: *start,
            len: backends.len(),
        })
    }
    fn iter(&self, _key: &[u8]) -> RotateIter {
        RotateIter {
            pos: if self.len == 0 {
                0
            } else {
                self.start % self.len
            },
            left: self.len,
            len: self.len,
        }
    }
}

/// [`Rotate`] declaring that it reads load, as least request does: its picks count in flight.
pub(crate) struct LoadAware(Rotate);
impl BackendSelection for LoadAware {
    type Config = ();
    type Iter<'a> = RotateIter;
    const NEEDS_LOAD: bool = true;
    fn build(backends: &[Backend], c: &()) -> Result<Self, BoxError> {
        Ok(LoadAware(Rotate::build(backends, c)?))
    }
    fn iter(&self, key: &[u8]) -> RotateIter {
        self.0.iter(key)
    }
}
