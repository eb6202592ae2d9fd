//! What every part of the soak shares: the population's layout, the facts the checks compare
//! against (which backends are confirmed down, disabled, published), and the violations found.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use lb_core::Address;

/// What each backend of the population does, by its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Always present, enabled, weight 1, listening, probed fine, never failing requests: it
    /// must be picked whenever enough picks were made.
    Steady,
    /// Its listener is closed and reopened between health passes.
    Flapping,
    /// Every request to it is reported failed: passive health ejects it.
    Flaky,
    /// Discovery changes its enablement (enabled, draining, disabled).
    Toggled,
    /// Its probe panics, every time.
    ProbePanics,
    /// Its probe never ends, every time (the pass's deadline ends it).
    ProbeHangs,
    /// Discovery changes its weight, 0 (standby) to 10.
    Reweighted,
    /// Discovery adds and removes it (the churn pool), and changes its weight.
    Churned,
}

/// The population: `n` loopback addresses `127.1.x.y:port`, one listener each.
#[derive(Debug)]
pub(crate) struct Layout {
    pub(crate) n: usize,
    pub(crate) port: u16,
}

impl Layout {
    /// Ids at or above this are the churn pool; below are the core, always present.
    pub(crate) fn core(&self) -> usize {
        self.n * 4 / 5
    }

    pub(crate) fn role(&self, id: usize) -> Role {
        if id >= self.core() {
            return Role::Churned;
        }
        match (id % 1000, id % 20) {
            (505, _) => Role::ProbePanics,
            (506, _) => Role::ProbeHangs,
            (_, 0) => Role::Steady,
            (_, 1) => Role::Flapping,
            (_, 2) => Role::Flaky,
            (_, 3) => Role::Toggled,
            _ => Role::Reweighted,
        }
    }

    /// The listening address of backend `id`: `127.1.a.b` with `a = id / 250`,
    /// `b = id % 250 + 1`, all on one port, so that no outgoing connection's ephemeral port can
    /// take a closed listener's place.
    pub(crate) fn socket(&self, id: usize) -> SocketAddr {
        let (a, b) = (id / 250, id % 250 + 1);
        // `n` is checked at start to fit 127.1.0.0/16 (at most 65,280 backends).
        let ip = Ipv4Addr::new(127, 1, u8::try_from(a).unwrap_or(u8::MAX), b as u8);
        SocketAddr::new(IpAddr::V4(ip), self.port)
    }

    pub(crate) fn address(&self, id: usize) -> Address {
        Address::Inet(self.socket(id))
    }

    /// The id of a backend address of the population, `None` for any other address.
    pub(crate) fn id_of(&self, addr: &Address) -> Option<usize> {
        let Address::Inet(SocketAddr::V4(v4)) = addr else {
            return None;
        };
        let [a, b, c, d] = v4.ip().octets();
        if a != 127 || b != 1 || d == 0 || d > 250 || v4.port() != self.port {
            return None;
        }
        let id = usize::from(c) * 250 + usize::from(d) - 1;
        (id < self.n).then_some(id)
    }
}

/// The kinds of violation the soak looks for, each counted with its first occurrence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Violation {
    /// A pick's set disagrees with the discovery answer it was built from (length, tag).
    Torn,
    /// A pick from a set older than one an update had published before the select began.
    Stale,
    /// `select` answered nothing while ready backends existed.
    Missed,
    /// A standby (weight 0) picked while positive-weight backends were ready.
    Standby,
    /// A backend confirmed unhealthy before the select began was picked.
    PickedDown,
    /// A backend disabled or draining in a published update was picked.
    PickedOff,
    /// A backend's health after a pass differs from what its probe found in that pass.
    FlipLate,
    /// A ready backend was never picked over many picks.
    Starved,
    /// The published set lost its discovery answer (emptied, or not from the source).
    Emptied,
    /// The published discovery generation went back.
    Regressed,
    /// A fault did not end with the last good set kept and the service running.
    FaultNotSurvived,
    /// The heap grew after warm-up.
    MemoryGrew,
}

impl Violation {
    pub(crate) const ALL: [Violation; 12] = [
        Violation::Torn,
        Violation::Stale,
        Violation::Missed,
        Violation::Standby,
        Violation::PickedDown,
        Violation::PickedOff,
        Violation::FlipLate,
        Violation::Starved,
        Violation::Emptied,
        Violation::Regressed,
        Violation::FaultNotSurvived,
        Violation::MemoryGrew,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Violation::Torn => "torn snapshot",
            Violation::Stale => "removed or stale backend selected after its update returned",
            Violation::Missed => "ready backend missed by select (no pick)",
            Violation::Standby => "standby picked while others were ready",
            Violation::PickedDown => "unhealthy backend selected",
            Violation::PickedOff => "disabled or draining backend selected",
            Violation::FlipLate => "health flip not applied within one pass",
            Violation::Starved => "ready backend never selected",
            Violation::Emptied => "published set lost",
            Violation::Regressed => "published generation went back",
            Violation::FaultNotSurvived => "fault not survived",
            Violation::MemoryGrew => "memory grew after warm-up",
        }
    }
}

/// Everything the soak's threads and tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) layout: Layout,
    /// Whether backend `id`'s listener is open.
    pub(crate) open: Vec<AtomicBool>,
    /// The health pass after which backend `id` was confirmed unhealthy (0: not confirmed, or
    /// cleared before it may turn healthy again).
    pub(crate) down_since: Vec<AtomicU64>,
    /// The discovery generation in which backend `id` was disabled or set draining (0: enabled).
    pub(crate) off_since: Vec<AtomicU64>,
    /// Picks of backend `id`.
    pub(crate) picks: Vec<AtomicU32>,
    /// The last health pass whose results were confirmed.
    pub(crate) confirmed_pass: AtomicU64,
    /// The newest discovery generation an update is known to have published.
    pub(crate) confirmed_gen: AtomicU64,
    /// The health pass running (for the probes' injected faults).
    pub(crate) pass: AtomicU64,
    /// Whether probe faults are injected in waves now.
    pub(crate) probe_waves: AtomicBool,
    /// Selects made, over all threads.
    pub(crate) selects: AtomicU64,
    /// Set to stop the selecting threads for a clock jump; they count themselves in `paused`.
    pub(crate) pause: AtomicBool,
    pub(crate) paused: AtomicUsize,
    pub(crate) stop: AtomicBool,
    counts: [AtomicU64; Violation::ALL.len()],
    first: Mutex<Vec<(Violation, String)>>,
}

impl Shared {
    pub(crate) fn new(layout: Layout) -> Self {
        let n = layout.n;
        let many = |_| AtomicU64::new(0);
        Shared {
            open: (0..n).map(|_| AtomicBool::new(false)).collect(),
            down_since: (0..n).map(many).collect(),
            off_since: (0..n).map(many).collect(),
            picks: (0..n).map(|_| AtomicU32::new(0)).collect(),
            layout,
            confirmed_pass: AtomicU64::new(0),
            confirmed_gen: AtomicU64::new(0),
            pass: AtomicU64::new(0),
            probe_waves: AtomicBool::new(false),
            selects: AtomicU64::new(0),
            pause: AtomicBool::new(false),
            paused: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            counts: Default::default(),
            first: Mutex::new(Vec::new()),
        }
    }

    /// Counts a violation; keeps the first few descriptions of each kind.
    pub(crate) fn violation(&self, kind: Violation, what: impl FnOnce() -> String) {
        let index = Violation::ALL.iter().position(|v| *v == kind).unwrap_or(0);
        let before = self.counts[index].fetch_add(1, Ordering::Relaxed);
        if before < 3 {
            let text = what();
            eprintln!("soak: violation: {}: {text}", kind.name());
            // A poisoned lock only means another thread panicked while pushing: keep going.
            let mut first = self.first.lock().unwrap_or_else(|e| e.into_inner());
            first.push((kind, text));
        }
    }

    pub(crate) fn count(&self, kind: Violation) -> u64 {
        let index = Violation::ALL.iter().position(|v| *v == kind).unwrap_or(0);
        self.counts[index].load(Ordering::Relaxed)
    }

    pub(crate) fn total_violations(&self) -> u64 {
        Violation::ALL.iter().map(|v| self.count(*v)).sum()
    }

    /// Whether the probe of `id` panics in health pass `pass`.
    pub(crate) fn probe_panics(&self, id: usize, pass: u64) -> bool {
        self.layout.role(id) == Role::ProbePanics
            || (self.in_waves(id) && (id as u64 * 11 + pass).is_multiple_of(100))
    }

    /// Whether the probe of `id` hangs in health pass `pass`.
    pub(crate) fn probe_hangs(&self, id: usize, pass: u64) -> bool {
        self.layout.role(id) == Role::ProbeHangs
            || (self.in_waves(id) && (id as u64 * 7 + pass).is_multiple_of(50))
    }

    /// Whether `id` takes part in the waves of probe faults when they are on: core backends
    /// other than the steady ones, whose picks are counted.
    fn in_waves(&self, id: usize) -> bool {
        self.probe_waves.load(Ordering::Relaxed)
            && !matches!(self.layout.role(id), Role::Churned | Role::Steady)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_addresses_round_trip() {
        let layout = Layout {
            n: 10_000,
            port: 7000,
        };
        for id in [0, 1, 249, 250, 9_999] {
            assert_eq!(layout.id_of(&layout.address(id)), Some(id));
        }
        assert_eq!(layout.socket(250).to_string(), "127.1.1.1:7000");
        assert_eq!(
            layout.id_of(&Address::Inet("127.0.0.1:7000".parse().unwrap())),
            None
        );
        assert_eq!(layout.role(505), Role::ProbePanics);
        assert_eq!(layout.role(8_000), Role::Churned);
    }
}
