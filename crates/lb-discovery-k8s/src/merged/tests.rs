//! The incremental merged set against the full recomputation the source used to make on every
//! event, and the published changes against the set they must lead to.

use std::collections::BTreeMap;

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher::Event;
use lb_core::{Answer, Enablement, Zone};
use proptest::prelude::*;

use super::*;
use crate::limits::Limits;
use crate::meta::EndpointMeta;
use crate::port::Port;
use crate::shared::Shared;
use crate::slice::{SERVICE_NAME_LABEL, entries};
use crate::store::Store;
use crate::watch::step;

/// One endpoint: the indices of its addresses (in `10.0.0.1..=5`), its conditions (0 ready,
/// 1 terminating, 2 not ready) and its zone (0 none, else `zone-1` or `zone-2`).
type Ep = (Vec<u8>, u8, u8);

fn endpoint((ips, state, zone): &Ep) -> Endpoint {
    let (ready, serving, terminating) = match state {
        0 => (true, true, false),
        1 => (false, true, true),
        _ => (false, false, false),
    };
    Endpoint {
        addresses: ips.iter().map(|i| format!("10.0.0.{}", i + 1)).collect(),
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        zone: (*zone > 0).then(|| format!("zone-{zone}")),
        ..Endpoint::default()
    }
}

fn slice(name: &str, endpoints: &[Ep]) -> EndpointSlice {
    EndpointSlice {
        address_type: "IPv4".into(),
        endpoints: endpoints.iter().map(endpoint).collect(),
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(
                SERVICE_NAME_LABEL.to_owned(),
                "web".to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        ports: Some(vec![EndpointPort {
            port: Some(80),
            ..EndpointPort::default()
        }]),
    }
}

/// The merged set by the rule as the source first wrote it, from the raw slices: every entry of
/// every slice (slices in name order), stably sorted by address and state, the first of each
/// address kept.
fn reference(slices: &BTreeMap<String, EndpointSlice>) -> Vec<Entry> {
    let mut all: Vec<Entry> = slices
        .values()
        .flat_map(|s| entries(s.clone(), "web", &Port::Only))
        .collect();
    all.sort_by_key(|e| {
        let rank = match e.enablement {
            Enablement::Enabled => 0,
            Enablement::Draining => 1,
            _ => 2,
        };
        (e.addr, rank)
    });
    all.dedup_by_key(|e| e.addr);
    all
}

/// What a reader of the published changes holds: per address, the metadata and zone of its
/// backend and its enablement.
type Mirror = BTreeMap<Address, (EndpointMeta, Option<String>, Enablement)>;

fn mirror_of(entries: &[Entry]) -> Mirror {
    entries
        .iter()
        .map(|e| {
            (
                Address::Inet(e.addr),
                (e.meta.clone(), e.meta.zone.clone(), e.enablement),
            )
        })
        .collect()
}

fn upsert(mirror: &mut Mirror, backend: &lb_core::Backend) {
    let meta = backend
        .ext
        .get::<EndpointMeta>()
        .cloned()
        .expect("every backend carries its metadata");
    let zone = backend.ext.get::<Zone>().map(|z| z.as_str().to_owned());
    let state = mirror
        .get(&backend.addr)
        .map_or(Enablement::Enabled, |s| s.2);
    mirror.insert(backend.addr.clone(), (meta, zone, state));
}

/// Follows the published set as the load balancer does: asks for the changes since the version
/// it holds and applies them (removals, then upserts, then states).
#[derive(Default)]
struct Reader {
    mirror: Mirror,
    version: Option<u64>,
    deltas: usize,
}

impl Reader {
    fn follow(&mut self, shared: &Shared) -> Option<Answer> {
        let answer = shared.answer(self.version)?;
        match &answer {
            Answer::Full { set, version } => {
                self.mirror.clear();
                for b in &set.backends {
                    upsert(&mut self.mirror, b);
                }
                for (addr, e) in &set.enablement {
                    self.mirror.get_mut(addr).expect("a state of a backend").2 = *e;
                }
                self.version = *version;
            }
            Answer::Delta { delta, version } => {
                for addr in &delta.remove {
                    self.mirror.remove(addr);
                }
                for b in &delta.upsert {
                    upsert(&mut self.mirror, b);
                }
                for (addr, e) in &delta.enablement {
                    self.mirror
                        .get_mut(addr)
                        .expect("a state of a backend in the set")
                        .2 = *e;
                }
                self.version = Some(*version);
                self.deltas += 1;
            }
            _ => {}
        }
        Some(answer)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Apply(u8, Vec<Ep>),
    Delete(u8),
    /// A complete list of these slices (a name twice: the later replaces the earlier).
    Relist(Vec<(u8, Vec<Ep>)>),
    /// A list that starts and never completes (the next list starts over).
    Abandon(Vec<(u8, Vec<Ep>)>),
}

const NAMES: [&str; 3] = ["web-a", "web-b", "web-c"];

fn ep() -> impl Strategy<Value = Ep> {
    (prop::collection::vec(0u8..5, 1..=2), 0u8..3, 0u8..3)
}

fn slice_spec() -> impl Strategy<Value = (u8, Vec<Ep>)> {
    (0u8..3, prop::collection::vec(ep(), 0..5))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => slice_spec().prop_map(|(n, eps)| Op::Apply(n, eps)),
        2 => (0u8..3).prop_map(Op::Delete),
        2 => prop::collection::vec(slice_spec(), 0..4).prop_map(Op::Relist),
        1 => prop::collection::vec(slice_spec(), 0..3).prop_map(Op::Abandon),
    ]
}

/// The events of `op`, and the slices the view holds after them (`model` before).
fn events(
    op: &Op,
    model: &BTreeMap<String, EndpointSlice>,
) -> (Vec<Event<EndpointSlice>>, BTreeMap<String, EndpointSlice>) {
    let mut after = model.clone();
    let name = |n: &u8| NAMES[usize::from(*n)].to_owned();
    let events = match op {
        Op::Apply(n, eps) => {
            let s = slice(&name(n), eps);
            after.insert(name(n), s.clone());
            vec![Event::Apply(s)]
        }
        Op::Delete(n) => {
            after.remove(&name(n));
            vec![Event::Delete(slice(&name(n), &[]))]
        }
        Op::Relist(pages) | Op::Abandon(pages) => {
            let mut events = vec![Event::Init];
            let mut listed = BTreeMap::new();
            for (n, eps) in pages {
                let s = slice(&name(n), eps);
                listed.insert(name(n), s.clone());
                events.push(Event::InitApply(s));
            }
            if let Op::Relist(_) = op {
                events.push(Event::InitDone);
                after = listed;
            }
            events
        }
    };
    (events, after)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// After every event, the incremental set equals the full recomputation from the raw slices,
    /// and a reader that applies the published deltas in order holds it too; an event that
    /// changes nothing publishes nothing.
    #[test]
    fn the_incremental_set_is_the_full_recomputation_and_its_deltas_reproduce_it(
        first in prop::collection::vec(slice_spec(), 0..4),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let mut store = Store::new("web".into(), Port::Only, Limits::default());
        let shared = Shared::new("prod".into(), "web".into());
        let mut reader = Reader::default();
        let mut model = BTreeMap::new();
        // Events before the first list are never published; the list is then the first set.
        for op in std::iter::once(Op::Apply(0, vec![(vec![0], 0, 0)]))
            .chain(std::iter::once(Op::Relist(first)))
            .chain(ops)
        {
            let (events, after) = events(&op, &model);
            let last = events.len() - 1;
            for (i, event) in events.into_iter().enumerate() {
                let listed = store.is_listed();
                let before = reference(&model);
                let published = step(&mut store, &shared, event).expect("within the limits");
                // Only the last event of an op changes the view.
                let now = if i == last { &after } else { &model };
                let expected = reference(now);
                prop_assert_eq!(store.merged(), expected.clone(), "after {:?}", op);
                if !store.is_listed() {
                    prop_assert!(!published);
                    prop_assert!(shared.answer(None).is_none());
                    continue;
                }
                let changed = expected != before || !listed;
                prop_assert_eq!(published, changed, "after {:?}", op);
                let answer = reader.follow(&shared).expect("listed");
                prop_assert_eq!(&reader.mirror, &mirror_of(&expected));
                if listed {
                    prop_assert!(
                        matches!(answer, Answer::Delta { .. } | Answer::Unchanged),
                        "a change is answered as a delta: {:?}", answer
                    );
                    prop_assert_eq!(matches!(answer, Answer::Unchanged), !changed);
                }
            }
            model = after;
        }
    }
}

fn applied(store: &mut Store, event: Event<EndpointSlice>) -> Vec<Change> {
    store
        .apply(event)
        .expect("within the limits")
        .expect("listed")
}

fn at(ip: &str) -> Address {
    Address::Inet(format!("{ip}:80").parse().unwrap())
}

#[test]
fn a_slice_change_yields_only_the_changes_of_the_addresses_it_moves() {
    let mut store = Store::new("web".into(), Port::Only, Limits::default());
    store.apply(Event::Init).unwrap();
    for s in [
        slice("web-a", &[(vec![0], 0, 0), (vec![1], 0, 0)]),
        slice("web-b", &[(vec![1], 2, 0), (vec![2], 0, 0)]),
    ] {
        store.apply(Event::InitApply(s)).unwrap();
    }
    let first = applied(&mut store, Event::InitDone);
    assert_eq!(
        first.len(),
        6,
        "three new backends, each an upsert and its state"
    );

    // 10.0.0.1 starts terminating: its state, nothing else.
    assert_eq!(
        applied(
            &mut store,
            Event::Apply(slice("web-a", &[(vec![0], 1, 0), (vec![1], 0, 0)]))
        ),
        [Change::Enablement(at("10.0.0.1"), Enablement::Draining)]
    );
    // The same slice again: nothing.
    assert!(
        applied(
            &mut store,
            Event::Apply(slice("web-a", &[(vec![0], 1, 0), (vec![1], 0, 0)]))
        )
        .is_empty()
    );
    // A zone appears on 10.0.0.1: its backend, not its state.
    let zoned = applied(
        &mut store,
        Event::Apply(slice("web-a", &[(vec![0], 1, 1), (vec![1], 0, 0)])),
    );
    let [Change::Upsert(b)] = zoned.as_slice() else {
        panic!("{zoned:?}")
    };
    assert_eq!(b.addr, at("10.0.0.1"));
    assert_eq!(b.ext.get::<Zone>().map(Zone::as_str), Some("zone-1"));
    // A change in web-b where web-a wins 10.0.0.2: nothing published for it.
    assert!(
        applied(
            &mut store,
            Event::Apply(slice("web-b", &[(vec![1], 1, 0), (vec![2], 0, 0)]))
        )
        .is_empty()
    );
    // web-a lets 10.0.0.2 go: web-b's entry (terminating) takes over.
    let moved = applied(&mut store, Event::Apply(slice("web-a", &[(vec![0], 1, 1)])));
    let [
        Change::Upsert(b),
        Change::Enablement(a, Enablement::Draining),
    ] = moved.as_slice()
    else {
        panic!("{moved:?}")
    };
    assert_eq!(b.addr, at("10.0.0.2"));
    assert_eq!(a.to_string(), "10.0.0.2:80");
    assert_eq!(
        b.ext.get::<EndpointMeta>().map(|m| m.slice.as_str()),
        Some("web-b")
    );
    // web-b goes: its addresses leave.
    let mut gone = applied(&mut store, Event::Delete(slice("web-b", &[])));
    gone.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(
        gone,
        [
            Change::Remove(at("10.0.0.2")),
            Change::Remove(at("10.0.0.3"))
        ]
    );
}

#[test]
fn a_relist_is_compared_with_the_set_it_replaces() {
    let mut store = Store::new("web".into(), Port::Only, Limits::default());
    let list = |store: &mut Store, slices: Vec<EndpointSlice>| {
        store.apply(Event::Init).unwrap();
        for s in slices {
            store.apply(Event::InitApply(s)).unwrap();
        }
        let mut changes = applied(store, Event::InitDone);
        changes.sort_by_key(|c| format!("{c:?}"));
        changes
    };
    list(
        &mut store,
        vec![slice("web-a", &[(vec![0], 0, 0), (vec![1], 0, 0)])],
    );
    assert!(
        list(
            &mut store,
            vec![slice("web-a", &[(vec![0], 0, 0), (vec![1], 0, 0)])]
        )
        .is_empty(),
        "an unchanged list changes nothing"
    );
    let relisted = list(
        &mut store,
        vec![slice("web-a", &[(vec![0], 2, 0), (vec![2], 0, 0)])],
    );
    assert_eq!(relisted.len(), 4, "{relisted:?}");
    assert!(relisted.contains(&Change::Enablement(at("10.0.0.1"), Enablement::Disabled)));
    assert!(relisted.contains(&Change::Remove(at("10.0.0.2"))));
    assert!(relisted.contains(&Change::Enablement(at("10.0.0.3"), Enablement::Enabled)));
}
