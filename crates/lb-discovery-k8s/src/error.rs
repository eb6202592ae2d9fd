//! The errors of lb-discovery-k8s.

use std::time::Duration;

use crate::failure::WatchFailure;

/// Why a discovery source could not be built or could not answer.
///
/// Messages are lowercase and name the culprit (the service, the namespace, the limit); the
/// underlying cause, where there is one, is in [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A service or namespace name that Kubernetes would reject. It is checked before it goes
    /// into a label selector, so a hostile name cannot widen the selection.
    #[error("invalid {kind} name `{name}`: {reason}")]
    InvalidName {
        /// `"service"` or `"namespace"`.
        kind: &'static str,
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Neither a kubeconfig (`$KUBECONFIG`, `~/.kube/config`) nor an in-cluster service account
    /// was found.
    #[error("no kubernetes configuration: no usable kubeconfig and not running in a cluster")]
    Config(#[source] kube::config::InferConfigError),
    /// The kubeconfig given to [`Builder::kubeconfig`](crate::Builder::kubeconfig) or
    /// [`Builder::context`](crate::Builder::context) could not be read, or has no such context
    /// (or the context names a cluster or user it does not define).
    #[error(
        "cannot load the kubeconfig {}{}",
        path.as_ref().map_or_else(|| "from $KUBECONFIG or ~/.kube/config".to_owned(), |p| format!("`{}`", p.display())),
        context.as_ref().map_or_else(String::new, |c| format!(" with context `{c}`"))
    )]
    Kubeconfig {
        /// The file, or `None` for the ambient one.
        path: Option<std::path::PathBuf>,
        /// The context asked for, or `None` for the file's current context.
        context: Option<String>,
        /// Why it could not be loaded.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// The Kubernetes client could not be built from the configuration.
    #[error("cannot build the kubernetes client")]
    Client(#[source] kube::Error),
    /// A client was to be built outside a tokio runtime.
    #[error("building a kubernetes client needs a tokio runtime")]
    NoRuntime,
    /// No rustls crypto provider is installed and none is compiled in.
    #[error(
        "no rustls crypto provider: enable the `ring` or `aws-lc-rs` feature of lb-discovery-k8s, \
         or install one with `rustls::crypto::CryptoProvider::install_default`"
    )]
    NoCryptoProvider,
    /// The watch has not completed its first list of the service's EndpointSlices yet (the API
    /// may be unreachable): there is no backend set to report, not even an empty one.
    #[error("the endpointslices of service `{namespace}/{service}` have not been listed yet")]
    NotListed {
        /// The namespace.
        namespace: String,
        /// The service.
        service: String,
        /// The last error of the watch, if it has failed so far.
        #[source]
        last_error: Option<WatchFailure>,
    },
    /// The watch task is gone (its runtime shut down): the source will not change any more.
    #[error("the watch of service `{namespace}/{service}` has stopped")]
    WatchStopped {
        /// The namespace.
        namespace: String,
        /// The service.
        service: String,
    },
    /// A Kubernetes API response was larger than the configured limit
    /// ([`Limits::max_response_bytes`](crate::Limits::max_response_bytes)).
    #[error("kubernetes api response from `{path}` is larger than {limit} bytes")]
    ResponseTooLarge {
        /// The request path.
        path: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// One watch event (one line of a watch response) was larger than the configured limit.
    #[error("kubernetes watch event from `{path}` is larger than {limit} bytes")]
    EventTooLarge {
        /// The request path.
        path: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// A watch response ended, cleanly or with its connection cut, sooner than a watch should
    /// (within a second, or half its timeout when that is shorter). It is an error so that the
    /// watch is resumed
    /// after a backoff rather than at once: a server or proxy that ends every watch at once
    /// would otherwise be asked again in a tight loop.
    #[error("kubernetes watch from `{path}` ended after {after:?}, long before its timeout")]
    WatchEndedEarly {
        /// The request path.
        path: String,
        /// How long the watch response lasted.
        after: Duration,
    },
    /// The Service has more EndpointSlices than
    /// [`Limits::max_slices`](crate::Limits::max_slices), in a list (all its pages together) or
    /// in the view kept by watch events. The watch stops at the first slice past the limit,
    /// keeps the last good set, and starts over with a new list after a backoff.
    #[error(
        "service `{namespace}/{service}` has at least {count} endpointslices in its {during}, \
         more than the limit of {limit}"
    )]
    TooManySlices {
        /// The namespace.
        namespace: String,
        /// The service.
        service: String,
        /// The limit ([`Limits::max_slices`](crate::Limits::max_slices)).
        limit: usize,
        /// The slices counted when the limit was passed: the limit plus the one that passed
        /// it (no more are read).
        count: usize,
        /// Where: `"list"` (a list or re-list in progress) or `"watch"` (a new slice announced
        /// by a watch event).
        during: &'static str,
    },
    /// The Service's slices hold more backends than
    /// [`Limits::max_backends`](crate::Limits::max_backends), in a list (all its pages
    /// together) or in the view kept by watch events. The watch stops at the first slice that
    /// takes the count past the limit, keeps the last good set, and starts over with a new list
    /// after a backoff.
    #[error(
        "service `{namespace}/{service}` has at least {count} backends in its {during}, \
         more than the limit of {limit}"
    )]
    TooManyBackends {
        /// The namespace.
        namespace: String,
        /// The service.
        service: String,
        /// The limit ([`Limits::max_backends`](crate::Limits::max_backends)).
        limit: usize,
        /// The backends counted when the limit was passed, with those of the slice that passed
        /// it (no more are read).
        count: usize,
        /// Where: `"list"` (a list or re-list in progress) or `"watch"` (a watch event).
        during: &'static str,
    },
    /// One EndpointSlice is larger than the Kubernetes API server's validation allows: more
    /// than 1,000 endpoints, or an endpoint with more than 100 addresses. Only a broken or
    /// hostile server sends one; it is refused before its backends are made, like a slice past
    /// [`Limits::max_slices`](crate::Limits::max_slices): the watch keeps the last good set and
    /// starts over with a new list after a backoff.
    #[error(
        "endpointslice `{slice}` in the {during} of service `{namespace}/{service}` has \
         {count} {what}, more than the {limit} the kubernetes api allows"
    )]
    SliceTooLarge {
        /// The namespace.
        namespace: String,
        /// The service.
        service: String,
        /// The slice's name.
        slice: String,
        /// What is too many: `"endpoints"`, or `"addresses in one endpoint"`.
        what: &'static str,
        /// How many it has.
        count: usize,
        /// The API's limit: 1,000 endpoints, or 100 addresses.
        limit: usize,
        /// Where: `"list"` (a list or re-list in progress) or `"watch"` (a watch event).
        during: &'static str,
    },
    /// A request to the Kubernetes API failed before any answer: the connection was refused
    /// or cut, the TLS handshake failed (a certificate not trusted, say), or the client's own
    /// stack failed (authentication, for one). The cause is the [`source`](std::error::Error::source).
    #[error("kubernetes api request to `{url}` failed")]
    Request {
        /// The request's URL, without its query (only its path for a client passed to
        /// [`Builder::client`](crate::Builder::client), whose server is not known).
        url: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The Kubernetes API did not answer, or did not finish a (non-watch) response, in time
    /// ([`Limits::request_timeout`](crate::Limits::request_timeout)).
    #[error("kubernetes api request to `{path}` timed out after {after:?}")]
    Timeout {
        /// The request path.
        path: String,
        /// The deadline that passed.
        after: Duration,
    },
}

pub(crate) use lb_core::error_chain;

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::*;

    #[derive(Debug)]
    struct Leaf;
    impl fmt::Display for Leaf {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("connection refused")
        }
    }
    impl std::error::Error for Leaf {}

    #[test]
    fn chains_join_causes_and_skip_repeats() {
        let err = Error::NotListed {
            namespace: "prod".into(),
            service: "web".into(),
            last_error: Some(WatchFailure::new("list failed: connection refused".into())),
        };
        assert_eq!(
            error_chain(&err),
            "the endpointslices of service `prod/web` have not been listed yet: \
             list failed: connection refused"
        );
        let wrapped = Error::Client(kube::Error::Service(Box::new(Leaf)));
        assert_eq!(
            error_chain(&wrapped),
            "cannot build the kubernetes client: ServiceError: connection refused"
        );
    }
}
