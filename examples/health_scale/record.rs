//! What a pass measured, as one JSON line for the bench report (`--out FILE`), and the clocks it
//! reads beside the wall clock: the process's CPU time and the machine's load average.

use std::time::Duration;

use serde_json::{Value, json};

/// One pass of one part.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row {
    /// `tcp` or `http`.
    pub(crate) probe: &'static str,
    /// Connection reuse (HTTP only).
    pub(crate) reuse: bool,
    pub(crate) backends: usize,
    pub(crate) concurrency: usize,
    pub(crate) threads: usize,
    /// 1 for the first pass.
    pub(crate) pass: usize,
    pub(crate) checked: usize,
    pub(crate) failed: usize,
    pub(crate) unhealthy: usize,
    /// Connections the peer accepted during the pass.
    pub(crate) accepted: u64,
    pub(crate) elapsed: Duration,
    /// CPU time of the whole process during the pass (prober, peer and their system calls).
    pub(crate) cpu: Option<Duration>,
    /// The part of it the peer's thread used (the stand-in backends: accepting, closing,
    /// answering; 0 where thread CPU time cannot be read).
    pub(crate) peer_cpu: Duration,
    /// Heap held by the load balancer with its health records, per backend.
    pub(crate) lb_bytes: f64,
    /// The most the heap held during the pass above what it held before, per backend.
    pub(crate) peak_bytes: f64,
    /// The one-minute load average when the pass started.
    pub(crate) load: Option<f64>,
}

impl Row {
    /// The row as a `{"kind":"health_scale",...}` object.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "kind": "health_scale", "probe": self.probe, "reuse": self.reuse,
            "backends": self.backends, "concurrency": self.concurrency,
            "threads": self.threads, "pass": self.pass,
            "checked": self.checked, "failed": self.failed, "unhealthy": self.unhealthy,
            "accepted": self.accepted,
            "elapsed_ns": self.elapsed.as_nanos() as u64,
            "cpu_ns": self.cpu.map(|c| c.as_nanos() as u64),
            "peer_cpu_ns": self.peer_cpu.as_nanos() as u64,
            "lb_bytes_per_backend": self.lb_bytes,
            "peak_bytes_per_backend": self.peak_bytes,
            "load": self.load,
        })
    }
}

/// CPU time used by this process so far (every thread, user and system), where it can be read.
pub(crate) fn cpu_time() -> Option<Duration> {
    #[cfg(unix)]
    {
        use rustix::time::{ClockId, clock_gettime};
        let t = clock_gettime(ClockId::ProcessCPUTime);
        let secs = u64::try_from(t.tv_sec).ok()?;
        let nanos = u32::try_from(t.tv_nsec).ok()?;
        Some(Duration::new(secs, nanos))
    }
    #[cfg(not(unix))]
    None
}

/// The one-minute load average (Linux), `None` elsewhere.
pub(crate) fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}
