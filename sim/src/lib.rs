//! lb-sim: a deterministic load-balancing simulator that drives lb's real strategies and policies
//! through scenarios in virtual time.
//!
//! Clients send requests at a set rate through [`LoadBalancer::select`](lb_core::LoadBalancer)
//! and the request lifecycle ([`Pick`](lb_core::Pick), reported when the request ends), with
//! passive health, slow start and zone-aware routing as in production; servers have log-normal
//! service times, a number of requests served at once, a bounded queue and a failure rate. Time
//! is tokio's paused clock, advanced event by event, so a minute of traffic takes a fraction of
//! a second and lb's time-dependent policies run exactly as they would. No socket is opened.
//!
//! `cargo xtask sim [--quick] [--scenario NAME]` runs the catalogue ([`catalogue`]) and writes
//! `target/lb-report/sim.md` with its plots; a full run of every scenario also rewrites
//! `docs/choosing-a-strategy.md`.
//!
//! ```
//! use std::time::Duration;
//! use lb_sim::{Scenario, Size, Strategy, Summary, catalogue};
//!
//! let mut scenario: Scenario = catalogue(Size::Quick).remove(0); // all equal
//! scenario.duration = Duration::from_secs(2);
//! let record = Strategy::RoundRobin.run(&scenario, 1);
//! let summary = Summary::of(&scenario, &record);
//! assert_eq!(summary.failed, 0);
//! assert!(summary.busiest < 1.2, "round robin spreads evenly: {}", summary.busiest);
//! ```
//!
//! # Determinism
//!
//! Everything the simulator draws (arrivals, keys, service times, failures) comes from
//! generators seeded from the run's seed, arrivals and keys from a stream of their own so that
//! every strategy of a scenario sees the same requests. Each run has a thread of its own whose
//! lb generators (the random strategies' draws, slow start's thinning) are seeded from the same
//! seed ([`lb_selection::kit::seed_thread_random`]): the same seed gives the same numbers.
//!
//! # Feature flags
//!
//! None.

mod engine;
pub mod guide;
mod plot;
mod record;
pub mod report;
mod scenario;
mod server;
mod strategy;
mod summary;

pub use record::{BUCKET, Bucket, KeyMove, Record};
pub use scenario::{Change, HealthCheck, Keys, Scenario, Size, catalogue, catalogue_over};
pub use server::ServerSpec;
pub use strategy::Strategy;
pub use summary::{Steer, Summary};

/// Runs every strategy of `strategies` through every scenario of `scenarios` from `seed`, on up
/// to `threads` threads (each run on a thread of its own), and returns the records in scenario
/// order, then strategy order.
pub fn run_all(
    scenarios: &[Scenario],
    strategies: &[Strategy],
    seed: u64,
    threads: usize,
) -> Vec<Record> {
    let jobs: Vec<(usize, &Scenario, Strategy)> = scenarios
        .iter()
        .flat_map(|s| strategies.iter().map(move |t| (s, *t)))
        .enumerate()
        .map(|(i, (s, t))| (i, s, t))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::with_capacity(jobs.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(index, scenario, strategy)) = jobs.get(i) else {
                        break;
                    };
                    let record = strategy.run(scenario, seed);
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((index, record));
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, r)| r).collect()
}
