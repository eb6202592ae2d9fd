//! `compare`: lb against pingora-load-balancing 0.9.1 in one process. See the crate docs.
//!
//! `cargo run --release --manifest-path benches/compare-pingora/Cargo.toml --bin compare --
//! [--quick] [--out FILE]`. Prints each pair with the ratio lb/pingora, writes JSON lines, and
//! exits with status 1 when lb's first picks differ from pingora's on an IPv4 set.
//!
//! - `select`: per select, N = 10, 1,000, 10,000, backends of weights 1 to 10 (and weight 1 for
//!   `consistent_w1`), a health check set on both sides and never run (every backend ready), the
//!   same 4,096 16-byte keys. lb's owned `Pick` (`LoadBalancer::select`, the like-for-like
//!   comparison with pingora's owned `Backend`), lb's per-worker `Selector`, and pingora's
//!   `LoadBalancer::select(key, 256)`; 256 is the `max_iterations` of pingora's own
//!   documentation and examples (it only matters when backends are down). Batches of 1,000
//!   selects; the contenders take turns in blocks of batches, each block starting with untimed
//!   batches so that no contender is timed on caches another left (see `timing`); the median
//!   timed batch is the figure.
//! - `build`: `BackendSelection::build` of each strategy's selector over 10,000 backends, lb's and
//!   pingora's builds alternating; the median build. lb's `Consistent` builds its ring on up to 4
//!   threads; the `consistent_ring_1thread` row is lb-ketama's ring alone on one thread.
//! - `update`: one and ten backends of 10,000 (weights 1 to 10; `consistent_w1`: weight 1)
//!   added and removed in turn. pingora: `LoadBalancer::update` over a source answering the two
//!   sets in turn; lb: `apply_delta` of the change, and `apply` of the whole set. The median
//!   update.
//! - `first_pick`: 10,000 keys (`user-0` ...) on IPv4 and IPv6 sets of 1 to 10,000 backends of
//!   weight 1 and of weights 1 to 10. On IPv4 sets every differing key fails the run, except a
//!   consistent-hash key that lands on a *tie* (two backends with a ring point of the same hash,
//!   which lb breaks as nginx does and pingora's unstable sort breaks either way): those are
//!   counted. Rings of millions of points have a few thousand such ties. On IPv6 sets the
//!   differences are counted: pingora hashes IPv6 hosts without the brackets nginx hashes.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use lb_benches::sets::{keys, text_key, weighted};
use lb_compare_pingora::args::Args;
use lb_compare_pingora::sets::{
    Spec, ipv4, ipv6, lb_backends, lb_load_balancer, pingora_backends, pingora_load_balancer,
};
use lb_compare_pingora::timing::{Plan, Stats, interleave2, interleave3};
use lb_compare_pingora::update::update_row;
use lb_core::BackendSelection;
use lb_ketama::{Bucket, Continuum, hash};
use lb_selection::{Consistent, FnvHash, KetamaConfig, Random, RoundRobin};
use pingora_load_balancing::selection as ps;
use ps::{BackendIter, BackendSelection as PingoraSelection};
use serde_json::{Value, json};

/// pingora's `max_iterations` argument, as its documentation and examples pass it.
const MAX_ITERATIONS: usize = 256;

/// Selects per timed batch.
const BATCH: usize = 1_000;

/// How long each part runs.
#[derive(Debug, Clone, Copy)]
struct Effort {
    select: Plan,
    build_rounds: usize,
    update_rounds: usize,
}

/// `count` backends outside the sets of [`ipv4`] (another port), to add and remove.
fn ipv4_extra(count: usize) -> Vec<Spec> {
    ipv4(count, weighted)
        .into_iter()
        .map(|s| Spec {
            addr: SocketAddr::new(s.addr.ip(), 8081),
            weight: s.weight,
        })
        .collect()
}

fn ratio(lb: f64, pingora: f64) -> f64 {
    lb / pingora
}

/// Times one strategy at one size; `None` config means pingora's default.
fn select_row<L, P>(
    strategy: &str,
    specs: &[Spec],
    lb_config: L::Config,
    effort: Effort,
) -> Result<Value, String>
where
    L: BackendSelection,
    P: PingoraSelection + 'static,
    P::Iter: BackendIter,
{
    let n = specs.len();
    let keys = keys();
    let lb = lb_load_balancer::<L>(specs, lb_config);
    let mut selector = lb.selector();
    let pingora = pingora_load_balancer::<P>(specs, None)?;
    // Every contender must pick something, or the timings would compare different work.
    if lb.select(&keys[0]).is_none() || pingora.select(&keys[0], MAX_ITERATIONS).is_none() {
        return Err(format!(
            "select/{strategy}/{n}: a load balancer picked nothing"
        ));
    }
    let [pick, sel, theirs] = interleave3(
        effort.select,
        |i| lb.select(&keys[i & 4095]).map(|p| p.index()),
        |i| selector.select(&keys[i & 4095]).map(|p| p.index()),
        |i| pingora.select(&keys[i & 4095], MAX_ITERATIONS),
    );
    println!(
        "select {strategy:<16} N={n:<6} lb Pick {:>7.1} ns  lb Selector {:>6.1} ns  pingora {:>7.1} ns  \
         ratio Pick {:.3}  Selector {:.3}",
        pick.median,
        sel.median,
        theirs.median,
        ratio(pick.median, theirs.median),
        ratio(sel.median, theirs.median),
    );
    Ok(json!({
        "kind": "select", "strategy": strategy, "n": n,
        "lb_pick_ns": pick.median, "lb_selector_ns": sel.median, "pingora_ns": theirs.median,
        "lb_pick_p10_ns": pick.p10, "lb_selector_p10_ns": sel.p10, "pingora_p10_ns": theirs.p10,
    }))
}

fn build_row<L, P>(
    strategy: &str,
    specs: &[Spec],
    lb_config: &L::Config,
    effort: Effort,
) -> Result<Value, String>
where
    L: BackendSelection,
    P: PingoraSelection,
{
    let n = specs.len();
    let ours = lb_backends(specs);
    let theirs = pingora_backends(specs);
    L::build(&ours, lb_config).map_err(|e| format!("build/{strategy}/{n}: lb: {e}"))?;
    let [lb, pingora] = interleave2(
        effort.build_rounds,
        |_| L::build(&ours, lb_config).is_ok(),
        |_| Arc::new(P::build(&theirs)),
    );
    Ok(build_json(strategy, n, lb, pingora))
}

fn build_json(strategy: &str, n: usize, lb: Stats, pingora: Stats) -> Value {
    println!(
        "build  {strategy:<24} N={n:<6} lb {:>10.3} ms  pingora {:>10.3} ms  ratio {:.3}",
        lb.median / 1e6,
        pingora.median / 1e6,
        ratio(lb.median, pingora.median)
    );
    json!({
        "kind": "build", "strategy": strategy, "n": n,
        "lb_ns": lb.median, "pingora_ns": pingora.median,
        "lb_p10_ns": lb.p10, "pingora_p10_ns": pingora.p10,
    })
}

/// The set as lb-ketama's buckets.
fn buckets(specs: &[Spec]) -> Vec<Bucket> {
    specs
        .iter()
        .map(|s| Bucket::new(s.addr, s.weight))
        .collect()
}

/// lb-ketama's ring alone, single-threaded, against pingora's whole `KetamaHashing` build.
fn ring_build_row(specs: &[Spec], effort: Effort) -> Value {
    let buckets = buckets(specs);
    let one = Continuum::builder().single_threaded();
    let theirs = pingora_backends(specs);
    let [lb, pingora] = interleave2(
        effort.build_rounds,
        |_| one.build(&buckets),
        |_| Arc::new(ps::Consistent::build(&theirs)),
    );
    build_json("consistent_ring_1thread", specs.len(), lb, pingora)
}

/// The first picks of lb and pingora that differ for the keys `user-0` to `user-9999`: the key,
/// lb's pick and pingora's.
type Differences = Vec<(String, Option<SocketAddr>, Option<SocketAddr>)>;

fn first_pick_differences<L, P>(specs: &[Spec]) -> Result<Differences, String>
where
    L: BackendSelection,
    P: PingoraSelection + 'static,
    P::Iter: BackendIter,
{
    let lb = lb_load_balancer::<L>(specs, L::Config::default());
    let pingora = pingora_load_balancer::<P>(specs, None)?;
    let mut differences = Vec::new();
    for i in 0..FIRST_PICK_KEYS {
        let key = text_key(i);
        let ours = lb.select(key.as_bytes()).and_then(|p| p.addr.as_inet());
        let theirs = pingora
            .select(key.as_bytes(), MAX_ITERATIONS)
            .and_then(|b| b.addr.as_inet().copied());
        if ours != theirs {
            differences.push((key, ours, theirs));
        }
    }
    Ok(differences)
}

/// Keys checked per set for the first-pick comparison.
const FIRST_PICK_KEYS: u64 = 10_000;

/// Whether a differing consistent-hash pick is a *tie*: the point of `ring` (lb's ring over
/// `specs`) that the key lands on has the same hash as a point of pingora's pick. Both rings
/// keep one point per hash; lb keeps the point of the backend that comes first in address order
/// (as nginx does, its sort being stable), pingora keeps whichever its unstable sort leaves
/// first. Only IPv4 backends, whose ring names the two libraries hash alike (`HOST "\0" PORT`).
fn is_tie(specs: &[Spec], ring: &Continuum, key: &str, theirs: Option<SocketAddr>) -> bool {
    let Some(theirs) = theirs else { return false };
    let Some(spec) = specs.iter().find(|s| s.addr == theirs) else {
        return false;
    };
    let Some(landing) = ring.point_hash(ring.node_idx(key.as_bytes())) else {
        return false;
    };
    // pingora's points for `spec`: crc32(HOST "\0" PORT prev), prev the previous point's hash.
    let mut input = format!("{}\0{}", spec.addr.ip(), spec.addr.port()).into_bytes();
    let name_len = input.len();
    let mut prev = 0u32;
    (0..spec.weight.saturating_mul(160)).any(|_| {
        input.truncate(name_len);
        input.extend_from_slice(&prev.to_le_bytes());
        prev = hash(&input);
        prev == landing
    })
}

/// Compares first picks on one set; returns the row and, for an IPv4 set, a description of the
/// first difference that no tie explains.
fn first_pick_row<L, P>(
    strategy: &str,
    family: &str,
    specs: &[Spec],
    weights: &str,
) -> Result<(Value, Option<String>), String>
where
    L: BackendSelection,
    P: PingoraSelection + 'static,
    P::Iter: BackendIter,
{
    let differences = first_pick_differences::<L, P>(specs)?;
    let differ = differences.len();
    // lb's ring, built once for the whole set (a ring of 10,000 backends takes tens of ms), and
    // only when some key differs.
    let ring = (strategy == "consistent" && family == "ipv4" && differ > 0)
        .then(|| Continuum::new(&buckets(specs)));
    let (ties, unexplained): (Differences, Differences) =
        differences.into_iter().partition(|(key, _, theirs)| {
            ring.as_ref()
                .is_some_and(|ring| is_tie(specs, ring, key, *theirs))
        });
    let n = specs.len();
    println!(
        "first pick {strategy:<10} {family} N={n:<6} weights {weights:<5} {differ} of \
         {FIRST_PICK_KEYS} keys differ ({} on ring ties)",
        ties.len()
    );
    let row = json!({
        "kind": "first_pick", "strategy": strategy, "family": family, "n": n,
        "weights": weights, "keys": FIRST_PICK_KEYS, "differ": differ,
        "ties": ties.len(),
    });
    let failure = unexplained.first().filter(|_| family == "ipv4").map(|(key, ours, theirs)| {
        format!(
            "{strategy} {family} N={n} weights {weights}: {} keys differ; key `{key}`: lb picks \
             {ours:?}, pingora picks {theirs:?}",
            unexplained.len()
        )
    });
    Ok((row, failure))
}

fn run(effort: Effort, out: &mut Vec<Value>) -> Result<Vec<String>, String> {
    out.push(json!({
        "kind": "compare_meta", "pingora_load_balancing": "0.9.1",
        "max_iterations": MAX_ITERATIONS, "batch": effort.select.size,
        "select_blocks": effort.select.blocks, "select_warm_batches": effort.select.warm,
        "select_rounds": effort.select.blocks * effort.select.timed,
        "build_rounds": effort.build_rounds, "update_rounds": effort.update_rounds,
    }));
    for n in [10, 1_000, 10_000] {
        let specs = ipv4(n, weighted);
        out.push(select_row::<RoundRobin, ps::RoundRobin>(
            "round_robin",
            &specs,
            (),
            effort,
        )?);
        out.push(select_row::<Random, ps::Random>(
            "random",
            &specs,
            (),
            effort,
        )?);
        out.push(select_row::<FnvHash, ps::FNVHash>(
            "fnv_hash",
            &specs,
            (),
            effort,
        )?);
        out.push(select_row::<Consistent, ps::Consistent>(
            "consistent",
            &specs,
            KetamaConfig::default(),
            effort,
        )?);
        let w1 = ipv4(n, |_| 1);
        out.push(select_row::<Consistent, ps::Consistent>(
            "consistent_w1",
            &w1,
            KetamaConfig::default(),
            effort,
        )?);
    }

    let specs = ipv4(10_000, weighted);
    let w1 = ipv4(10_000, |_| 1);
    out.push(build_row::<RoundRobin, ps::RoundRobin>(
        "round_robin",
        &specs,
        &(),
        effort,
    )?);
    out.push(build_row::<Random, ps::Random>(
        "random",
        &specs,
        &(),
        effort,
    )?);
    out.push(build_row::<FnvHash, ps::FNVHash>(
        "fnv_hash",
        &specs,
        &(),
        effort,
    )?);
    let ketama = KetamaConfig::default();
    out.push(build_row::<Consistent, ps::Consistent>(
        "consistent",
        &specs,
        &ketama,
        effort,
    )?);
    out.push(build_row::<Consistent, ps::Consistent>(
        "consistent_w1",
        &w1,
        &ketama,
        effort,
    )?);
    out.push(ring_build_row(&w1, effort));

    // Updates changing 1 and 10 backends of 10,000.
    for changed in [1, 10] {
        let extra: Vec<Spec> = ipv4_extra(changed);
        let rounds = effort.update_rounds;
        out.push(update_row::<RoundRobin, ps::RoundRobin>(
            "round_robin",
            &specs,
            &extra,
            (),
            rounds,
        )?);
        out.push(update_row::<Random, ps::Random>(
            "random",
            &specs,
            &extra,
            (),
            rounds,
        )?);
        out.push(update_row::<FnvHash, ps::FNVHash>(
            "fnv_hash",
            &specs,
            &extra,
            (),
            rounds,
        )?);
        out.push(update_row::<Consistent, ps::Consistent>(
            "consistent",
            &specs,
            &extra,
            KetamaConfig::default(),
            rounds,
        )?);
        out.push(update_row::<Consistent, ps::Consistent>(
            "consistent_w1",
            &w1,
            &extra,
            KetamaConfig::default(),
            rounds,
        )?);
    }

    // First picks: an IPv4 difference fails the run; IPv6 ring differences are expected.
    let mut failures = Vec::new();
    for n in [1, 10, 100, 1_000, 10_000] {
        for (weights, weight) in [("1", (|_| 1) as fn(usize) -> u32), ("1-10", weighted)] {
            let v4 = ipv4(n, weight);
            let v6 = ipv6(n, weight);
            for (family, specs) in [("ipv4", &v4), ("ipv6", &v6)] {
                let rows = [
                    first_pick_row::<FnvHash, ps::FNVHash>("fnv_hash", family, specs, weights)?,
                    first_pick_row::<Consistent, ps::Consistent>(
                        "consistent",
                        family,
                        specs,
                        weights,
                    )?,
                ];
                for (row, failure) in rows {
                    out.push(row);
                    failures.extend(failure);
                }
            }
        }
    }
    Ok(failures)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match Args::parse(&args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("compare: {message}");
            return ExitCode::from(2);
        }
    };
    let effort = if args.quick {
        Effort {
            select: Plan {
                blocks: 2,
                warm: 40,
                timed: 10,
                size: BATCH,
            },
            build_rounds: 3,
            update_rounds: 5,
        }
    } else {
        Effort {
            select: Plan {
                blocks: 8,
                warm: 40,
                timed: 20,
                size: BATCH,
            },
            build_rounds: 11,
            update_rounds: 21,
        }
    };
    let mut out = Vec::new();
    let result = run(effort, &mut out);
    if let Err(err) = args.write(&out) {
        eprintln!("compare: cannot write the results: {err}");
        return ExitCode::FAILURE;
    }
    match result {
        Ok(failures) if failures.is_empty() => ExitCode::SUCCESS,
        Ok(failures) => {
            eprintln!("compare: lb's first picks differ from pingora's on IPv4 sets:");
            for failure in failures {
                eprintln!("  {failure}");
            }
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("compare: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_ties_with_its_own_point_and_not_with_another_backend() {
        let specs = ipv4(50, weighted);
        let ring = Continuum::new(&buckets(&specs));
        for key in ["user-1", "user-2", "session-42"] {
            let own = ring.node(key.as_bytes());
            assert!(own.is_some());
            // The point the key lands on is one of its own backend's: the chain of CRCs above
            // regenerates lb-ketama's (and pingora's) points.
            assert!(is_tie(&specs, &ring, key, own), "{key}");
            let other = specs.iter().map(|s| s.addr).find(|a| Some(*a) != own);
            assert!(!is_tie(&specs, &ring, key, other), "{key}");
        }
        assert!(!is_tie(&specs, &ring, "user-1", None));
    }

    #[test]
    fn first_picks_agree_with_pingora_on_a_small_ipv4_set() {
        let specs = ipv4(20, weighted);
        let fnv = first_pick_differences::<FnvHash, ps::FNVHash>(&specs).expect("builds");
        assert!(fnv.is_empty(), "{:?}", fnv.first());
        let ring = first_pick_differences::<Consistent, ps::Consistent>(&specs).expect("builds");
        assert!(ring.is_empty(), "{:?}", ring.first());
        // The check can fail: on IPv6 the ring hashes differ from pingora's.
        let v6 = ipv6(20, weighted);
        let ring = first_pick_differences::<Consistent, ps::Consistent>(&v6).expect("builds");
        assert!(!ring.is_empty());
    }
}
