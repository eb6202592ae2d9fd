//! The cost of lb-tower's `Balance` per request, against calling the inner service directly and
//! against tower's own balancer, over the same inner services in the same run.
//!
//! `cargo bench -p lb-benches --bench tower`. Every figure is one request: `poll_ready`, `call`,
//! and one poll of the response future, over N = 10 inner services that answer at once (a
//! `Clone` service whose future is ready), with a no-op waker, on one thread inside a tokio
//! runtime context.
//!
//! - `tower/call/direct/10`: the inner service alone (the floor).
//! - `tower/call/lb_round_robin/10`: `lb_tower::Balance` over `LoadBalancer<RoundRobin>`, which
//!   counts nothing in flight: select, the cached service's clone, the call, the outcome
//!   reported through the `Pick` (latency clock reads included).
//! - `tower/call/lb_least_request/10`: the same over `LeastRequest` (power of two choices over
//!   requests in flight, which every pick then counts): the like-for-like comparison with
//!   tower's p2c.
//! - `tower/call/tower_p2c/10`: `tower::balance::p2c::Balance` over the same services, each in
//!   `tower::load::PendingRequests` (its cheapest load measure).
//! - `tower/call/tower_p2c_peak_ewma/10`: the same with `tower::load::PeakEwma`, which, like
//!   lb-tower, times every response (two clock reads per request).
//!
//! Overhead = a balancer's figure minus `direct`.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use lb_core::{Backend, BackendSelection, LoadBalancer};
use lb_selection::{LeastRequest, RoundRobin};
use lb_tower::{Balance, BalanceLayer, ErrIsFailure};
use tower::Service;
use tower::balance::p2c;
use tower::discover::ServiceList;
use tower::load::{CompleteOnResponse, PeakEwma, PendingRequests};

const N: usize = 10;

/// An inner service that answers at once with its index.
#[derive(Clone)]
struct Answer(u64);

impl Service<u64> for Answer {
    type Response = u64;
    type Error = Infallible;
    type Future = std::future::Ready<Result<u64, Infallible>>;

    #[inline]
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    #[inline]
    fn call(&mut self, req: u64) -> Self::Future {
        std::future::ready(Ok(self.0 ^ req))
    }
}

/// One request through `svc`: ready, call, and the future polled once (it is ready at once).
#[inline]
fn one<S, E>(svc: &mut S, cx: &mut Context<'_>, req: u64) -> u64
where
    S: Service<u64, Response = u64, Error = E>,
    E: std::fmt::Debug,
{
    match svc.poll_ready(cx) {
        Poll::Ready(Ok(())) => {}
        other => panic!("the bench's services are always ready: {other:?}"),
    }
    let future = pin!(svc.call(req));
    match future.poll(cx) {
        Poll::Ready(Ok(answer)) => answer,
        Poll::Ready(Err(e)) => panic!("the bench's services never fail: {e:?}"),
        Poll::Pending => panic!("the bench's services answer at once"),
    }
}

fn backends() -> Vec<Backend> {
    (0..N)
        .map(|i| Backend::new(&format!("127.0.0.1:{}", 1000 + i)).expect("a valid address"))
        .collect()
}

fn answer_of(backend: &Backend) -> Answer {
    Answer(u64::from(backend.addr.port().unwrap_or(0)))
}

fn balance<S: BackendSelection>()
-> Balance<S, fn(&Backend) -> Answer, lb_tower::NoKey, ErrIsFailure> {
    let lb = Arc::new(LoadBalancer::<S>::try_from_iter(backends()).expect("valid backends"));
    BalanceLayer::new(lb)
        .classify(ErrIsFailure)
        .build(answer_of as fn(&Backend) -> Answer)
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let _context = runtime.enter();
    let mut cx = Context::from_waker(Waker::noop());
    let mut group = c.benchmark_group("tower/call");

    let mut direct = answer_of(&backends()[0]);
    group.bench_function("direct/10", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(one(&mut direct, &mut cx, i))
        })
    });

    let mut rr = balance::<RoundRobin>();
    group.bench_function("lb_round_robin/10", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(one(&mut rr, &mut cx, i))
        })
    });

    let mut least = balance::<LeastRequest>();
    group.bench_function("lb_least_request/10", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(one(&mut least, &mut cx, i))
        })
    });

    let services = backends()
        .iter()
        .map(|b| PendingRequests::new(answer_of(b), CompleteOnResponse::default()))
        .collect::<Vec<_>>();
    let mut tower_p2c = p2c::Balance::new(ServiceList::new(services));
    group.bench_function("tower_p2c/10", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(one(&mut tower_p2c, &mut cx, i))
        })
    });

    let services = backends()
        .iter()
        .map(|b| {
            PeakEwma::new(
                answer_of(b),
                Duration::from_millis(30),
                10e9,
                CompleteOnResponse::default(),
            )
        })
        .collect::<Vec<_>>();
    let mut tower_ewma = p2c::Balance::new(ServiceList::new(services));
    group.bench_function("tower_p2c_peak_ewma/10", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(one(&mut tower_ewma, &mut cx, i))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
