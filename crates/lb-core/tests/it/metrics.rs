//! Metrics through the `metrics` facade: exact values after a scripted sequence of picks,
//! reports, health flips, an ejection and an update, read from `metrics-util`'s debugging
//! recorder (installed for this thread only, so tests running beside it record nothing there).

use std::collections::HashMap;
use std::time::Duration;

use lb_core::metrics::{self, Metrics, OTHER_BACKENDS};
use lb_core::{Backend, Backends, LoadBalancer, Outcome, PassiveHealth};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

use crate::support::Rotate;

fn backend(port: u16) -> Backend {
    Backend::from(std::net::SocketAddr::from(([10, 0, 0, 1], port)))
}

/// Every series so far: (name, backend label or "") to its value. The debugging recorder's
/// snapshots drain counters and histograms, so `seen` adds each snapshot up: counters are sums,
/// histograms counts of values, gauges their latest value.
fn read(
    snapshotter: &Snapshotter,
    seen: &mut HashMap<(String, String), f64>,
) -> HashMap<(String, String), f64> {
    for (series, (value, gauge)) in
        snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let key = key.key();
                let labels: Vec<_> = key.labels().collect();
                assert_eq!(labels[0].key(), "lb");
                assert_eq!(labels[0].value(), "api");
                let backend = labels
                    .iter()
                    .find(|l| l.key() == "backend")
                    .map_or(String::new(), |l| l.value().to_owned());
                let value = match value {
                    DebugValue::Counter(n) => (n as f64, false),
                    DebugValue::Gauge(g) => (g.into_inner(), true),
                    DebugValue::Histogram(v) => (v.len() as f64, false),
                };
                ((key.name().to_owned(), backend), value)
            })
    {
        let total = seen.entry(series).or_default();
        *total = if gauge { value } else { *total + value };
    }
    seen.clone()
}

fn value(all: &HashMap<(String, String), f64>, name: &str, backend: &Backend) -> f64 {
    value_of(all, name, &backend.addr.to_string())
}

fn value_of(all: &HashMap<(String, String), f64>, name: &str, label: &str) -> f64 {
    *all.get(&(name.to_owned(), label.to_owned()))
        .unwrap_or_else(|| panic!("no series {name}{{backend=\"{label}\"}}: {all:?}"))
}

#[test]
fn a_scripted_sequence_gives_exact_counts() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let mut seen = HashMap::new();
    let (a, b, c, d, e) = (backend(1), backend(2), backend(3), backend(4), backend(5));
    ::metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(vec![
                a.clone(),
                b.clone(),
                c.clone(),
            ]));
            lb.set_passive_health(Some(
                PassiveHealth::default()
                    .with_consecutive_failures(3)
                    .with_probation(false)
                    .with_success_rate(None)
                    .with_ejection(Duration::from_secs(10), Duration::from_secs(10)),
            ));
            lb.set_metrics(Metrics::new("api").backend_label_limit(3))
                .expect("named once");
            assert_eq!(
                lb.set_metrics(Metrics::new("other")).unwrap_err().name,
                "api"
            );
            let ms = Duration::from_millis(5);

            // Six picks, two per backend (round robin); five reported, one dropped.
            let picks: Vec<_> = (0..6).map(|_| lb.select(b"").expect("ready")).collect();
            let all = read(&snapshotter, &mut seen);
            for x in [&a, &b, &c] {
                assert_eq!(value(&all, metrics::PICKS, x), 2.0);
                assert_eq!(value(&all, metrics::IN_FLIGHT, x), 2.0);
            }
            let mut picks = picks.into_iter();
            let dropped = picks.next().expect("six picks");
            let dropped_on = dropped.addr.clone();
            drop(dropped);
            for p in picks {
                p.report(Outcome::Success, ms);
            }

            // Health: b and c down (two thirds of the set: panic mode), then up again.
            for x in [&b, &c] {
                lb.backends().set_health(x, false);
            }
            assert!(lb.stats().in_panic);
            assert_eq!(
                value_of(&read(&snapshotter, &mut seen), metrics::PANIC_MODE, ""),
                1.0
            );
            for x in [&b, &c] {
                lb.backends().set_health(x, true);
            }

            // Three failures in a row eject a, for 10 s; the first select after that readmits it.
            for _ in 0..3 {
                lb.select_with(b"", usize::MAX, |x, _| x.addr == a.addr)
                    .expect("a is in the set")
                    .report(Outcome::Failure, ms);
            }
            assert!(
                lb.backends()
                    .get_backend()
                    .state_of(&a.addr)
                    .unwrap()
                    .is_ejected()
            );
            tokio::time::advance(Duration::from_secs(11)).await;
            for _ in 0..3 {
                lb.select(b"").expect("ready").report(Outcome::Success, ms);
            }

            // An update: c leaves, d and e join. The label limit (3) is reached while c's state
            // is still held by the set being replaced: d and e count as "other".
            lb.apply(vec![a.clone(), b.clone(), d.clone(), e.clone()])
                .expect("published");
            for _ in 0..4 {
                lb.select(b"").expect("ready").report(Outcome::Success, ms);
            }

            let all = read(&snapshotter, &mut seen);
            let cancelled = |x: &Backend| f64::from(u8::from(x.addr == dropped_on));
            // a: 2 round-robin picks, 3 failing ones, 1 after readmission, 1 after the update.
            assert_eq!(value(&all, metrics::PICKS, &a), 7.0);
            assert_eq!(value(&all, metrics::REQUESTS, &a), 7.0 - cancelled(&a));
            assert_eq!(value(&all, metrics::FAILURES, &a), 3.0);
            assert_eq!(value(&all, metrics::EJECTIONS, &a), 1.0);
            assert_eq!(value(&all, metrics::READMISSIONS, &a), 1.0);
            assert_eq!(value(&all, metrics::HEALTH_CHANGES, &a), 0.0);
            assert_eq!(value(&all, metrics::PICKS, &b), 4.0);
            assert_eq!(value(&all, metrics::HEALTH_CHANGES, &b), 2.0);
            assert_eq!(value(&all, metrics::PICKS, &c), 3.0);
            assert_eq!(value(&all, metrics::HEALTH_CHANGES, &c), 2.0);
            for x in [&d, &e] {
                let series = (metrics::PICKS.to_owned(), x.addr.to_string());
                assert!(!all.contains_key(&series), "past the label limit");
            }
            assert_eq!(value_of(&all, metrics::PICKS, OTHER_BACKENDS), 2.0);
            for x in [&a, &b, &c] {
                assert_eq!(value(&all, metrics::CANCELLATIONS, x), cancelled(x));
                assert_eq!(value(&all, metrics::IN_FLIGHT, x), 0.0);
                assert_eq!(
                    value(&all, metrics::EJECTIONS, x),
                    f64::from(u8::from(x == &a))
                );
            }
            assert_eq!(value_of(&all, metrics::IN_FLIGHT, OTHER_BACKENDS), 0.0);
            assert_eq!(value_of(&all, metrics::PANIC_ENTRIES, ""), 1.0);
            assert_eq!(value_of(&all, metrics::PANIC_MODE, ""), 0.0);
            assert_eq!(value_of(&all, metrics::UPDATES, ""), 1.0);
            assert_eq!(value_of(&all, metrics::BUILD_DURATION, ""), 1.0);
            assert_eq!(value_of(&all, metrics::BACKENDS, ""), 4.0);
            let durations: f64 = [&a, &b, &c]
                .iter()
                .map(|x| value(&all, metrics::REQUEST_DURATION, x))
                .sum::<f64>()
                + value_of(&all, metrics::REQUEST_DURATION, OTHER_BACKENDS);
            assert_eq!(durations, 5.0 + 3.0 + 3.0 + 4.0);
            // The requests counted by the metrics are the ones the states count.
            let set = lb.backends().get_backend();
            for x in [&a, &b] {
                let state = set.state_of(&x.addr).expect("in the set");
                assert_eq!(value(&all, metrics::REQUESTS, x), state.requests() as f64);
            }
        });
    });
}

#[test]
fn nothing_is_recorded_for_a_load_balancer_without_a_name() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    ::metrics::with_local_recorder(&recorder, || {
        let lb = LoadBalancer::<Rotate>::try_from_iter(["10.0.0.1:1", "10.0.0.1:2"]).unwrap();
        lb.select(b"")
            .unwrap()
            .report(Outcome::Success, Duration::from_millis(1));
        lb.apply(vec![backend(1)]).unwrap();
    });
    assert!(snapshotter.snapshot().into_vec().is_empty());
}

#[test]
fn the_docs_table_lists_every_metric() {
    let doc = include_str!("../../../../docs/observing.md");
    for &(name, kind, _) in metrics::ALL {
        assert!(
            doc.lines()
                .any(|l| l.starts_with(&format!("| `{name}` | {kind} |"))),
            "docs/observing.md has no row for {name} ({kind})"
        );
    }
}

/// A recorder that keeps each series in atomics, as exporters do, and allocates nothing per
/// value. (`metrics-util`'s debugging recorder and the Prometheus exporter keep histogram values
/// in blocks they allocate every few dozen values: the exporter's cost, not lb's, which the
/// allocation tests must not count.)
#[derive(Debug, Default)]
pub(crate) struct AtomicRecorder {
    /// Every counter increment and histogram value recorded, in all series.
    pub(crate) values: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Debug)]
struct Sink(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl ::metrics::CounterFn for Sink {
    fn increment(&self, value: u64) {
        self.0
            .fetch_add(value, std::sync::atomic::Ordering::Relaxed);
    }
    fn absolute(&self, _: u64) {}
}

impl ::metrics::GaugeFn for Sink {
    fn increment(&self, _: f64) {}
    fn decrement(&self, _: f64) {}
    fn set(&self, _: f64) {}
}

impl ::metrics::HistogramFn for Sink {
    fn record(&self, _: f64) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl ::metrics::Recorder for AtomicRecorder {
    fn describe_counter(
        &self,
        _: ::metrics::KeyName,
        _: Option<::metrics::Unit>,
        _: ::metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: ::metrics::KeyName,
        _: Option<::metrics::Unit>,
        _: ::metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: ::metrics::KeyName,
        _: Option<::metrics::Unit>,
        _: ::metrics::SharedString,
    ) {
    }
    fn register_counter(
        &self,
        _: &::metrics::Key,
        _: &::metrics::Metadata<'_>,
    ) -> ::metrics::Counter {
        ::metrics::Counter::from_arc(std::sync::Arc::new(Sink(std::sync::Arc::clone(
            &self.values,
        ))))
    }
    fn register_gauge(&self, _: &::metrics::Key, _: &::metrics::Metadata<'_>) -> ::metrics::Gauge {
        ::metrics::Gauge::from_arc(std::sync::Arc::new(Sink(std::sync::Arc::clone(
            &self.values,
        ))))
    }
    fn register_histogram(
        &self,
        _: &::metrics::Key,
        _: &::metrics::Metadata<'_>,
    ) -> ::metrics::Histogram {
        ::metrics::Histogram::from_arc(std::sync::Arc::new(Sink(std::sync::Arc::clone(
            &self.values,
        ))))
    }
}

/// Names `lb`'s metrics under an [`AtomicRecorder`]; returns the count of values it receives.
pub(crate) fn record_metrics<S: lb_core::BackendSelection>(
    lb: &LoadBalancer<S>,
) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
    let recorder = AtomicRecorder::default();
    ::metrics::with_local_recorder(&recorder, || lb.set_metrics(Metrics::new("alloc")))
        .expect("named once");
    recorder.values
}
