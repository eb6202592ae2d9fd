//! The selecting threads: `select`, check the pick against what is known to be published,
//! report an outcome (failures for the flaky backends, which feeds passive health).

use std::sync::atomic::Ordering;
use std::time::Duration;

use lb_core::{LoadBalancer, Outcome, Pick};
use lb_selection::RoundRobin;

use crate::source::Tag;
use crate::state::{Role, Shared, Violation};

/// Picks are counted in the shared total in batches of this many.
const BATCH: u64 = 1024;

/// Selects until told to stop; pauses (counted in `shared.paused`) while `shared.pause` is set.
pub(crate) fn run(shared: &Shared, lb: &LoadBalancer<RoundRobin>) {
    let mut made = 0u64;
    let mut latency = 100u64;
    while !shared.stop.load(Ordering::Relaxed) {
        if shared.pause.load(Ordering::Acquire) {
            pause(shared);
        }
        // What was known to be published before this select began.
        let generation = shared.confirmed_gen.load(Ordering::Acquire);
        let pass = shared.confirmed_pass.load(Ordering::Acquire);
        match lb.select(b"") {
            None => shared.violation(Violation::Missed, || {
                format!("select answered nothing (generation {generation} was published)")
            }),
            Some(pick) => {
                let outcome = check(shared, &pick, generation, pass);
                latency = latency % 900 + 7;
                // The last use of the pick: `report` may take it by value.
                pick.report(outcome, Duration::from_micros(latency));
            }
        }
        made += 1;
        if made.is_multiple_of(BATCH) {
            shared.selects.fetch_add(BATCH, Ordering::Relaxed);
        }
    }
    shared.selects.fetch_add(made % BATCH, Ordering::Relaxed);
}

fn pause(shared: &Shared) {
    shared.paused.fetch_add(1, Ordering::AcqRel);
    while shared.pause.load(Ordering::Acquire) && !shared.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(1));
    }
    shared.paused.fetch_sub(1, Ordering::AcqRel);
}

/// Checks one pick; returns the outcome its request has.
fn check(shared: &Shared, pick: &Pick<RoundRobin>, generation: u64, pass: u64) -> Outcome {
    let set = pick.set();
    match set.backends().first().and_then(|b| b.ext.get::<Tag>()) {
        None => shared.violation(Violation::Torn, || {
            format!("the set of {} backends has no tag first", set.len())
        }),
        Some(tag) => {
            if tag.len != set.len() {
                shared.violation(Violation::Torn, || {
                    format!(
                        "the set of generation {} holds {} backends, its answer {}",
                        tag.generation,
                        set.len(),
                        tag.len
                    )
                });
            }
            if tag.generation < generation {
                shared.violation(Violation::Stale, || {
                    format!(
                        "picked {} from generation {} after generation {generation} was published",
                        pick.addr, tag.generation
                    )
                });
            }
        }
    }
    if pick.weight == 0 {
        shared.violation(Violation::Standby, || {
            format!("picked standby {}", pick.addr)
        });
    }
    let Some(id) = shared.layout.id_of(&pick.addr) else {
        return Outcome::Success;
    };
    shared.picks[id].fetch_add(1, Ordering::Relaxed);
    let down = shared.down_since[id].load(Ordering::Acquire);
    if down != 0 && down <= pass {
        shared.violation(Violation::PickedDown, || {
            format!(
                "picked {} (backend {id}), unhealthy since pass {down}, after pass {pass}",
                pick.addr
            )
        });
    }
    let off = shared.off_since[id].load(Ordering::Acquire);
    if off != 0 && off <= generation {
        shared.violation(Violation::PickedOff, || {
            format!(
                "picked {} (backend {id}), disabled or draining since generation {off}, \
                 after generation {generation} was published",
                pick.addr
            )
        });
    }
    if shared.layout.role(id) == Role::Flaky {
        Outcome::Failure
    } else {
        Outcome::Success
    }
}
