//! File descriptors: the open-file limit, raised at start, and how many sockets a run may hold.
//!
//! A probe holds one socket while it runs, and the in-process peer one per connection it has
//! accepted and not yet closed; with connection reuse, every probed backend keeps one idle
//! connection, which is two descriptors in this process (the prober's end and the server's).

/// Descriptors kept aside for everything else (the runtimes, standard streams, the listeners).
pub(crate) const RESERVE: u64 = 256;

/// The open-file limit before and after [`raise`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limit {
    /// The soft limit at start.
    pub(crate) before: u64,
    /// The soft limit now.
    pub(crate) now: u64,
}

/// Raises the soft open-file limit to the hard limit, and both to `wanted` when that is higher
/// and the process is allowed to (Linux: `CAP_SYS_RESOURCE`, up to `fs.nr_open`). Limits that
/// cannot be read count as unlimited; a refused raise keeps what was there.
#[cfg(unix)]
pub(crate) fn raise(wanted: u64) -> Limit {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let before = limit.current.unwrap_or(u64::MAX);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    let set = |soft: u64, hard: u64| {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(soft),
                maximum: Some(hard),
            },
        )
    };
    if wanted > hard && set(wanted, wanted).is_ok() {
        return Limit {
            before,
            now: wanted,
        };
    }
    let now = if before < hard && set(hard, hard).is_ok() {
        hard
    } else {
        before
    };
    Limit { before, now }
}

/// Elsewhere there is no such limit to raise.
#[cfg(not(unix))]
pub(crate) fn raise(_wanted: u64) -> Limit {
    Limit {
        before: u64::MAX,
        now: u64::MAX,
    }
}

/// The probes that may run at once under `limit` when each holds `per_probe` descriptors and
/// `held` are held for the whole run: `wanted`, or fewer when the limit is short (at least 1).
pub(crate) fn concurrency(wanted: usize, limit: u64, per_probe: u64, held: u64) -> usize {
    let spare = limit.saturating_sub(RESERVE).saturating_sub(held);
    let fits = usize::try_from(spare / per_probe.max(1)).unwrap_or(usize::MAX);
    wanted.min(fits).max(1)
}

/// The backends whose idle connections (two descriptors each, both ends in this process) fit
/// under `limit` beside `concurrency` probes of two descriptors: `wanted`, or fewer.
pub(crate) fn reused_backends(wanted: usize, limit: u64, concurrency: usize) -> usize {
    let probes = 2 * concurrency as u64;
    let spare = limit.saturating_sub(RESERVE).saturating_sub(probes);
    wanted.min(usize::try_from(spare / 2).unwrap_or(usize::MAX))
}
