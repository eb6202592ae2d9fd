//! The most the heap holds during some work, sampled on a thread of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the heap is read.
const EVERY: Duration = Duration::from_millis(1);

/// A running sampler.
#[derive(Debug)]
pub(crate) struct Peak {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<usize>,
}

impl Peak {
    /// Reads `heap` (the bytes the heap holds) every millisecond until [`Peak::stop`].
    pub(crate) fn start(heap: fn() -> usize) -> Peak {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peak = heap();
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(EVERY);
                peak = peak.max(heap());
            }
            peak.max(heap())
        });
        Peak { stop, thread }
    }

    /// The most the heap held while sampled (at least its size at the start and at the end).
    pub(crate) fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        // The sampler only reads a counter and sleeps: it cannot panic.
        self.thread.join().expect("the heap sampler does not panic")
    }
}
