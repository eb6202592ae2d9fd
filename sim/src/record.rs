//! What a run measures, as it runs: latencies, outcomes, picks per server over time, ejections
//! and where keys went around a change of the set.

use std::time::Duration;

use crate::scenario::Scenario;

/// The width of a time bucket of the record.
pub const BUCKET: Duration = Duration::from_millis(100);

/// Requests of one time bucket, by arrival.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Requests sent to each server (by server number), by arrival.
    pub picks: Vec<u32>,
    /// Requests that arrived.
    pub requests: u32,
    /// Of those, the ones that failed (refused, failed by the server, or no backend).
    pub failed: u32,
}

/// Where keys went around one change of the set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyMove {
    /// The server removed, or added.
    pub server: usize,
    /// Whether the server was added (else removed).
    pub added: bool,
    /// The server each key last went to before the change (`u32::MAX`: not seen).
    pub before: Vec<u32>,
    /// The server each key first went to after the change, from [`KeyMove::settled`] on
    /// (`u32::MAX`: not seen).
    pub after: Vec<u32>,
    /// When "after" starts, from the start of the run: the change itself for a removal, the end
    /// of slow start's ramp for an addition (while the new server ramps up, slow start sends
    /// most of its keys elsewhere, and they would not count as moved).
    pub settled: Duration,
}

impl KeyMove {
    pub(crate) fn removal(server: usize, at: Duration) -> Self {
        KeyMove {
            server,
            added: false,
            before: Vec::new(),
            after: Vec::new(),
            settled: at,
        }
    }

    pub(crate) fn addition(server: usize, settled: Duration) -> Self {
        KeyMove {
            added: true,
            ..Self::removal(server, settled)
        }
    }

    /// The share of keys seen on both sides that moved, among the keys whose server before was
    /// `on` (`None`: any server), or was not `on` when `not_on`; `None` when no such key was
    /// seen on both sides.
    pub fn moved(&self, on: Option<usize>, not_on: bool) -> Option<f64> {
        let mut keys = 0;
        let mut moved = 0;
        for (&b, &a) in self.before.iter().zip(&self.after) {
            if b == u32::MAX || a == u32::MAX {
                continue;
            }
            if let Some(on) = on
                && (b as usize == on) == not_on
            {
                continue;
            }
            keys += 1;
            moved += u64::from(a != b);
        }
        (keys > 0).then(|| moved as f64 / keys as f64)
    }
}

/// Everything one run of one strategy through one scenario measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The scenario's name.
    pub scenario: &'static str,
    /// The strategy's name (`round_robin`).
    pub strategy: &'static str,
    /// Whether the strategy picks by key (`BackendSelection::USES_KEY`).
    pub uses_key: bool,
    /// Latencies of the successful requests, in microseconds, sorted when the run ends.
    pub latencies_us: Vec<u32>,
    /// Requests that arrived.
    pub requests: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Requests for which `select` found no backend (counted in `failed`).
    pub no_backend: u64,
    /// Per time bucket of [`BUCKET`].
    pub buckets: Vec<Bucket>,
    /// When a bad server's failure first found it ejected, from the start.
    pub first_ejection: Option<Duration>,
    /// One per removal or addition of a server.
    pub key_moves: Vec<KeyMove>,
    /// Each server's weight, by server number.
    pub weights: Vec<u32>,
    /// Whether each server was in the set at the end.
    pub present_at_end: Vec<bool>,
    /// Servers at the start.
    pub initial_servers: usize,
}

impl Record {
    pub(crate) fn new(scenario: &Scenario, uses_key: bool) -> Self {
        let buckets = scenario.duration.as_nanos().div_ceil(BUCKET.as_nanos()) as usize + 1;
        Record {
            scenario: scenario.name,
            strategy: "",
            uses_key,
            latencies_us: Vec::new(),
            requests: 0,
            failed: 0,
            no_backend: 0,
            buckets: vec![Bucket::default(); buckets],
            first_ejection: None,
            key_moves: Vec::new(),
            weights: Vec::new(),
            present_at_end: Vec::new(),
            initial_servers: scenario.servers.len(),
        }
    }

    fn bucket(&mut self, at: u64) -> &mut Bucket {
        let i = (at / BUCKET.as_nanos() as u64) as usize;
        let last = self.buckets.len() - 1;
        &mut self.buckets[i.min(last)]
    }

    pub(crate) fn no_backend(&mut self, at: u64) {
        self.requests += 1;
        self.failed += 1;
        self.no_backend += 1;
        let bucket = self.bucket(at);
        bucket.requests += 1;
        bucket.failed += 1;
    }

    pub(crate) fn picked(&mut self, at: u64, server: usize) {
        self.requests += 1;
        let bucket = self.bucket(at);
        bucket.requests += 1;
        if bucket.picks.len() <= server {
            bucket.picks.resize(server + 1, 0);
        }
        bucket.picks[server] += 1;
    }

    /// Key `key` went to `server` at `at`.
    pub(crate) fn keyed(&mut self, at: u64, key: usize, server: usize, last: &mut [u32]) {
        let server = u32::try_from(server).unwrap_or(u32::MAX - 1);
        if let Some(slot) = last.get_mut(key) {
            *slot = server;
        }
        // Only the latest change is still open: a later change ends the earlier one's "after".
        if let Some(change) = self.key_moves.last_mut()
            && Duration::from_nanos(at) >= change.settled
            && let Some(slot) = change.after.get_mut(key)
            && *slot == u32::MAX
        {
            *slot = server;
        }
    }

    /// The set changes now: remember where every key went last.
    pub(crate) fn key_change(&mut self, mut change: KeyMove, last: &[u32]) {
        change.before = last.to_vec();
        change.after = vec![u32::MAX; last.len()];
        self.key_moves.push(change);
    }

    pub(crate) fn ended(&mut self, arrived: u64, latency: Duration, failed: bool) {
        if failed {
            self.failed += 1;
            self.bucket(arrived).failed += 1;
        } else {
            let us = latency.as_micros().min(u128::from(u32::MAX));
            self.latencies_us.push(us as u32);
        }
    }

    pub(crate) fn ejected(&mut self, at: u64) {
        self.first_ejection.get_or_insert(Duration::from_nanos(at));
    }

    pub(crate) fn finish(&mut self, weights: Vec<u32>, present: Vec<bool>) {
        self.latencies_us.sort_unstable();
        let servers = weights.len();
        for bucket in &mut self.buckets {
            bucket.picks.resize(servers, 0);
        }
        self.weights = weights;
        self.present_at_end = present;
    }
}
