//! The claims of `docs/migrating-from-pingora.md`, checked against pingora-load-balancing 0.9.1
//! and pingora-ketama 0.9.1 themselves where a test can check them. One module per section of
//! the document; each test names the claim it checks.
//!
//! Claims not checked here, and why:
//! - "`select` allocates nothing", "`report` takes no lock", "a pick keeps its generation alive":
//!   lb-core's own tests (a counting allocator, generations) check them. Of "pingora publishes a
//!   group's selectors one by one after the membership", the membership-first part is checked
//!   (`selecting.rs`); the order among the selectors is internal to pingora.
//! - "a slow probe never delays discovery": lb-core's tests of the background service.
//! - "a position per thread" (round robin): lb-selection's tests; pingora's shared counter is
//!   internal.
//! - "pingora's unstable sort keeps either point" on ring collisions: which point pingora keeps
//!   depends on its sort's behaviour for equal keys, not on anything a test can set up.
//! - "a ring over 2^26 points is a build error": lb-ketama's tests; building pingora's ring of
//!   that size to watch it panic would take gigabytes.
//! - "pingora has no passive health / no feedback path / only the `health_status_change`
//!   callback": an absence of API, which no test can observe; the API lb adds is tested.
//! - Claims about lb alone, with no pingora side to compare (DNS and Kubernetes sources push,
//!   `Selector` and `LocalPick::to_pick`, weight 0 in strategies other than round robin and
//!   ketama, `Continuum::builder`'s threads): the tests of the lb crate that owns them
//!   (lb-discovery-dns, lb-discovery-k8s, lb-core, lb-selection's `check_contract`, lb-ketama).

mod backends;
mod background;
mod discovery;
mod health;
mod names;
mod rings;
mod selecting;

/// `n` distinct IPv4 backend addresses.
fn addrs(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("10.{}.{}.{}:80", i >> 16 & 0xff, i >> 8 & 0xff, i & 0xff))
        .collect()
}

/// An lb load balancer over `addrs`, each of `weight`.
fn lb_over<S: lb::BackendSelection>(addrs: &[String], weight: u32) -> lb::LoadBalancer<S> {
    lb::LoadBalancer::try_from_iter(
        addrs
            .iter()
            .map(|a| lb::Backend::new_with_weight(a, weight).expect("a valid address")),
    )
    .expect("a valid set")
}

/// A pingora load balancer over `addrs`, each of `weight`, updated once.
fn pingora_over<S>(addrs: &[String], weight: usize) -> pingora_load_balancing::LoadBalancer<S>
where
    S: pingora_load_balancing::selection::BackendSelection + Send + Sync + 'static,
    S::Iter: pingora_load_balancing::selection::BackendIter,
{
    use pingora_load_balancing as plb;
    let set: std::collections::BTreeSet<plb::Backend> = addrs
        .iter()
        .map(|a| plb::Backend::new_with_weight(a, weight).expect("a valid address"))
        .collect();
    let lb = plb::LoadBalancer::from_backends(plb::Backends::new(plb::discovery::Static::new(set)));
    now(lb.update()).expect("static discovery does not fail");
    lb
}

/// The output of a future that completes without waiting (pingora's static discovery and
/// update, as pingora's own `try_from_iter` runs them).
fn now<F: std::future::Future>(future: F) -> F::Output {
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(future).poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the future waited"),
    }
}
