//! tonic clients balanced by lb: through `Balance` over one `Channel` per backend, and through
//! the `Discover` adapter into tonic's own `Channel::balance_channel`.

use std::sync::Arc;

use futures_util::StreamExt;
use lb_core::{Backend, LoadBalancer, PassiveHealth};
use lb_selection::RoundRobin;
use lb_tower::Balance;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tower::discover::Change;

use crate::support::{GrpcServer, channel_for, endpoint_for, within};

async fn servers(n: usize) -> Vec<GrpcServer> {
    let mut servers = Vec::new();
    for _ in 0..n {
        servers.push(GrpcServer::start().await);
    }
    servers
}

fn check() -> HealthCheckRequest {
    HealthCheckRequest {
        service: String::new(),
    }
}

#[tokio::test]
async fn balance_spreads_grpc_calls_and_ejects_a_stopped_server() {
    let mut servers = servers(3).await;
    let lb =
        LoadBalancer::<RoundRobin>::try_from_iter(servers.iter().map(GrpcServer::backend)).unwrap();
    lb.set_passive_health(Some(PassiveHealth::default()));
    let lb = Arc::new(lb);
    let mut client = HealthClient::new(Balance::new(Arc::clone(&lb), channel_for));
    for _ in 0..30 {
        within("a health check", client.check(check()))
            .await
            .unwrap();
    }
    let counts: Vec<u64> = servers.iter().map(GrpcServer::requests).collect();
    assert_eq!(counts, [10, 10, 10]);

    servers[1].stop().await;
    let mut failed = 0;
    for _ in 0..60 {
        failed += usize::from(
            within("a health check", client.check(check()))
                .await
                .is_err(),
        );
    }
    assert!(
        failed <= 5,
        "{failed} failed calls: at most the passive-health threshold"
    );
    let state = lb.backends().state(&servers[1].backend()).unwrap();
    assert!(state.is_ejected() || failed == 0, "{state:?}");
    assert_eq!(
        servers[1].requests(),
        10,
        "nothing reached the stopped server"
    );
}

#[tokio::test]
async fn the_discover_adapter_drives_tonics_balance_channel() {
    let servers = servers(3).await;
    let lb = Arc::new(
        LoadBalancer::<RoundRobin>::try_from_iter(servers.iter().map(GrpcServer::backend)).unwrap(),
    );
    let (channel, sender) = tonic::transport::Channel::balance_channel(16);
    let (forwarded_tx, mut forwarded) = tokio::sync::mpsc::unbounded_channel();
    let mut changes = lb_tower::discover_with(&lb, endpoint_for);
    let forward = tokio::spawn(async move {
        while let Some(Ok(change)) = changes.next().await {
            // tonic has a `Change` of its own, with the same two cases.
            let (seen, change) = match change {
                Change::Insert(addr, endpoint) => (
                    format!("+{addr}"),
                    tonic::transport::channel::Change::Insert(addr, endpoint),
                ),
                Change::Remove(addr) => (
                    format!("-{addr}"),
                    tonic::transport::channel::Change::Remove(addr),
                ),
            };
            if sender.send(change).await.is_err() {
                return;
            }
            let _ = forwarded_tx.send(seen);
        }
    });
    for _ in 0..3 {
        within("the inserts", forwarded.recv()).await.unwrap();
    }
    let mut client = HealthClient::new(channel);
    for _ in 0..90 {
        within("a health check", client.check(check()))
            .await
            .unwrap();
    }
    assert!(
        servers.iter().all(|s| s.requests() > 0),
        "every server served"
    );

    // A health flip (as an active check would make) removes the backend from tonic's channel.
    let gone: Backend = servers[0].backend();
    lb.backends().set_health(&gone, false);
    let seen = within("the removal", forwarded.recv()).await.unwrap();
    assert_eq!(seen, format!("-{}", gone.addr));
    let before = servers[0].requests();
    for _ in 0..60 {
        within("a health check", client.check(check()))
            .await
            .unwrap();
    }
    assert_eq!(servers[0].requests(), before, "no call after the removal");
    forward.abort();
}
