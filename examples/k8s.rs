//! Kubernetes discovery: a round-robin load balancer over a Service's EndpointSlices, printing
//! each change as the watch pushes it.
//!
//! `cargo run --example k8s -- <service> [namespace] [port]`
//!
//! - The cluster comes from the ambient configuration: `$KUBECONFIG` or `~/.kube/config` (its
//!   current context), or the pod's service account when run inside a cluster.
//! - `namespace` defaults to the context's namespace (else `default`).
//! - `port` is a port name (`http`) or number (the pods' target port, `8080`); without it the
//!   Service's only port is used.
//!
//! The identity needs `get`, `list` and `watch` on `endpointslices` in the namespace:
//! `examples/k8s-rbac.yaml` is a minimal Role and RoleBinding. Stop it with Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;

use lb::discovery::k8s::{EndpointMeta, EndpointSliceDiscovery, Port, infer_config};
use lb::prelude::*;
use lb::selection::RoundRobin;
use lb::{BoxError, Discovered, Enablement};

const USAGE: &str = "usage: cargo run --example k8s -- <service> [namespace] [port]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(service) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(service, args.get(1), args.get(2)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn run(
    service: &str,
    namespace: Option<&String>,
    port: Option<&String>,
) -> Result<(), BoxError> {
    let config = match infer_config().await {
        Ok(config) => config,
        Err(e) => {
            return Err(format!(
                "{e}\n  this example needs a cluster: set KUBECONFIG or write ~/.kube/config \
                 (for example with `kind create cluster`), or run it inside a pod"
            )
            .into());
        }
    };
    println!("cluster: {}", config.cluster_url);
    let mut builder = EndpointSliceDiscovery::builder(service).config(config);
    if let Some(namespace) = namespace {
        builder = builder.namespace(namespace.as_str());
    }
    if let Some(port) = port {
        builder = builder.port(match port.parse::<u16>() {
            Ok(number) => Port::Number(number),
            Err(_) => Port::name(port.as_str()),
        });
    }
    let discovery = builder.build().await?;
    println!(
        "following service {}/{}; Ctrl-C stops",
        discovery.namespace(),
        discovery.service()
    );
    let mut changes = discovery
        .subscribe()
        .ok_or("the source offers no change signal")?;
    let lb = Arc::new(LoadBalancer::<RoundRobin>::from_backends(Backends::new(
        Box::new(discovery.clone()),
    )));
    let handle = lb.spawn();
    let mut shown = None;
    loop {
        match discovery.discover().await {
            Ok(set) => {
                // A change signal can repeat what was already shown (the first list, say).
                let view: Vec<_> = set
                    .backends
                    .iter()
                    .map(|b| (b.addr.clone(), set.enablement.get(&b.addr).copied()))
                    .collect();
                if shown.as_ref() != Some(&view) {
                    print_set(&set, &lb);
                    shown = Some(view);
                }
            }
            // Not listed yet (the API is unreachable, or RBAC forbids the list): say why and wait.
            Err(e) => println!("waiting: {}", chain(e.as_ref())),
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            alive = changes.changed() => if !alive { break },
        }
    }
    handle.shutdown().await;
    println!("status: {:?}", discovery.status());
    Ok(())
}

fn print_set(set: &Discovered, lb: &LoadBalancer<RoundRobin>) {
    println!("{} backend(s):", set.backends.len());
    for backend in &set.backends {
        let state = set
            .enablement
            .get(&backend.addr)
            .copied()
            .unwrap_or_default();
        let state = match state {
            Enablement::Enabled => "enabled",
            Enablement::Draining => "draining",
            _ => "disabled",
        };
        let meta = backend.ext.get::<EndpointMeta>();
        let zone = meta.and_then(|m| m.zone.as_deref()).unwrap_or("-");
        let pod = meta.and_then(|m| m.pod_name()).unwrap_or("-");
        println!(
            "  {:<28} {state:<9} zone {zone:<14} pod {pod}",
            backend.addr.to_string()
        );
    }
    // The load balancer applies the same set on its own task; this pick may be one update behind.
    match lb.select(b"") {
        Some(pick) => println!("  next pick: {}", pick.addr),
        None => println!("  next pick: none ready"),
    }
}

/// An error and its causes on one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
