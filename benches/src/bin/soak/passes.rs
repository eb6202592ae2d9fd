//! The health passes: between two passes some listeners are closed or opened again (the
//! flapping backends) and probe faults are switched on or off; after each pass, every core
//! backend's health must be what its probe found in that pass (flips applied within one pass),
//! and every steady backend must have been picked.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use lb_core::{HealthRegistry, HealthSchedule, LoadBalancer, PassReport};
use lb_selection::RoundRobin;
use tokio::time::Instant;

use crate::rng::Rng;
use crate::state::{Role, Shared, Violation};
use crate::world::World;

/// The deadline of one probe (a hanging probe ends here).
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Probes in flight at once.
const CONCURRENCY: usize = 256;
/// Pause between passes.
const BETWEEN: Duration = Duration::from_millis(100);
/// Picks a weight-1 backend is expected to get over an interval before it counts as starved.
const STARVED_AFTER: u64 = 50;

/// What the passes did.
#[derive(Debug, Default)]
pub(crate) struct Passes {
    pub(crate) passes: u64,
    pub(crate) probes: u64,
    pub(crate) failed: u64,
    pub(crate) flips: u64,
    pub(crate) toggled: u64,
    pub(crate) longest: Duration,
    pub(crate) jumps: u64,
}

/// When the probe faults are on, and when the clock jumps, from the start of the run.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) probe_faults: Vec<(Duration, Duration)>,
    pub(crate) jumps: Vec<Duration>,
    pub(crate) jump: Duration,
}

/// Everything a pass needs.
pub(crate) struct Context<'a> {
    pub(crate) shared: &'a Arc<Shared>,
    pub(crate) world: &'a World,
    pub(crate) registry: &'a HealthRegistry,
    pub(crate) lb: &'a LoadBalancer<RoundRobin>,
    pub(crate) threads: usize,
}

fn schedule() -> HealthSchedule {
    HealthSchedule::every(Duration::ZERO)
        .with_timeout(PROBE_TIMEOUT)
        .with_parallelism(CONCURRENCY)
}

/// Before the run: every core listener closes, a pass must find every core backend down; they
/// all open again, a pass must find them all up (a rack lost and back). Besides checking
/// thousands of flips in one pass, this leaves every backend holding its last probe error, so
/// that the memory trend of the run does not count them coming one by one.
pub(crate) async fn mass_flip(cx: &Context<'_>) -> Passes {
    let shared = cx.shared;
    let mut out = Passes::default();
    let core = shared.layout.core();
    for open in [false, true] {
        for id in 0..core {
            if open {
                shared.down_since[id].store(0, Ordering::Release);
                if let Err(e) = cx.world.open(shared, id) {
                    eprintln!("soak: reopening backend {id} failed: {e}");
                }
            } else {
                cx.world.close(shared, id).await;
            }
        }
        let pass = out.passes + 1;
        shared.pass.store(pass, Ordering::Relaxed);
        let report = cx.registry.check_once(&schedule()).await;
        out.record(pass, &report);
        out.toggled += core as u64;
        verify(cx, pass);
        shared.confirmed_pass.store(pass, Ordering::Release);
    }
    out
}

impl Passes {
    fn record(&mut self, pass: u64, report: &PassReport) {
        self.passes = pass;
        self.probes += report.checked as u64;
        self.failed += report.failed as u64;
        self.flips += report.flipped as u64;
        self.longest = self.longest.max(report.elapsed);
    }
}

/// Runs passes until `until`, counting on from `out`.
pub(crate) async fn run(
    cx: Context<'_>,
    started: Instant,
    until: Instant,
    plan: &Plan,
    mut out: Passes,
) -> Passes {
    let shared = cx.shared;
    let schedule = schedule();
    let mut rng = Rng::new();
    let mut last = Interval::start(&cx);
    while Instant::now() < until {
        let pass = out.passes + 1;
        let since = started.elapsed();
        let waves = plan
            .probe_faults
            .iter()
            .any(|(from, to)| since >= *from && since < *to);
        shared.probe_waves.store(waves, Ordering::Relaxed);
        shared.pass.store(pass, Ordering::Relaxed);
        out.toggled += flap(&cx, &mut rng).await;
        // A backend that may turn healthy in this pass is no longer confirmed down.
        for id in 0..shared.layout.core() {
            if expected(shared, id, pass) {
                shared.down_since[id].store(0, Ordering::Release);
            }
        }
        let report = cx.registry.check_once(&schedule).await;
        out.record(pass, &report);
        verify(&cx, pass);
        shared.confirmed_pass.store(pass, Ordering::Release);
        let next = Interval::start(&cx);
        starved(&cx, &last, &next);
        last = next;
        let due = plan.jumps.get(out.jumps as usize);
        if due.is_some_and(|at| started.elapsed() >= *at) {
            jump(&cx, plan.jump).await;
            out.jumps += 1;
        }
        tokio::time::sleep(BETWEEN).await;
    }
    shared.probe_waves.store(false, Ordering::Relaxed);
    out
}

fn steady(shared: &Shared) -> impl Iterator<Item = usize> + '_ {
    (0..shared.layout.core()).filter(|id| shared.layout.role(*id) == Role::Steady)
}

fn picks(shared: &Shared, id: usize) -> u32 {
    shared.picks[id].load(Ordering::Relaxed)
}

/// Whether core backend `id` is to be healthy after pass `pass`.
fn expected(shared: &Shared, id: usize, pass: u64) -> bool {
    shared.open[id].load(Ordering::Acquire)
        && !shared.probe_panics(id, pass)
        && !shared.probe_hangs(id, pass)
}

/// Closes or opens again about a third of the flapping backends' listeners.
async fn flap(cx: &Context<'_>, rng: &mut Rng) -> u64 {
    let shared = cx.shared;
    let mut toggled = 0;
    for id in 0..shared.layout.core() {
        if shared.layout.role(id) != Role::Flapping || rng.below(3) != 0 {
            continue;
        }
        if shared.open[id].load(Ordering::Acquire) {
            cx.world.close(shared, id).await;
        } else {
            // Not confirmed down any more before it can turn healthy.
            shared.down_since[id].store(0, Ordering::Release);
            if let Err(e) = cx.world.open(shared, id) {
                eprintln!("soak: reopening backend {id} failed: {e}");
                continue;
            }
        }
        toggled += 1;
    }
    toggled
}

/// After pass `pass`: every core backend's health is what its probe found.
fn verify(cx: &Context<'_>, pass: u64) {
    let shared = cx.shared;
    let set = cx.lb.backends().get_backend();
    for id in 0..shared.layout.core() {
        let addr = shared.layout.address(id);
        let Some(state) = set.state_of(&addr) else {
            shared.violation(Violation::Emptied, || {
                format!("core backend {addr} is missing from the published set")
            });
            continue;
        };
        let expected = expected(shared, id, pass);
        if state.is_healthy() != expected {
            shared.violation(Violation::FlipLate, || {
                format!(
                    "after pass {pass}, {addr} (a {:?} backend) is {} but its probe {}",
                    shared.layout.role(id),
                    if state.is_healthy() {
                        "healthy"
                    } else {
                        "unhealthy"
                    },
                    if expected { "succeeded" } else { "failed" },
                )
            });
        } else if !expected && shared.down_since[id].load(Ordering::Acquire) == 0 {
            shared.down_since[id].store(pass, Ordering::Release);
        }
    }
}

/// What the starvation check compares between the start and the end of an interval.
struct Interval {
    selects: u64,
    /// Each steady backend's picks so far.
    picks: Vec<u32>,
    /// The total weight of the ready backends, and the generation, of the published set.
    ready_weight: u64,
    generation: u64,
}

impl Interval {
    fn start(cx: &Context<'_>) -> Interval {
        let shared = cx.shared;
        let set = cx.lb.backends().get_backend();
        let ready_weight = set
            .backends()
            .iter()
            .zip(set.states())
            .filter(|(b, s)| b.weight > 0 && s.is_ready())
            .map(|(b, _)| u64::from(b.weight))
            .sum();
        Interval {
            selects: shared.selects.load(Ordering::Relaxed),
            picks: steady(shared).map(|id| picks(shared, id)).collect(),
            ready_weight,
            generation: set.generation(),
        }
    }
}

/// Every steady backend (weight 1, always ready) got picks over the interval from `from` to
/// `to`, when the picks made would give a weight-1 backend at least [`STARVED_AFTER`] whichever
/// of the two ready weights held throughout (the larger: backends that turned ready during the
/// interval count as if they had been ready all along).
fn starved(cx: &Context<'_>, from: &Interval, to: &Interval) {
    let shared = cx.shared;
    let selects = to.selects - from.selects;
    let weight = from.ready_weight.max(to.ready_weight);
    if weight == 0 || selects / weight < STARVED_AFTER {
        return;
    }
    let ids: Vec<usize> = steady(shared).collect();
    let starved: Vec<usize> = ids
        .iter()
        .zip(&from.picks)
        .filter(|&(&id, &before)| picks(shared, id) == before)
        .map(|(&id, _)| id)
        .collect();
    for &id in &starved {
        shared.violation(Violation::Starved, || {
            format!(
                "steady backend {} got none of {selects} picks ({} of {} steady backends got \
                 none; ready weight {} at the start, generation {}, {} at the end, generation {})",
                shared.layout.socket(id),
                starved.len(),
                ids.len(),
                from.ready_weight,
                from.generation,
                to.ready_weight,
                to.generation,
            )
        });
    }
}

/// Stops the selecting threads and this runtime for `length`, as a paused VM or process would
/// be stopped: when they resume, monotonic time has leapt and every timer is overdue at once.
async fn jump(cx: &Context<'_>, length: Duration) {
    let shared = cx.shared;
    shared.pause.store(true, Ordering::Release);
    let waited = Instant::now();
    while shared.paused.load(Ordering::Acquire) < cx.threads && waited.elapsed() < length {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    eprintln!("soak: clock jump: stopping for {length:?}");
    // Blocking on purpose: nothing on this runtime may run until the jump is over.
    std::thread::sleep(length);
    shared.pause.store(false, Ordering::Release);
}
