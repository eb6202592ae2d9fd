//! Where the client comes from: a kubeconfig file and context named by the builder, or a
//! client passed in whole, which is bounded by the limits all the same.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use lb_core::{Enablement::*, ServiceDiscovery};
// The re-exports: a user names kube's and k8s-openapi's types through this crate.
use lb_discovery_k8s::k8s_openapi::api::discovery::v1::EndpointSlice;
use lb_discovery_k8s::{EndpointSliceDiscovery, Error, Limits, Port, kube};

use crate::fake_api::{FakeApi, Mode};
use crate::support::*;

/// A kubeconfig file, removed when dropped.
struct KubeconfigFile(PathBuf);

impl KubeconfigFile {
    /// Two contexts: `elsewhere` (the current one, an API server nobody listens on, namespace
    /// `elsewhere`) and `fake` (the fake API, namespace [`NAMESPACE`]).
    fn new(api: &FakeApi, name: &str) -> Self {
        let yaml = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: elsewhere\n\
             clusters:\n\
             - name: nowhere\n  cluster:\n    server: http://127.0.0.1:1\n\
             - name: fake\n  cluster:\n    server: {}\n\
             contexts:\n\
             - name: elsewhere\n  context:\n    cluster: nowhere\n    user: nobody\n    namespace: elsewhere\n\
             - name: fake\n  context:\n    cluster: fake\n    user: nobody\n    namespace: {NAMESPACE}\n\
             users:\n- name: nobody\n  user: {{}}\n",
            api.url()
        );
        let path = std::env::temp_dir().join(format!(
            "lb-discovery-k8s-{}-{name}.kubeconfig",
            std::process::id()
        ));
        std::fs::write(&path, yaml).unwrap();
        KubeconfigFile(path)
    }
}

impl Drop for KubeconfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn a_kubeconfig_file_and_context_are_used_without_the_environment() {
    let api = FakeApi::start().await;
    api.apply(web("web-a", "10.0.0.1"));
    let file = KubeconfigFile::new(&api, "context");

    // The file's current context: its namespace, and its server (not asked anything yet).
    let current = EndpointSliceDiscovery::builder("web")
        .kubeconfig(&file.0)
        .initial_list_timeout(Duration::ZERO)
        .build()
        .await
        .unwrap();
    assert_eq!(current.namespace(), "elsewhere");

    // The context named, in either order with the file.
    for builder in [
        EndpointSliceDiscovery::builder("web")
            .kubeconfig(&file.0)
            .context("fake"),
        EndpointSliceDiscovery::builder("web")
            .context("fake")
            .kubeconfig(&file.0),
    ] {
        let discovery = builder.port(Port::name("http")).build().await.unwrap();
        assert_eq!(discovery.namespace(), NAMESPACE);
        let answer = discovery.discover().await.unwrap();
        assert_eq!(view(&answer), expect(&[("10.0.0.1:8080", Enabled)]));
    }

    let err = EndpointSliceDiscovery::builder("web")
        .kubeconfig(&file.0)
        .context("staging")
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Kubeconfig { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot load the kubeconfig `{}` with context `staging`",
            file.0.display()
        )
    );
    let missing = file.0.with_extension("missing");
    let err = EndpointSliceDiscovery::builder("web")
        .kubeconfig(&missing)
        .build()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot load the kubeconfig `{}`", missing.display())
    );
}

/// A client as kube builds it by default, with its own retries and timeouts.
fn given_client(api: &FakeApi) -> kube::Client {
    kube::Client::try_from(config(api)).unwrap()
}

#[tokio::test]
async fn a_client_passed_in_whole_is_bounded_in_bytes_and_time() {
    let api = FakeApi::start().await;
    let mut big: EndpointSlice = web("web-a", "10.0.0.1");
    big.metadata.annotations = Some(BTreeMap::from([("padding".to_owned(), "x".repeat(8192))]));
    api.apply(big);
    let discovery = EndpointSliceDiscovery::builder("web")
        .client(given_client(&api))
        .port(Port::name("http"))
        .backoff(Duration::from_millis(10), Duration::from_millis(100))
        .limits(Limits::default().max_response_bytes(4096))
        .initial_list_timeout(Duration::ZERO)
        .build()
        .await
        .unwrap();
    wait_status(&discovery, "the oversized list", |s| s.errors >= 1).await;
    let error = discovery.status().last_error.unwrap();
    assert!(
        error.message().contains("is larger than 4096 bytes"),
        "{error}"
    );
    assert!(discovery.discover().await.is_err(), "never listed");

    // A server that never answers: the request's deadline ends the wait.
    let stalled = FakeApi::start().await;
    stalled.set_mode(Mode::Stalled);
    let discovery = EndpointSliceDiscovery::builder("web")
        .client(given_client(&stalled))
        .backoff(Duration::from_millis(10), Duration::from_millis(100))
        .limits(Limits::default().request_timeout(Duration::from_millis(200)))
        .initial_list_timeout(Duration::ZERO)
        .build()
        .await
        .unwrap();
    wait_status(&discovery, "a timed out list", |s| s.errors >= 1).await;
    let error = discovery.status().last_error.unwrap();
    assert!(error.message().contains("timed out after 200ms"), "{error}");
}
