//! Service discovery sources: the [`ServiceDiscovery`] trait and the change signals of sources
//! that push.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio_stream::wrappers::WatchStream;

use crate::discovery::{Answer, Discovered};
use crate::error::BoxError;

/// A source of backends: a static list, DNS, Kubernetes, or your own.
///
/// The load balancer calls [`discover`](ServiceDiscovery::discover) on its schedule
/// (`update_frequency`) and, for sources that learn of changes by themselves (a Kubernetes
/// watch, a DNS TTL expiring, an API call on a static list), as soon as the source signals a
/// change through the [`ChangeSubscription`] it returns from
/// [`subscribe`](ServiceDiscovery::subscribe). Such sources need no polling: set
/// `update_frequency` to `None`. Bursts of signals are coalesced into one update.
///
/// An error leaves the load balancer's last good set in place; it is logged and counted.
#[async_trait::async_trait]
pub trait ServiceDiscovery: Send + Sync + 'static {
    /// The current backend set.
    async fn discover(&self) -> Result<Discovered, BoxError>;

    /// A subscription that fires when the source's answer may have changed. The default is
    /// `None`: the source is only polled.
    fn subscribe(&self) -> Option<ChangeSubscription> {
        None
    }

    /// What changed since the answer numbered `since` (`None`: the load balancer holds no
    /// numbered answer of this source): see [`Answer`]. Sources that know their changes (an
    /// edit of a list, a watch event, a DNS answer compared with the last) answer a
    /// [`Answer::Delta`], which the load balancer applies in time proportional to the change.
    /// The default answers the whole set from [`discover`](ServiceDiscovery::discover), with no
    /// number: always correct, and what a polled source does.
    async fn discover_changes(&self, since: Option<u64>) -> Result<Answer, BoxError> {
        let _ = since;
        Ok(Answer::Full {
            set: self.discover().await?,
            version: None,
        })
    }
}

/// A boxed source is a source: adapters that wrap a source (subsetting, say) take one chosen
/// at run time.
#[async_trait::async_trait]
impl<T: ServiceDiscovery + ?Sized> ServiceDiscovery for Box<T> {
    async fn discover(&self) -> Result<Discovered, BoxError> {
        (**self).discover().await
    }

    fn subscribe(&self) -> Option<ChangeSubscription> {
        (**self).subscribe()
    }

    async fn discover_changes(&self, since: Option<u64>) -> Result<Answer, BoxError> {
        (**self).discover_changes(since).await
    }
}

/// A shared source is a source: one source may feed several load balancers or adapters.
#[async_trait::async_trait]
impl<T: ServiceDiscovery + ?Sized> ServiceDiscovery for std::sync::Arc<T> {
    async fn discover(&self) -> Result<Discovered, BoxError> {
        (**self).discover().await
    }

    fn subscribe(&self) -> Option<ChangeSubscription> {
        (**self).subscribe()
    }

    async fn discover_changes(&self, since: Option<u64>) -> Result<Answer, BoxError> {
        (**self).discover_changes(since).await
    }
}

/// The trait's name in pingora-load-balancing's style.
pub use ServiceDiscovery as Discovery;

/// The sending side of change signals, kept by a discovery source.
///
/// Cloning gives another handle to the same channel. Signals are level-triggered: many
/// `notify` calls before the load balancer looks are seen as one.
#[derive(Clone, Debug)]
pub struct ChangeNotifier {
    tx: tokio::sync::watch::Sender<u64>,
}

impl Default for ChangeNotifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChangeNotifier {
    /// A notifier with no subscriber yet.
    pub fn new() -> Self {
        ChangeNotifier {
            tx: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Signals every subscriber that the answer may have changed.
    pub fn notify(&self) {
        self.tx
            .send_modify(|version| *version = version.wrapping_add(1));
    }

    /// A new subscription; it fires on the next `notify`, not for earlier ones.
    pub fn subscribe(&self) -> ChangeSubscription {
        ChangeSubscription {
            signals: WatchStream::from_changes(self.tx.subscribe()),
        }
    }
}

/// The receiving side of change signals, held by the load balancer's background service.
///
/// It is also a [`Stream`] of signals (one item per coalesced burst) that ends when every
/// notifier is gone.
pub struct ChangeSubscription {
    signals: WatchStream<u64>,
}

impl ChangeSubscription {
    /// Waits for the next change signal. Returns `false` when every notifier is gone (the
    /// source will never signal again).
    pub async fn changed(&mut self) -> bool {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
            .await
            .is_some()
    }
}

impl Stream for ChangeSubscription {
    type Item = ();

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        Pin::new(&mut self.signals)
            .poll_next(cx)
            .map(|s| s.map(drop))
    }
}

impl std::fmt::Debug for ChangeSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeSubscription").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(ChangeNotifier);

    #[async_trait::async_trait]
    impl ServiceDiscovery for Fixed {
        async fn discover(&self) -> Result<Discovered, BoxError> {
            Ok(Discovered::new([
                crate::Backend::new("10.0.0.1:80").unwrap()
            ]))
        }

        fn subscribe(&self) -> Option<ChangeSubscription> {
            Some(self.0.subscribe())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn boxed_and_shared_sources_answer_and_signal_as_the_source() {
        let notifier = ChangeNotifier::new();
        let boxed: Box<dyn ServiceDiscovery> = Box::new(Fixed(notifier.clone()));
        let shared: std::sync::Arc<dyn ServiceDiscovery> =
            std::sync::Arc::new(Fixed(notifier.clone()));
        for source in [&boxed as &dyn ServiceDiscovery, &shared] {
            assert_eq!(source.discover().await.unwrap().backends.len(), 1);
            let mut sub = source.subscribe().unwrap();
            notifier.notify();
            assert!(sub.changed().await);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn notifications_are_coalesced_and_closing_is_reported() {
        let n = ChangeNotifier::new();
        n.notify(); // before subscribing: not seen
        let mut sub = n.subscribe();
        let early = tokio::time::timeout(std::time::Duration::from_secs(1), sub.changed()).await;
        assert!(early.is_err(), "a notify before subscribe must not fire");
        n.notify();
        n.notify();
        assert!(sub.changed().await);
        let again = tokio::time::timeout(std::time::Duration::from_secs(1), sub.changed()).await;
        assert!(again.is_err(), "two notifies are seen as one");
        drop(n);
        assert!(!sub.changed().await);
    }
}
