//! Kubernetes clients: from the ambient configuration or a kubeconfig, with [`Limits`], a
//! crypto provider, and no retries beneath the watch's own backoff.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::Error;
use crate::limits::{LimitLayer, Limits};
use crate::retry_after::RetryAfter;

/// Loads the ambient Kubernetes configuration: the kubeconfig (`$KUBECONFIG`, else
/// `~/.kube/config`, its current context), else the in-cluster service account
/// (`KUBERNETES_SERVICE_HOST` and `/var/run/secrets/kubernetes.io/serviceaccount`).
pub async fn infer_config() -> Result<kube::Config, Error> {
    kube::Config::infer().await.map_err(Error::Config)
}

/// Loads a kubeconfig: the file at `path` (else the ambient one: `$KUBECONFIG`, else
/// `~/.kube/config`), with its context `context` (else its current context).
pub(crate) async fn load_kubeconfig(
    path: Option<&Path>,
    context: Option<&str>,
) -> Result<kube::Config, Error> {
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    let loaded = match path {
        Some(path) => match Kubeconfig::read_from(path) {
            Ok(file) => kube::Config::from_custom_kubeconfig(file, &options).await,
            Err(e) => Err(e),
        },
        None => kube::Config::from_kubeconfig(&options).await,
    };
    loaded.map_err(|source| Error::Kubeconfig {
        path: path.map(Path::to_path_buf),
        context: context.map(str::to_owned),
        source,
    })
}

/// Builds a client for `config` whose requests are bounded by `limits`.
///
/// The client makes one attempt per request: kube's own retry of `429`, `503` and `504`
/// answers (on by default in a `kube::Config`, as `default_retry`) is turned off, so that
/// every failure reaches the caller at once, with its status, and the caller's backoff decides
/// when to try again (the watch of this crate retries on [`Builder::backoff`](crate::Builder::backoff),
/// waiting at least what a `Retry-After` asks, within bounds).
///
/// The client speaks TLS with rustls. If the process has no default rustls crypto provider yet,
/// the one this crate was compiled with is installed (aws-lc-rs when its feature is on, else
/// *ring*); without either feature this is [`Error::NoCryptoProvider`] rather than a panic.
/// It must be called inside a tokio runtime, on which the client runs its connection tasks;
/// outside one this is [`Error::NoRuntime`].
pub fn client_with_limits(config: kube::Config, limits: Limits) -> Result<kube::Client, Error> {
    build(config, limits).map(|(client, _)| client)
}

/// [`client_with_limits`], and where its layer records each answer's `Retry-After`.
pub(crate) fn build(
    mut config: kube::Config,
    limits: Limits,
) -> Result<(kube::Client, Arc<RetryAfter>), Error> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::NoRuntime);
    }
    ensure_crypto_provider()?;
    config.default_retry = false;
    let layer = LimitLayer::new(limits, Some(&config.cluster_url));
    let retry_after = Arc::clone(&layer.retry_after);
    let builder = kube::client::ClientBuilder::try_from(config).map_err(Error::Client)?;
    Ok((builder.with_layer(&layer).build(), retry_after))
}

/// Wraps a client passed in whole in a client whose requests go through it bounded by `limits`.
///
/// What the inner client does beneath (its own timeouts, and the retries of kube's default
/// stack, which cannot be removed from a built client) stays as it is; the bounds apply to
/// each request as a whole, retries included. Call it inside a tokio runtime: the new client
/// spawns its request queue's task on it.
pub(crate) fn wrap(client: kube::Client, limits: Limits) -> (kube::Client, Arc<RetryAfter>) {
    let namespace = client.default_namespace().to_owned();
    let layer = LimitLayer::new(limits, None);
    let retry_after = Arc::clone(&layer.retry_after);
    let service = tower::Layer::layer(&layer, Send(client));
    (kube::Client::new(service, namespace), retry_after)
}

/// A [`kube::Client`] as a tower service of raw requests, to put a layer in front of it.
#[derive(Clone)]
struct Send(kube::Client);

type Request = http::Request<kube::client::Body>;
type Response = http::Response<kube::client::Body>;

impl tower::Service<Request> for Send {
    type Response = Response;
    type Error = kube::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, kube::Error>> + std::marker::Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), kube::Error>> {
        // The client waits for its own readiness inside `send`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let client = self.0.clone();
        Box::pin(async move { client.send(request).await })
    }
}

/// Makes sure rustls has a process-wide crypto provider, installing the compiled-in one.
///
/// kube builds its TLS configuration with the process default provider; rustls only picks one by
/// itself when exactly one is compiled in, and panics otherwise.
fn ensure_crypto_provider() -> Result<(), Error> {
    if rustls::crypto::CryptoProvider::get_default().is_some() {
        return Ok(());
    }
    // `install_default` fails only when another thread installed a provider first, which is as
    // good as installing ours.
    #[cfg(feature = "aws-lc-rs")]
    {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        Ok(())
    }
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(())
    }
    #[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
    {
        Err(Error::NoCryptoProvider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_runtime_building_a_client_is_an_error_not_a_panic() {
        let config = kube::Config::new("https://127.0.0.1:6443".parse().unwrap());
        let Err(err) = client_with_limits(config, Limits::default()) else {
            panic!("a client was built outside a runtime");
        };
        assert_eq!(
            err.to_string(),
            "building a kubernetes client needs a tokio runtime"
        );
    }

    #[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
    #[tokio::test]
    async fn without_a_provider_building_a_client_is_an_error_not_a_panic() {
        let config = kube::Config::new("https://127.0.0.1:6443".parse().unwrap());
        let Err(err) = client_with_limits(config, Limits::default()) else {
            panic!("a client was built without a crypto provider");
        };
        assert!(matches!(err, Error::NoCryptoProvider), "{err}");
    }

    #[cfg(any(feature = "ring", feature = "aws-lc-rs"))]
    #[tokio::test]
    async fn a_provider_is_installed_on_demand() {
        ensure_crypto_provider().unwrap();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
        let config = kube::Config::new("https://127.0.0.1:6443".parse().unwrap());
        let client = client_with_limits(config, Limits::default()).unwrap();
        assert_eq!(client.default_namespace(), "default");
    }
}
