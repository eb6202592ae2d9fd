//! The proxy under test: pingora's `ProxyHttp` over an lb load balancer, ending each attempt with
//! lb-pingora's helpers and retrying a failed connection on a new pick.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use lb::{BackendSelection, LoadBalancer, Outcome};
use lb_pingora::{Attempt, report_error, report_status};
use pingora_core::upstreams::peer::HttpPeer;
use pingora_core::utils::tls::{WrappedX509, parse_x509};
use pingora_core::{Error, ErrorType, Result};
use pingora_http::ResponseHeader;
use pingora_proxy::{ProxyHttp, Session};

/// Connections tried per request before the proxy gives up.
pub(crate) const TRIES: u32 = 3;

/// What the proxy reported to lb.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    pub(crate) successes: AtomicU64,
    pub(crate) failures: AtomicU64,
}

impl Reports {
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::SeqCst)
    }

    pub(crate) fn successes(&self) -> u64 {
        self.successes.load(Ordering::SeqCst)
    }

    fn count(&self, outcome: Option<Outcome>) {
        match outcome {
            Some(Outcome::Success) => self.successes.fetch_add(1, Ordering::SeqCst),
            Some(Outcome::Failure) => self.failures.fetch_add(1, Ordering::SeqCst),
            _ => 0,
        };
    }
}

/// A reverse proxy over `lb`.
pub(crate) struct Proxy<S: BackendSelection> {
    lb: Arc<LoadBalancer<S>>,
    pub(crate) reports: Arc<Reports>,
    /// The CA that TLS backends' certificates are checked against.
    ca: Option<Arc<[WrappedX509]>>,
}

impl<S: BackendSelection> Proxy<S> {
    pub(crate) fn new(lb: Arc<LoadBalancer<S>>) -> Self {
        Proxy {
            lb,
            reports: Arc::default(),
            ca: None,
        }
    }

    /// Trusts `ca_der` (and only it) for TLS backends.
    pub(crate) fn trusting(mut self, ca_der: &[u8]) -> Self {
        self.ca = Some(Arc::from(vec![WrappedX509::new(
            ca_der.to_vec(),
            parse_x509,
        )]));
        self
    }
}

/// A request's state in the proxy.
pub(crate) struct Ctx<S> {
    attempt: Option<Attempt<S>>,
    tries: u32,
}

#[async_trait]
impl<S: BackendSelection> ProxyHttp for Proxy<S> {
    type CTX = Ctx<S>;

    fn new_ctx(&self) -> Ctx<S> {
        Ctx {
            attempt: None,
            tries: 0,
        }
    }

    async fn upstream_peer(&self, _: &mut Session, ctx: &mut Ctx<S>) -> Result<Box<HttpPeer>> {
        ctx.tries += 1;
        let pick = self
            .lb
            .select(b"")
            .ok_or_else(|| Error::explain(ErrorType::HTTPStatus(503), "no backend is ready"))?;
        let attempt = ctx.attempt.insert(Attempt::new(pick));
        let mut peer = attempt.http_peer()?;
        peer.options.ca = self.ca.clone();
        Ok(Box::new(peer))
    }

    async fn upstream_response_filter(
        &self,
        _: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut Ctx<S>,
    ) -> Result<()> {
        self.reports
            .count(report_status(&mut ctx.attempt, response.status.as_u16()));
        Ok(())
    }

    fn fail_to_connect(
        &self,
        _: &mut Session,
        _: &HttpPeer,
        ctx: &mut Ctx<S>,
        mut e: Box<Error>,
    ) -> Box<Error> {
        self.reports.count(report_error(&mut ctx.attempt, &e));
        if ctx.tries < TRIES {
            e.set_retry(true);
        }
        e
    }

    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        e: Box<Error>,
        ctx: &mut Ctx<S>,
        client_reused: bool,
    ) -> Box<Error> {
        self.reports.count(report_error(&mut ctx.attempt, &e));
        // pingora's own policy from here on.
        let mut e = e.more_context(format!("peer: {peer}"));
        if !session.req_header().method.is_idempotent() || ctx.tries >= TRIES {
            e.set_retry(false);
        } else {
            e.retry.decide_reuse(client_reused);
        }
        e
    }

    async fn logging(&self, _: &mut Session, e: Option<&Error>, ctx: &mut Ctx<S>) {
        if let Some(e) = e {
            self.reports.count(report_error(&mut ctx.attempt, e));
        }
    }
}
