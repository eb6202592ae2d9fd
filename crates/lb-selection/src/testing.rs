//! [`check_contract`]: the property checks every built-in strategy passes, for the tests of a
//! strategy of your own. Behind the `testing` feature.
//!
//! ```
//! use lb_selection::{RoundRobin, testing::check_contract};
//!
//! let report = check_contract::<RoundRobin>(&()).unwrap();
//! assert!(report.sets > 30 && report.picks > 1_000);
//! ```
//!
//! Counting allocations needs a counting global allocator, which only the final binary may
//! install: [`check_contract_counting`] takes its measuring function, for example
//! [`allocation-counter`](https://docs.rs/allocation-counter)'s in a test binary:
//!
//! ```
//! use lb_selection::{Random, testing::check_contract_counting};
//!
//! let count = |pick: &mut dyn FnMut()| allocation_counter::measure(pick).count_total;
//! check_contract_counting::<Random>(&(), count).unwrap();
//! ```

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use std::time::Duration;

use lb_core::testing::RecordingSubscriber;
use lb_core::{
    Backend, BackendIter, BackendSelection, Backends, LoadBalancer, Outcome, PassiveHealth, States,
};

/// What [`check_contract`] checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Backend sets the strategy was built over.
    pub sets: usize,
    /// Sets whose build returned an error (allowed: a typed error, not a panic).
    pub build_errors: Vec<String>,
    /// Candidate orders walked to their end.
    pub picks: usize,
}

/// A broken contract: which set, which key, what.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Violation {
    /// The strategy's type name.
    pub strategy: &'static str,
    /// The backend set, described.
    pub set: String,
    /// The key asked for (empty for steps that take none).
    pub key: Vec<u8>,
    /// What went wrong.
    pub problem: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} breaks the BackendSelection contract on {} (key {:?}): {}",
            self.strategy, self.set, self.key, self.problem
        )
    }
}

impl std::error::Error for Violation {}

/// Builds strategy `S` with `config` over a range of backend sets (empty, one backend, all
/// standbys, weights of 0 and `u32::MAX`, IPv6 and unix-socket addresses, random sets, 70,000
/// backends) and checks, for many keys, through [`BackendSelection::iter`] and
/// [`BackendSelection::iter_with_states`]:
///
/// - no panic, in the build or a pick (a build may return an error: it is counted in the
///   [`Report`]);
/// - every index in range, each backend offered once, every backend reached;
/// - standby backends (weight 0) after every active one, when the set has an active one;
/// - no log line per pick through [`LoadBalancer::select`] (the pick reported, or dropped), a
///   [`Selector`](lb_core::Selector), and a walk of the whole candidate order, with load
///   tracked (passive health on) and not, under a `tracing` subscriber that records every event;
///   and with [`check_contract_counting`], zero heap allocations on those paths.
///
/// Returns what it checked, or the first violation.
pub fn check_contract<S: BackendSelection>(config: &S::Config) -> Result<Report, Violation> {
    run::<S>(config, &mut None)
}

/// The allocations made while running a closure, as a counting global allocator sees them.
pub type Measure<'a> = &'a mut dyn FnMut(&mut dyn FnMut()) -> u64;

/// [`check_contract`], with zero heap allocations per pick checked by `measure`, which runs the
/// closure it is given and returns how many allocations it made (a counting global allocator's
/// measure: only the test binary can install one).
pub fn check_contract_counting<S: BackendSelection>(
    config: &S::Config,
    mut measure: impl FnMut(&mut dyn FnMut()) -> u64,
) -> Result<Report, Violation> {
    run::<S>(config, &mut Some(&mut measure))
}

fn run<S: BackendSelection>(
    config: &S::Config,
    measure: &mut Option<Measure<'_>>,
) -> Result<Report, Violation> {
    let mut report = Report::default();
    for (name, backends) in sets() {
        let check = Check::<S> {
            config,
            name: &name,
            backends: &backends,
            _strategy: std::marker::PhantomData,
        };
        report.sets += 1;
        match check.run(&mut report, measure) {
            Ok(()) => {}
            Err(violation) => return Err(violation),
        }
    }
    Ok(report)
}

struct Check<'a, S: BackendSelection> {
    config: &'a S::Config,
    name: &'a str,
    backends: &'a [Backend],
    _strategy: std::marker::PhantomData<S>,
}

impl<S: BackendSelection> Check<'_, S> {
    fn violation(&self, key: &[u8], problem: impl Into<String>) -> Violation {
        Violation {
            strategy: std::any::type_name::<S>(),
            set: self.name.to_owned(),
            key: key.to_vec(),
            problem: problem.into(),
        }
    }

    fn run(&self, report: &mut Report, measure: &mut Option<Measure<'_>>) -> Result<(), Violation> {
        let built = catch_unwind(AssertUnwindSafe(|| {
            LoadBalancer::<S>::from_backends_with_config(
                Backends::fixed(self.backends.to_vec()),
                self.config.clone(),
            )
        }))
        .map_err(|_| self.violation(b"", "building the load balancer panicked"))?;
        let lb = built;
        let set = lb.backends().get_backend();
        let selector =
            match catch_unwind(AssertUnwindSafe(|| S::build(set.backends(), self.config))) {
                Err(_) => return Err(self.violation(b"", "build panicked")),
                Ok(Err(e)) => {
                    report.build_errors.push(format!("{}: {e}", self.name));
                    return Ok(());
                }
                Ok(Ok(s)) => s,
            };
        let weights: Vec<u32> = set.iter().map(|b| b.weight).collect();
        let keys = keys(if set.len() > 10_000 { 3 } else { 48 });
        for key in &keys {
            let order = self.walk(key, || selector.iter(key), set.len())?;
            self.judge(key, &order, &weights, "iter")?;
            let states = States::with_default_signals(&set);
            let order = self.walk(key, || selector.iter_with_states(key, states), set.len())?;
            self.judge(key, &order, &weights, "iter_with_states")?;
            report.picks += 2;
        }
        self.check_allocations(&lb, &selector, &keys, measure)
    }

    /// Every candidate of one order, failing past twice the set or on a panic.
    fn walk<I: BackendIter>(
        &self,
        key: &[u8],
        make: impl FnOnce() -> I,
        len: usize,
    ) -> Result<Vec<usize>, Violation> {
        catch_unwind(AssertUnwindSafe(|| {
            let mut it = make();
            let mut out = Vec::new();
            while let Some(i) = it.next() {
                out.push(i);
                if out.len() > 2 * len + 1 {
                    break;
                }
            }
            out
        }))
        .map_err(|_| self.violation(key, "a pick panicked"))
    }

    fn judge(
        &self,
        key: &[u8],
        order: &[usize],
        weights: &[u32],
        how: &str,
    ) -> Result<(), Violation> {
        let len = weights.len();
        let mut seen = vec![false; len];
        for &i in order {
            if i >= len {
                return Err(
                    self.violation(key, format!("{how}: index {i} out of range (0..{len})"))
                );
            }
            if std::mem::replace(&mut seen[i], true) {
                return Err(self.violation(key, format!("{how}: backend {i} offered twice")));
            }
        }
        if order.len() > len {
            return Err(self.violation(key, format!("{how}: the candidate order does not end")));
        }
        if let Some(missed) = seen.iter().position(|s| !s) {
            return Err(self.violation(key, format!("{how}: backend {missed} never offered")));
        }
        let active = weights.iter().filter(|&&w| w > 0).count();
        if active > 0
            && let Some(at) = order[..active].iter().position(|&i| weights[i] == 0)
        {
            return Err(self.violation(
                key,
                format!(
                    "{how}: standby backend {} offered before an active one",
                    order[at]
                ),
            ));
        }
        Ok(())
    }

    fn check_allocations(
        &self,
        lb: &LoadBalancer<S>,
        selector: &S,
        keys: &[Vec<u8>],
        measure: &mut Option<Measure<'_>>,
    ) -> Result<(), Violation> {
        for passive in [false, true] {
            lb.set_passive_health(passive.then(PassiveHealth::default));
            self.check_allocations_once(lb, selector, keys, measure)?;
        }
        lb.set_passive_health(None);
        Ok(())
    }

    fn check_allocations_once(
        &self,
        lb: &LoadBalancer<S>,
        selector: &S,
        keys: &[Vec<u8>],
        measure: &mut Option<Measure<'_>>,
    ) -> Result<(), Violation> {
        let mut local = lb.selector();
        let set = lb.backends().get_backend();
        let states = States::with_default_signals(&set);
        let keys = &keys[..keys.len().min(8)];
        let mut pick = |key: &[u8]| {
            if let Some(pick) = lb.select(key) {
                pick.report(Outcome::Success, Duration::from_millis(1));
            }
            std::hint::black_box(lb.select(key).map(|p| p.index()));
            std::hint::black_box(local.select(key).map(|p| p.index()));
            let mut it = selector.iter_with_states(key, states);
            while let Some(i) = it.next() {
                std::hint::black_box(i);
            }
        };
        let subscriber = RecordingSubscriber::default();
        let record = subscriber.record();
        let allocated = tracing::subscriber::with_default(subscriber, || {
            // Warm up: a thread's first load of a generation and its random generator's seed
            // allocate once per thread, not per pick.
            pick(b"warm");
            let mut allocated = None;
            for key in keys {
                let count = match measure.as_mut() {
                    Some(measure) => measure(&mut || pick(key)),
                    None => {
                        pick(key);
                        0
                    }
                };
                if count != 0 {
                    allocated = Some((key, count));
                    break;
                }
            }
            allocated
        });
        // A log line allocates too: say what it was first, it says more.
        if let Some(line) = record.lines().first() {
            return Err(self.violation(b"", format!("a pick logged: {line}")));
        }
        match allocated {
            Some((key, count)) => {
                Err(self.violation(key, format!("a pick allocated {count} times")))
            }
            None => Ok(()),
        }
    }
}

/// The keys a set is checked with: the empty key, short and long ones.
fn keys(n: usize) -> Vec<Vec<u8>> {
    let mut keys = vec![Vec::new(), vec![0xff; 64]];
    keys.extend(
        (0..n as u64).map(|k| k.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes().to_vec()),
    );
    keys
}

/// A small deterministic generator (splitmix64), so that the sets are the same in every run.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn inet(i: u32, weight: u32) -> Backend {
    let ip = std::net::Ipv4Addr::from(0x0a00_0000 | i);
    Backend::from(std::net::SocketAddr::from((ip, 8080))).with_weight(weight)
}

fn weighted(weights: &[u32]) -> Vec<Backend> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| inet(i as u32, w))
        .collect()
}

/// The sets checked, named.
fn sets() -> Vec<(String, Vec<Backend>)> {
    let mut sets = vec![
        ("an empty set".to_owned(), Vec::new()),
        ("one backend".to_owned(), weighted(&[1])),
        ("one standby".to_owned(), weighted(&[0])),
        ("five standbys".to_owned(), weighted(&[0; 5])),
        (
            "weights u32::MAX, 1, 0".to_owned(),
            weighted(&[u32::MAX, 1, 0]),
        ),
        (
            "weights 1 to 10 with standbys".to_owned(),
            weighted(
                &(0..40)
                    .map(|i| if i % 7 == 3 { 0 } else { 1 + i % 10 })
                    .collect::<Vec<_>>(),
            ),
        ),
    ];
    let mut mixed: Vec<Backend> = (1..=6u16)
        .map(|i| {
            let ip = std::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i);
            Backend::from(std::net::SocketAddr::from((ip, 443))).with_weight(u32::from(i % 3))
        })
        .collect();
    for i in 0..4u32 {
        // A valid address by construction: short, absolute, no NUL.
        let unix = lb_core::Address::unix(format!("/run/lb-contract-{i}.sock"))
            .map(|a| Backend::from_address(a, i + 1));
        mixed.extend(unix);
    }
    sets.push(("IPv6 and unix-socket backends".to_owned(), mixed));
    let mut mix = Mix(0x1b_c0de);
    for n in 0..24 {
        // Even sets have the weights services use (standbys, 1 to 10, some in the hundreds);
        // odd ones extreme weights too, which some strategies may refuse with an error.
        let extreme = n % 2 == 1;
        let len = 1 + (mix.next() % 120) as usize;
        let weights: Vec<u32> = (0..len)
            .map(|_| match mix.next() % 16 {
                0 | 1 => 0,
                2 if extreme => u32::MAX,
                3 if extreme => (mix.next() % 100_000) as u32,
                4 => 100 + (mix.next() % 900) as u32,
                _ => 1 + (mix.next() % 10) as u32,
            })
            .collect();
        let kind = if extreme {
            "extreme weights"
        } else {
            "usual weights"
        };
        sets.push((
            format!("random set {n} of {len} backends, {kind}"),
            weighted(&weights),
        ));
    }
    sets.push((
        "70,000 backends of weight 1".to_owned(),
        (0..70_000).map(|i| inet(i, 1)).collect(),
    ));
    sets
}
