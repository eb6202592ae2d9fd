//! Running work on a few short-lived threads: how a large ring is built in parallel.
//!
//! The calling thread works too, and work is taken from shared queues, so a thread that the system
//! is slow to start (or cannot start at all) costs little: the others take its share.

use std::num::NonZeroUsize;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::Duration;

/// The most threads a build uses by default: more would add start-up and memory traffic for little
/// gain on the sizes a ring has.
pub(crate) const DEFAULT_MAX_THREADS: usize = 4;

/// Threads the system can run at once, asked once: the answer reads cgroup files on Linux.
pub(crate) fn available() -> usize {
    static AVAILABLE: OnceLock<usize> = OnceLock::new();
    *AVAILABLE.get_or_init(|| thread::available_parallelism().map_or(1, NonZeroUsize::get))
}

/// Locks `m`. A poisoned lock means a worker panicked; that panic reaches the caller when the
/// scope ends, so the data behind the lock is still fine to use until then.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `worker` on `threads` threads at once, the calling thread included, and returns when all
/// have returned. A thread the system refuses to start is no error: `worker` is written to take
/// work from a queue until none is left, so the others do its share.
pub(crate) fn on_threads(threads: usize, worker: impl Fn() + Sync) {
    if threads <= 1 {
        worker();
        return;
    }
    thread::scope(|scope| {
        for _ in 1..threads {
            let spawned = thread::Builder::new()
                .name("lb-ketama-build".into())
                .spawn_scoped(scope, &worker);
            if spawned.is_err() {
                break;
            }
        }
        // Linux often queues a new thread on the CPU of the thread that started it and leaves it
        // there until the next load-balancing tick, a millisecond or more later, while other CPUs
        // idle: the caller would then run every job itself before the new thread ever starts.
        // Sleeping for a moment lets the new thread start here, and this thread wakes up on an
        // idle CPU. It costs tens of microseconds on builds that take milliseconds.
        thread::sleep(Duration::from_micros(1));
        worker();
    });
}

/// Runs `work` on every job, on up to `threads` threads including the caller (no more than there
/// are jobs), and returns the results in the order of the jobs.
pub(crate) fn run<J, R, F>(threads: usize, jobs: Vec<J>, work: F) -> Vec<R>
where
    J: Send,
    R: Send,
    F: Fn(J) -> R + Sync,
{
    let n = jobs.len();
    let threads = threads.min(n);
    if threads <= 1 {
        return jobs.into_iter().map(work).collect();
    }
    // Popped from the back: job 0 first.
    let queue = Mutex::new(jobs.into_iter().enumerate().rev().collect::<Vec<_>>());
    let done = Mutex::new(Vec::with_capacity(n));
    on_threads(threads, || {
        loop {
            let next = lock(&queue).pop();
            let Some((i, job)) = next else { break };
            let result = work(job);
            lock(&done).push((i, result));
        }
    });
    let mut done = done.into_inner().unwrap_or_else(PoisonError::into_inner);
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// What [`run_then`]'s threads share.
struct Rounds<J, R, K, T, X> {
    first: Vec<(usize, J)>,
    results: Vec<(usize, R)>,
    /// First-round jobs taken and not yet done.
    running: usize,
    then: Option<T>,
    second: Vec<K>,
    out: Option<X>,
    /// A first-round job panicked: its result will never come, so nobody waits for it.
    failed: bool,
}

/// Runs `first` on every job, on up to `threads` threads including the caller; then, once all are
/// done, `then` on their results (in job order), which returns a second round of jobs and a value;
/// runs `second` on those jobs on the same threads, and returns the value.
///
/// A thread with nothing left to do in the first round waits for the others, so the second round
/// starts on threads that are already running. A panic in any job stops every thread and reaches
/// the caller.
pub(crate) fn run_then<J, R, K, X, T>(
    threads: usize,
    jobs: Vec<J>,
    first: impl Fn(J) -> R + Sync,
    then: T,
    second: impl Fn(K) + Sync,
) -> X
where
    J: Send,
    R: Send,
    K: Send,
    X: Send,
    T: FnOnce(Vec<R>) -> (Vec<K>, X) + Send,
{
    let threads = threads.min(jobs.len());
    if threads <= 1 {
        let (jobs, out) = then(jobs.into_iter().map(first).collect());
        jobs.into_iter().for_each(second);
        return out;
    }
    let state = Mutex::new(Rounds {
        first: jobs.into_iter().enumerate().rev().collect(),
        results: Vec::new(),
        running: 0,
        then: Some(then),
        second: Vec::new(),
        out: None,
        failed: false,
    });
    on_threads(threads, || {
        let mut idle = 0u32;
        loop {
            let mut s = lock(&state);
            if s.failed {
                // Another thread's job panicked; that panic reaches the caller when the scope
                // ends, once every thread has stopped.
                break;
            }
            if let Some((i, job)) = s.first.pop() {
                s.running += 1;
                drop(s);
                let result = panic::catch_unwind(AssertUnwindSafe(|| first(job)));
                let mut s = lock(&state);
                let result = match result {
                    Ok(result) => result,
                    Err(payload) => {
                        // Without this, the other threads would wait for the second round
                        // forever and the scope would never end.
                        s.failed = true;
                        drop(s);
                        panic::resume_unwind(payload);
                    }
                };
                s.results.push((i, result));
                s.running -= 1;
                if s.first.is_empty() && s.running == 0 {
                    // The last first-round job is done, here: make the second round.
                    if let Some(then) = s.then.take() {
                        let mut results = std::mem::take(&mut s.results);
                        results.sort_unstable_by_key(|(i, _)| *i);
                        let (jobs, out) = then(results.into_iter().map(|(_, r)| r).collect());
                        s.second = jobs;
                        s.out = Some(out);
                    }
                }
                continue;
            }
            if s.then.is_some() {
                // The first round is still running on another thread: wait for it, briefly
                // yielding the CPU, then sleeping.
                drop(s);
                idle += 1;
                if idle < 64 {
                    thread::yield_now();
                } else {
                    thread::sleep(Duration::from_micros(20));
                }
                continue;
            }
            let Some(job) = s.second.pop() else { break };
            drop(s);
            second(job);
        }
    });
    let s = state.into_inner().unwrap_or_else(PoisonError::into_inner);
    // `then` ran exactly once: the thread that finished the last first-round job called it.
    s.out
        .expect("the first round always ends and makes the second")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_come_back_in_job_order() {
        for n in [0usize, 1, 2, 5] {
            let jobs: Vec<usize> = (0..n).collect();
            let got = run(3, jobs, |j| j * 10);
            assert_eq!(got, (0..n).map(|j| j * 10).collect::<Vec<_>>());
        }
    }

    #[test]
    fn no_more_threads_than_asked_for() {
        for threads in [1usize, 2, 3] {
            let ids = Mutex::new(Vec::new());
            run(threads, (0..9).collect(), |_: i32| {
                lock(&ids).push(thread::current().id());
            });
            let mut ids = ids.into_inner().unwrap();
            assert_eq!(ids.len(), 9);
            ids.sort_unstable_by_key(|id| format!("{id:?}"));
            ids.dedup();
            assert!(ids.len() <= threads, "{} threads for {threads}", ids.len());
        }
    }

    #[test]
    fn jobs_may_borrow_disjoint_parts_of_a_buffer() {
        let mut buf = vec![0u32; 100];
        let jobs: Vec<&mut [u32]> = buf.chunks_mut(30).collect();
        let lens = run(4, jobs, |chunk| {
            chunk.fill(7);
            chunk.len()
        });
        assert_eq!(lens, [30, 30, 30, 10]);
        assert!(buf.iter().all(|&x| x == 7));
    }

    #[test]
    fn every_thread_runs_the_worker_once() {
        for threads in [0usize, 1, 3] {
            let calls = AtomicUsize::new(0);
            on_threads(threads, || {
                calls.fetch_add(1, Ordering::Relaxed);
            });
            assert_eq!(calls.into_inner(), threads.max(1));
        }
    }

    #[test]
    fn the_second_round_runs_after_the_first() {
        for threads in [1usize, 2, 3] {
            let mut buf = vec![0u32; 12];
            let jobs: Vec<&mut [u32]> = buf.chunks_mut(3).collect();
            let sums = run_then(
                threads,
                jobs,
                |chunk| {
                    chunk.fill(1);
                    chunk
                },
                |chunks| {
                    // Every chunk is filled before any is read: each doubles the next.
                    let pairs: Vec<(&mut [u32], u32)> = chunks
                        .into_iter()
                        .map(|c| {
                            let sum = c.iter().sum();
                            (c, sum)
                        })
                        .collect();
                    let total: u32 = pairs.iter().map(|(_, s)| s).sum();
                    (pairs, total)
                },
                |(chunk, sum)| chunk.iter_mut().for_each(|x| *x += sum),
            );
            assert_eq!(sums, 12);
            assert_eq!(buf, [4; 12], "{threads} threads");
        }
    }

    #[test]
    fn a_panic_in_the_first_round_reaches_the_caller() {
        // The thread that does not panic must stop waiting for the lost result: the panic is
        // reported to the caller instead of every other thread waiting for it forever.
        for threads in [2usize, 3] {
            let (tx, rx) = std::sync::mpsc::channel();
            thread::spawn(move || {
                let outcome = std::panic::catch_unwind(|| {
                    run_then(
                        threads,
                        (0..6).collect(),
                        |j: u32| {
                            assert_ne!(j, 1, "job 1 fails");
                            j
                        },
                        |results| (results, ()),
                        |_| {},
                    )
                });
                let _ = tx.send(outcome.is_err());
            });
            let got = rx.recv_timeout(Duration::from_secs(60));
            assert_eq!(
                got,
                Ok(true),
                "{threads} threads: the panic must end the build"
            );
        }
    }

    #[test]
    fn available_is_at_least_one() {
        assert!(available() >= 1);
    }
}
