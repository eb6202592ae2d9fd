//! [`LoadSignals`]: how lb-core keeps each backend's load signals.

use std::time::Duration;

/// How the load signals of every backend are kept: the decay of the peak-EWMA latency
/// estimate, the estimate of a backend with no sample yet, and the window of outcome counts.
/// Set with [`LoadBalancer::set_load_signals`](crate::LoadBalancer::set_load_signals); the
/// defaults are tower's and linkerd2-proxy's (`PeakEwma`) and Envoy's (outlier detection).
///
/// - **Latency** is a *peak EWMA* of the latencies given to [`Pick::report`](crate::Pick::report):
///   a sample above the estimate replaces it at once (a backend that turns slow is seen at its
///   first slow answer); a lower one moves the estimate towards it by `1 − e^(−Δt/decay)`, Δt
///   being the time since the previous sample; read later, the estimate has decayed towards zero
///   by `e^(−Δt/decay)`, so a backend that receives no traffic becomes attractive again and is
///   tried. A backend with no sample yet is estimated at `default_latency`.
/// - **Outcome windows**: successes and failures are counted per window of `window`; when a
///   report finds the window over, it closes it for every backend of the set at once (the last
///   complete window is what [`BackendState::last_window`](crate::BackendState::last_window)
///   returns and what outlier detection judges). No timer runs: a load balancer that serves no
///   requests closes no windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadSignals {
    /// The decay time constant τ of the latency estimate. Default: 10 s.
    pub decay: Duration,
    /// The latency estimate of a backend with no sample yet. Default: 30 ms.
    pub default_latency: Duration,
    /// The length of an outcome window. Default: 10 s.
    pub window: Duration,
}

impl Default for LoadSignals {
    fn default() -> Self {
        LoadSignals {
            decay: Duration::from_secs(10),
            default_latency: Duration::from_millis(30),
            window: Duration::from_secs(10),
        }
    }
}

impl LoadSignals {
    /// Sets [`LoadSignals::decay`].
    pub fn with_decay(mut self, decay: Duration) -> Self {
        self.decay = decay;
        self
    }

    /// Sets [`LoadSignals::default_latency`].
    pub fn with_default_latency(mut self, latency: Duration) -> Self {
        self.default_latency = latency;
        self
    }

    /// Sets [`LoadSignals::window`].
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }
}
