//! The discrete-event loop: one run of one strategy through one scenario, in virtual time.
//!
//! The run owns a current-thread tokio runtime whose clock is paused: the loop pops the next
//! event, advances the clock to it (`tokio::time::advance`), and handles it. lb-core reads
//! tokio's clock (its `runtime` feature), so latency estimates decay, outcome windows close,
//! ejections end and slow start ramps in virtual time, exactly as they would in real time. No
//! socket is opened: a backend's address only names a simulated server.
//!
//! A request is `LoadBalancer::select(key)`; its [`Pick`] travels with the request's events
//! (queued at its server, then served) and is reported with the request's outcome and latency
//! when it ends, so requests count in flight for as long as they are, as in production.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Duration;

use lb_core::{
    Backend, BackendSelection, Backends, Delta, LoadBalancer, Outcome, PassiveHealth, Pick,
    SlowStart, Zone, ZoneRouting,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp};

use crate::record::{KeyMove, Record};
use crate::scenario::{Change, Keys, Scenario};
use crate::server::{Admission, REFUSAL, Server, ServerSpec};

/// The first port of the simulated servers' addresses (`127.0.0.1:10000` is server 0). The
/// addresses are names only: nothing connects to them.
const BASE_PORT: u16 = 10_000;

/// Slow start's ramp, in every run.
pub(crate) const SLOW_START: Duration = Duration::from_secs(10);

/// The hot key's number (the other keys are `0..keys`).
const HOT_KEY: u32 = u32::MAX;

/// A request on its way: its pick (the request's handle in lb) and when it arrived.
struct Request<S> {
    pick: Pick<S>,
    arrived: u64,
}

enum Kind<S> {
    Arrival,
    /// A request ends at `server`; `slot` says whether it held one of the server's slots
    /// (refused requests hold none).
    Done {
        server: usize,
        request: Request<S>,
        failed: bool,
        slot: bool,
    },
    Change(usize),
    Probe,
}

struct Event<S> {
    /// Virtual nanoseconds since the start.
    at: u64,
    /// Order of scheduling, so that events at the same time run in a fixed order.
    seq: u64,
    kind: Kind<S>,
}

impl<S> PartialEq for Event<S> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<S> Eq for Event<S> {}
impl<S> PartialOrd for Event<S> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<S> Ord for Event<S> {
    /// Reversed: the earliest event is the greatest, for `BinaryHeap`.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The backend of simulated server `id`.
fn backend(id: usize, spec: &ServerSpec) -> Backend {
    let port = BASE_PORT.saturating_add(u16::try_from(id).unwrap_or(u16::MAX - BASE_PORT));
    let backend = Backend::from_address(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)).into(),
        spec.weight,
    );
    match spec.zone {
        Some(zone) => backend.with_ext(Zone::new(zone)),
        None => backend,
    }
}

/// Runs `scenario` with strategy `S` (configured by `config`) from `seed`, on a thread of its
/// own with a paused current-thread runtime; returns what was measured.
///
/// The thread is new, so lb's per-thread state (round robin's turn, least request's scan
/// start, the stripes of in-flight counters) starts afresh, and its random generators (lb-core's
/// and lb-selection's) are seeded from `seed`: a run is a function of its scenario and seed.
pub(crate) fn run<S>(scenario: &Scenario, config: S::Config, seed: u64) -> Record
where
    S: BackendSelection + Send + Sync + 'static,
    S::Config: Send,
{
    std::thread::scope(|scope| {
        let run = scope.spawn(move || {
            lb_selection::kit::seed_thread_random(seed);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(Sim::<S>::new(scenario, config, seed).run()),
                // A current-thread runtime without IO needs no OS resource but a clock: this
                // cannot fail short of the process running out of memory.
                Err(err) => panic!("cannot build the simulator's runtime: {err}"),
            }
        });
        match run.join() {
            Ok(record) => record,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

struct Sim<'a, S: BackendSelection> {
    scenario: &'a Scenario,
    lb: LoadBalancer<S>,
    servers: Vec<Server<Request<S>>>,
    backends: Vec<Backend>,
    /// Whether each server is in the load balancer's set.
    present: Vec<bool>,
    /// Probe results in a row against the server's current health, and that health.
    probes: Vec<(u32, bool)>,
    events: BinaryHeap<Event<S>>,
    seq: u64,
    now: u64,
    /// Arrival times and keys: the same stream for every strategy of a scenario.
    arrivals: SmallRng,
    /// Service times and failures.
    service: SmallRng,
    key_bytes: Vec<Vec<u8>>,
    /// The server each key last went to (`u32::MAX`: not yet).
    last_server: Vec<u32>,
    record: Record,
}

impl<'a, S> Sim<'a, S>
where
    S: BackendSelection + Send + Sync + 'static,
{
    fn new(scenario: &'a Scenario, config: S::Config, seed: u64) -> Self {
        let backends: Vec<Backend> = scenario
            .servers
            .iter()
            .enumerate()
            .map(|(i, spec)| backend(i, spec))
            .collect();
        let lb =
            LoadBalancer::<S>::from_backends_with_config(Backends::fixed(backends.clone()), config);
        lb.set_passive_health(Some(PassiveHealth::default()));
        lb.set_slow_start(Some(SlowStart::over(SLOW_START)));
        if let Some(zone) = scenario.local_zone {
            // Zone routing only fails on a set it cannot divide, which a fixed set of zoned
            // backends is not; a failure would show as traffic leaving the zone.
            let _ = lb.set_zone_routing(Some(ZoneRouting::new(zone)));
        }
        let keys = match scenario.keys {
            Keys::Uniform(n) | Keys::Hot { keys: n, .. } => n.max(1),
        };
        let n = scenario.servers.len();
        Sim {
            scenario,
            lb,
            servers: scenario.servers.iter().cloned().map(Server::new).collect(),
            backends,
            present: vec![true; n],
            probes: vec![(0, true); n],
            events: BinaryHeap::new(),
            seq: 0,
            now: 0,
            arrivals: SmallRng::seed_from_u64(seed),
            service: SmallRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15),
            key_bytes: (0..keys)
                .map(|k| format!("user-{k}").into_bytes())
                .chain(std::iter::once(b"hot".to_vec()))
                .collect(),
            last_server: vec![u32::MAX; keys as usize + 1],
            record: Record::new(scenario, S::USES_KEY),
        }
    }

    fn schedule(&mut self, at: u64, kind: Kind<S>) {
        self.seq += 1;
        self.events.push(Event {
            at,
            seq: self.seq,
            kind,
        });
    }

    async fn run(mut self) -> Record {
        let end = nanos(self.scenario.duration);
        self.schedule(0, Kind::Arrival);
        self.schedule(nanos(self.scenario.health_check.interval), Kind::Probe);
        for (i, (at, _)) in self.scenario.changes.iter().enumerate() {
            self.schedule(nanos(*at), Kind::Change(i));
        }
        while let Some(event) = self.events.pop() {
            if event.at > self.now {
                tokio::time::advance(Duration::from_nanos(event.at - self.now)).await;
                self.now = event.at;
            }
            match event.kind {
                Kind::Arrival if self.now < end => self.arrive(end),
                Kind::Arrival => {}
                Kind::Done {
                    server,
                    request,
                    failed,
                    slot,
                } => self.done(server, request, failed, slot),
                Kind::Change(i) => self.change(i),
                Kind::Probe if self.now < end => self.probe(),
                Kind::Probe => {}
            }
        }
        let servers = self.servers.iter().map(|s| s.spec.weight).collect();
        self.record.finish(servers, self.present.clone());
        self.record
    }

    fn arrive(&mut self, end: u64) {
        let gap =
            Exp::new(self.scenario.rate.max(1e-9)).map_or(1.0, |e| e.sample(&mut self.arrivals));
        let next = self
            .now
            .saturating_add(nanos(Duration::from_secs_f64(gap.min(3600.0))));
        if next < end {
            self.schedule(next, Kind::Arrival);
        }
        let key = match self.scenario.keys {
            Keys::Uniform(n) => self.arrivals.random_range(0..n.max(1)),
            Keys::Hot { keys, share } => {
                // Draw both numbers every time, so the stream does not depend on the outcome.
                let hot = self.arrivals.random_bool(share.clamp(0.0, 1.0));
                let other = self.arrivals.random_range(0..keys.max(1));
                if hot { HOT_KEY } else { other }
            }
        };
        let key_index = if key == HOT_KEY {
            self.key_bytes.len() - 1
        } else {
            key as usize
        };
        let Some(pick) = self.lb.select(&self.key_bytes[key_index]) else {
            self.record.no_backend(self.now);
            return;
        };
        let server = pick
            .socket_addr()
            .map_or(0, |a| usize::from(a.port().saturating_sub(BASE_PORT)));
        self.record.picked(self.now, server);
        self.record
            .keyed(self.now, key_index, server, &mut self.last_server);
        let request = Request {
            pick,
            arrived: self.now,
        };
        let Some(target) = self.servers.get_mut(server) else {
            return;
        };
        match target.admit(request, &mut self.service) {
            (Admission::Started { service, failed }, Some(request)) => {
                let at = self.now + nanos(service);
                self.schedule(
                    at,
                    Kind::Done {
                        server,
                        request,
                        failed,
                        slot: true,
                    },
                );
            }
            (Admission::Refused, Some(request)) => {
                let at = self.now + nanos(REFUSAL);
                self.schedule(
                    at,
                    Kind::Done {
                        server,
                        request,
                        failed: true,
                        slot: false,
                    },
                );
            }
            _ => {}
        }
    }

    fn done(&mut self, server: usize, request: Request<S>, failed: bool, slot: bool) {
        if slot
            && let Some((next, service, next_failed)) =
                self.servers[server].finish(&mut self.service)
        {
            let at = self.now + nanos(service);
            self.schedule(
                at,
                Kind::Done {
                    server,
                    request: next,
                    failed: next_failed,
                    slot: true,
                },
            );
        }
        let latency = Duration::from_nanos(self.now - request.arrived);
        let outcome = if failed {
            Outcome::Failure
        } else {
            Outcome::Success
        };
        let state = request.pick.state().clone();
        request.pick.report(outcome, latency);
        self.record.ended(request.arrived, latency, failed);
        if failed && state.ejections() > 0 {
            self.record.ejected(self.now);
        }
    }

    fn change(&mut self, i: usize) {
        let Some((_, change)) = self.scenario.changes.get(i) else {
            return;
        };
        match change {
            Change::Slow { server, factor } => {
                if let Some(s) = self.servers.get_mut(*server) {
                    s.slowdown = *factor;
                    let scaled = f64::from(s.spec.concurrency) * factor.max(1.0);
                    s.spec.concurrency = scaled.min(f64::from(u32::MAX)) as u32;
                }
            }
            Change::Failing {
                server,
                probability,
            } => {
                if let Some(s) = self.servers.get_mut(*server) {
                    s.spec.failure = *probability;
                }
            }
            Change::Remove { server } => {
                let Some(backend) = self.backends.get(*server) else {
                    return;
                };
                let at = Duration::from_nanos(self.now);
                self.record
                    .key_change(KeyMove::removal(*server, at), &self.last_server);
                // A delta naming a backend of the set always applies.
                let _ = self
                    .lb
                    .apply_delta(&Delta::new().with_removal(backend.addr.clone()));
                self.present[*server] = false;
            }
            Change::Add(spec) => {
                let id = self.servers.len();
                let backend = backend(id, spec);
                self.servers.push(Server::new(spec.clone()));
                self.backends.push(backend.clone());
                self.present.push(true);
                self.probes.push((0, true));
                let settled = Duration::from_nanos(self.now) + SLOW_START;
                self.record
                    .key_change(KeyMove::addition(id, settled), &self.last_server);
                let _ = self.lb.apply_delta(&Delta::new().with_upsert(backend));
            }
            Change::ZoneDown(zone) => {
                for id in 0..self.servers.len() {
                    if self.servers[id].spec.zone != Some(*zone) {
                        continue;
                    }
                    for request in self.servers[id].go_down() {
                        self.schedule(
                            self.now,
                            Kind::Done {
                                server: id,
                                request,
                                failed: true,
                                slot: false,
                            },
                        );
                    }
                }
            }
        }
    }

    /// One pass of the active health check: a down server fails its probe, the others pass;
    /// `threshold` results in a row against the current health flip it.
    fn probe(&mut self) {
        let threshold = self.scenario.health_check.threshold.max(1);
        for id in 0..self.servers.len() {
            if !self.present[id] {
                continue;
            }
            let up = !self.servers[id].down;
            let (run, healthy) = &mut self.probes[id];
            if up == *healthy {
                *run = 0;
                continue;
            }
            *run += 1;
            if *run >= threshold {
                *run = 0;
                *healthy = up;
                self.lb.backends().set_health(&self.backends[id], up);
            }
        }
        let next = self.now + nanos(self.scenario.health_check.interval);
        self.schedule(next, Kind::Probe);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pop_earliest_first_then_in_scheduling_order() {
        let mut heap = BinaryHeap::new();
        for (at, seq) in [(5, 1), (1, 2), (5, 0), (3, 3)] {
            heap.push(Event::<()> {
                at,
                seq,
                kind: Kind::Probe,
            });
        }
        let order: Vec<(u64, u64)> =
            std::iter::from_fn(|| heap.pop().map(|e| (e.at, e.seq))).collect();
        assert_eq!(order, [(1, 2), (3, 3), (5, 0), (5, 1)]);
    }
}
