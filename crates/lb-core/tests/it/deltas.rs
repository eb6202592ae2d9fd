//! Updates from a source that answers what changed: the load balancer asks with the number of
//! the answer it holds, applies a delta in place, publishes nothing for an unchanged answer,
//! and offers the change to the strategy.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use lb_core::{
    Answer, Backend, BackendSelection, Backends, BoxError, Delta, Discovered, LoadBalancer,
    ServiceDiscovery, SetChange, Zone, ZoneRouting,
};

use crate::support::{Rotate, RotateIter};

fn backend(port: u16) -> Backend {
    Backend::from(std::net::SocketAddr::from(([10, 0, 0, 1], port)))
}

/// A source with numbered versions of its list; it answers changes between versions.
#[derive(Clone, Default)]
struct Versioned {
    inner: Arc<Mutex<VersionedInner>>,
}

#[derive(Default)]
struct VersionedInner {
    versions: Vec<Vec<Backend>>,
    asked: Vec<Option<u64>>,
}

impl Versioned {
    fn push(&self, list: Vec<Backend>) {
        self.inner.lock().unwrap().versions.push(list);
    }

    fn asked(&self) -> Vec<Option<u64>> {
        self.inner.lock().unwrap().asked.clone()
    }
}

#[lb_core::async_trait]
impl ServiceDiscovery for Versioned {
    async fn discover(&self) -> Result<Discovered, BoxError> {
        let inner = self.inner.lock().unwrap();
        Ok(Discovered::new(
            inner.versions.last().cloned().unwrap_or_default(),
        ))
    }

    async fn discover_changes(&self, since: Option<u64>) -> Result<Answer, BoxError> {
        let mut inner = self.inner.lock().unwrap();
        inner.asked.push(since);
        let latest = inner.versions.len() as u64;
        let list = inner.versions.last().cloned().unwrap_or_default();
        Ok(match since {
            Some(v) if v == latest => Answer::Unchanged,
            Some(v) if v >= 1 && v < latest => {
                let old = &inner.versions[v as usize - 1];
                let mut delta = Delta::new();
                for b in &list {
                    let same = |o: &Backend| {
                        o.addr == b.addr
                            && o.weight == b.weight
                            && o.ext.get::<Zone>() == b.ext.get::<Zone>()
                    };
                    if !old.iter().any(same) {
                        delta = delta.with_upsert(b.clone());
                    }
                }
                for o in old {
                    if !list.iter().any(|b| b.addr == o.addr) {
                        delta = delta.with_removal(o.addr.clone());
                    }
                }
                Answer::Delta {
                    delta,
                    version: latest,
                }
            }
            _ => Answer::Full {
                set: Discovered::new(list),
                version: Some(latest),
            },
        })
    }
}

static BUILDS: AtomicUsize = AtomicUsize::new(0);
static CHANGES: AtomicUsize = AtomicUsize::new(0);
static LAST_CHANGE: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Rotate, counting full builds and changes applied in place (with the change's lists).
struct Counting(Rotate);

impl BackendSelection for Counting {
    type Config = ();
    type Iter<'a> = RotateIter;

    fn build(backends: &[Backend], c: &()) -> Result<Self, BoxError> {
        BUILDS.fetch_add(1, Ordering::SeqCst);
        Ok(Counting(Rotate::build(backends, c)?))
    }

    fn apply_change(
        &self,
        backends: &[Backend],
        change: &SetChange<'_>,
        c: &(),
    ) -> Option<Result<Self, BoxError>> {
        CHANGES.fetch_add(1, Ordering::SeqCst);
        let mut seen = LAST_CHANGE.lock().unwrap();
        seen.clear();
        seen.extend(change.removed());
        seen.push(usize::MAX);
        seen.extend(change.added());
        seen.push(usize::MAX);
        seen.extend(change.changed());
        Some(Rotate::build(backends, c).map(Counting))
    }

    fn iter(&self, key: &[u8]) -> RotateIter {
        self.0.iter(key)
    }
}

#[tokio::test(start_paused = true)]
async fn a_source_that_tracks_its_changes_is_asked_for_them_and_they_are_applied_in_place() {
    let source = Versioned::default();
    source.push((1..=4).map(backend).collect());
    let lb = LoadBalancer::<Counting>::from_backends(Backends::new(Box::new(source.clone())));
    lb.update().await.unwrap();
    assert_eq!(lb.backends().get_backend().len(), 4);
    let kept = Arc::clone(
        lb.backends()
            .get_backend()
            .state_of(&backend(2).addr)
            .unwrap(),
    );
    let (builds, changes) = (
        BUILDS.load(Ordering::SeqCst),
        CHANGES.load(Ordering::SeqCst),
    );

    // Version 2: backend 1 leaves, 5 joins, 3's weight changes.
    source.push(vec![
        backend(2),
        backend(3).with_weight(4),
        backend(4),
        backend(5),
    ]);
    lb.update().await.unwrap();
    let set = lb.backends().get_backend();
    let addrs: Vec<_> = set.iter().map(|b| b.addr.to_string()).collect();
    assert_eq!(
        addrs,
        ["10.0.0.1:2", "10.0.0.1:3", "10.0.0.1:4", "10.0.0.1:5"]
    );
    assert_eq!(set[1].weight, 4);
    assert!(Arc::ptr_eq(&kept, set.state_of(&backend(2).addr).unwrap()));
    assert_eq!(BUILDS.load(Ordering::SeqCst), builds, "no full build");
    assert_eq!(CHANGES.load(Ordering::SeqCst), changes + 1);
    // Removed old index 0; added new index 3; changed new index 1.
    assert_eq!(
        *LAST_CHANGE.lock().unwrap(),
        [0, usize::MAX, 3, usize::MAX, 1]
    );

    // Nothing changed: nothing is published.
    let published = lb.stats().published;
    lb.update().await.unwrap();
    assert_eq!(lb.stats().published, published);

    // A set published from elsewhere: the next question carries no number.
    lb.apply(vec![backend(9)]).unwrap();
    lb.update().await.unwrap();
    assert_eq!(source.asked(), [None, Some(1), Some(2), None]);
    assert_eq!(lb.backends().get_backend().len(), 4);
}

static PLACED_BUILDS: AtomicUsize = AtomicUsize::new(0);

/// Rotate, counting every build and every change applied in place (its own counter: tests run
/// at once).
struct Placed(Rotate);

impl BackendSelection for Placed {
    type Config = ();
    type Iter<'a> = RotateIter;

    fn build(backends: &[Backend], c: &()) -> Result<Self, BoxError> {
        PLACED_BUILDS.fetch_add(1, Ordering::SeqCst);
        Ok(Placed(Rotate::build(backends, c)?))
    }

    fn apply_change(
        &self,
        backends: &[Backend],
        _change: &SetChange<'_>,
        c: &(),
    ) -> Option<Result<Self, BoxError>> {
        Some(Self::build(backends, c))
    }

    fn iter(&self, key: &[u8]) -> RotateIter {
        self.0.iter(key)
    }
}

#[tokio::test(start_paused = true)]
async fn a_change_that_no_selector_reads_keeps_the_selectors() {
    let source = Versioned::default();
    let zoned = |port: u16, zone: &str| backend(port).with_ext(Zone::new(zone));
    source.push(vec![zoned(1, "a"), zoned(2, "a"), zoned(3, "b")]);
    let lb = LoadBalancer::<Placed>::from_backends(Backends::new(Box::new(source.clone())));
    lb.update().await.unwrap();
    let builds = || PLACED_BUILDS.load(Ordering::SeqCst);
    let before = builds();

    // Backend 2 moves to zone b: without zone-aware routing no selector reads zones, so the
    // selectors are kept, and the new set (with the new zone) is published.
    source.push(vec![zoned(1, "a"), zoned(2, "b"), zoned(3, "b")]);
    lb.update().await.unwrap();
    assert_eq!(builds(), before, "no build");
    let set = lb.backends().get_backend();
    assert_eq!(set[1].ext.get::<Zone>(), Some(&Zone::new("b")));

    // A weight change is read by the selectors: they are built again.
    source.push(vec![
        zoned(1, "a"),
        zoned(2, "b").with_weight(3),
        zoned(3, "b"),
    ]);
    lb.update().await.unwrap();
    assert!(builds() > before, "the weight change was built");

    // With zone-aware routing on, a zone change divides the set anew: built again.
    lb.set_zone_routing(Some(ZoneRouting::new("a"))).unwrap();
    let routed = builds();
    source.push(vec![
        zoned(1, "a"),
        zoned(2, "a").with_weight(3),
        zoned(3, "b"),
    ]);
    lb.update().await.unwrap();
    assert!(builds() > routed, "the zone change was built");
    let set = lb.backends().get_backend();
    assert_eq!(set[1].ext.get::<Zone>(), Some(&Zone::new("a")));
}
