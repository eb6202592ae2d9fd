//! Updates: one or ten backends of a set changed, published through each library's update path.
//!
//! pingora: `LoadBalancer::update` over a discovery source whose answer alternates between the
//! set and the set with the changed backends (its `Static` answers a clone of its set the same
//! way); it diffs the answer, rebuilds the backends and the selector. lb: `apply_delta` of the
//! change (what lb's sources that track their changes answer: `Static`, Kubernetes, DNS), and
//! `apply` of the whole answer (what a polled source answers).

use std::collections::{BTreeSet, HashMap};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use lb_core::{BackendSelection, Backends, Delta, LoadBalancer};
use pingora::selection::{BackendIter, BackendSelection as PingoraSelection};
use pingora_load_balancing as pingora;
use serde_json::{Value, json};

use crate::sets::{Spec, lb_backends, pingora_backends};
use crate::timing::{Stats, interleave2};

/// A pingora discovery source answering the set and the set with `extra`, in turn.
struct Toggle {
    without: BTreeSet<pingora::Backend>,
    with: BTreeSet<pingora::Backend>,
    on: AtomicBool,
}

#[async_trait::async_trait]
impl pingora::discovery::ServiceDiscovery for Toggle {
    async fn discover(
        &self,
    ) -> pingora_error::Result<(BTreeSet<pingora::Backend>, HashMap<u64, bool>)> {
        let on = !self.on.fetch_xor(true, Ordering::Relaxed);
        let set = if on { &self.with } else { &self.without };
        Ok((set.clone(), HashMap::new()))
    }
}

/// Runs a future that completes without waiting (every update here does).
fn now<T>(future: impl std::future::Future<Output = T>) -> T {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("an update waited; nothing here should"),
    }
}

/// One row: `changed` backends of `specs` toggled in and out, `rounds` updates of each kind.
pub fn update_row<L, P>(
    strategy: &str,
    specs: &[Spec],
    extra: &[Spec],
    lb_config: L::Config,
    rounds: usize,
) -> Result<Value, String>
where
    L: BackendSelection,
    P: PingoraSelection + 'static,
    P::Iter: BackendIter,
{
    let n = specs.len();
    let changed = extra.len();
    // pingora's load balancer over the toggling source.
    let without = pingora_backends(specs);
    let mut with = without.clone();
    with.extend(pingora_backends(extra));
    let theirs =
        pingora::LoadBalancer::<P>::from_backends(pingora::Backends::new(Box::new(Toggle {
            without,
            with,
            on: AtomicBool::new(false),
        })));
    now(theirs.update()).map_err(|e| format!("pingora update: {e}"))?;
    // lb's: the same change as a delta, and as whole answers.
    let base = lb_backends(specs);
    let added = lb_backends(extra);
    let join = added
        .iter()
        .fold(Delta::new(), |d, b| d.with_upsert(b.clone()));
    let leave = added
        .iter()
        .fold(Delta::new(), |d, b| d.with_removal(b.addr.clone()));
    let mut with_extra = base.clone();
    with_extra.extend(added);
    let by_delta = LoadBalancer::<L>::from_backends_with_config(
        Backends::fixed(base.clone()),
        lb_config.clone(),
    );
    let by_full =
        LoadBalancer::<L>::from_backends_with_config(Backends::fixed(base.clone()), lb_config);
    let (mut delta_on, mut full_on) = (false, false);
    let [delta, pingora_time] = interleave2(
        rounds,
        |_| {
            delta_on = !delta_on;
            by_delta
                .apply_delta(if delta_on { &join } else { &leave })
                .is_ok()
        },
        |_| now(theirs.update()).is_ok(),
    );
    let full_sets = [base, with_extra];
    let [full, _] = interleave2(
        rounds,
        |_| {
            full_on = !full_on;
            by_full
                .apply(full_sets[usize::from(full_on)].clone())
                .is_ok()
        },
        |_| (),
    );
    Ok(update_json(strategy, n, changed, delta, full, pingora_time))
}

fn update_json(
    strategy: &str,
    n: usize,
    changed: usize,
    delta: Stats,
    full: Stats,
    pingora: Stats,
) -> Value {
    println!(
        "update {strategy:<14} N={n:<6} changed {changed:<3} lb delta {:>9.3} ms  lb whole set {:>9.3} ms  pingora {:>9.3} ms  delta/pingora {:.3}  whole/pingora {:.3}",
        delta.median / 1e6,
        full.median / 1e6,
        pingora.median / 1e6,
        delta.median / pingora.median,
        full.median / pingora.median,
    );
    json!({
        "kind": "update", "strategy": strategy, "n": n, "changed": changed,
        "lb_delta_ns": delta.median, "lb_full_ns": full.median, "pingora_ns": pingora.median,
        "lb_delta_p10_ns": delta.p10, "lb_full_p10_ns": full.p10, "pingora_p10_ns": pingora.p10,
    })
}
