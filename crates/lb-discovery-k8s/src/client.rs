//! Kubernetes clients: from the ambient configuration, with [`Limits`] and a crypto provider.

use crate::error::Error;
use crate::limits::{LimitLayer, Limits};

/// Loads the ambient Kubernetes configuration: the kubeconfig (`$KUBECONFIG`, else
/// `~/.kube/config`, its current context), else the in-cluster service account
/// (`KUBERNETES_SERVICE_HOST` and `/var/run/secrets/kubernetes.io/serviceaccount`).
pub async fn infer_config() -> Result<kube::Config, Error> {
    kube::Config::infer().await.map_err(Error::Config)
}

/// Builds a client for `config` whose requests are bounded by `limits`.
///
/// The client speaks TLS with rustls. If the process has no default rustls crypto provider yet,
/// the one this crate was compiled with is installed (aws-lc-rs when its feature is on, else
/// *ring*); without either feature this is [`Error::NoCryptoProvider`] rather than a panic.
/// It must be called inside a tokio runtime, on which the client runs its connection tasks;
/// outside one this is [`Error::NoRuntime`].
pub fn client_with_limits(config: kube::Config, limits: Limits) -> Result<kube::Client, Error> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::NoRuntime);
    }
    ensure_crypto_provider()?;
    let builder = kube::client::ClientBuilder::try_from(config).map_err(Error::Client)?;
    Ok(builder.with_layer(&LimitLayer(limits)).build())
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
