//! Service discovery: where the backend set comes from.

use std::collections::HashMap;

use crate::address::Address;
use crate::backend::Backend;
use crate::state::Enablement;

/// One answer of a discovery source: the full backend set, and the administrative state of the
/// backends the source has an opinion on.
///
/// Backends absent from `enablement` keep their current state (a new backend starts
/// [`Enablement::Enabled`]), so a state set by the application with
/// [`Backends::set_enable`](crate::Backends::set_enable) survives updates until the source says
/// otherwise. Duplicate addresses in `backends` are merged: the first occurrence wins.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Discovered {
    /// Every backend the source knows.
    pub backends: Vec<Backend>,
    /// The administrative state per address, where the source knows it (for example a
    /// Kubernetes endpoint that is terminating is [`Enablement::Draining`]).
    pub enablement: HashMap<Address, Enablement>,
}

impl Discovered {
    /// An answer of these backends, with no opinion on their enablement.
    pub fn new(backends: impl IntoIterator<Item = Backend>) -> Self {
        Discovered {
            backends: backends.into_iter().collect(),
            enablement: HashMap::new(),
        }
    }

    /// Adds an opinion on one backend's enablement.
    pub fn with_enablement(mut self, addr: Address, enablement: Enablement) -> Self {
        self.enablement.insert(addr, enablement);
        self
    }
}

impl From<Vec<Backend>> for Discovered {
    fn from(backends: Vec<Backend>) -> Self {
        Discovered::new(backends)
    }
}

impl FromIterator<Backend> for Discovered {
    fn from_iter<I: IntoIterator<Item = Backend>>(iter: I) -> Self {
        Discovered::new(iter)
    }
}

#[cfg(feature = "runtime")]
pub use runtime::*;

#[cfg(feature = "runtime")]
mod runtime {
    use super::Discovered;
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
                rx: self.tx.subscribe(),
            }
        }
    }

    /// The receiving side of change signals, held by the load balancer's background service.
    #[derive(Debug)]
    pub struct ChangeSubscription {
        rx: tokio::sync::watch::Receiver<u64>,
    }

    impl ChangeSubscription {
        /// Waits for the next change signal. Returns `false` when every notifier is gone (the
        /// source will never signal again).
        pub async fn changed(&mut self) -> bool {
            self.rx.changed().await.is_ok()
        }
    }
}

#[cfg(all(test, feature = "runtime"))]
mod tests {
    use super::*;

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
