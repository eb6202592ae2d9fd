//! Integration tests of lb-discovery-k8s: kube's real watcher against a fake Kubernetes API
//! server over real HTTP on 127.0.0.1, serving EndpointSlice JSON built with k8s-openapi types.

mod clients;
mod deltas;
mod fake_api;
mod limits;
mod load_balancer;
mod outage;
mod recovery;
mod support;
mod watch;
mod zones;
