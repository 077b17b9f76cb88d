use std::time::Duration;

use event_node::protocol::{rpc_context, DEFAULT_RPC_TIMEOUT};
use tarpc::client::RpcError;

use crate::util::{NodeProcess, TestControl};

#[tokio::test]
async fn a_started_node_answers_health_with_its_id() {
    let control = TestControl::start().await;
    let node = NodeProcess::start("n1", &control);
    let client = node.client().await;
    let first = client.health(rpc_context(DEFAULT_RPC_TIMEOUT)).await.expect("health");
    assert_eq!(first.node_id, "n1");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = client.health(rpc_context(DEFAULT_RPC_TIMEOUT)).await.expect("health");
    assert!(second.uptime_ms >= first.uptime_ms + 20, "{first:?} then {second:?}");
}

#[tokio::test]
async fn a_killed_node_fails_calls_instead_of_hanging() {
    let control = TestControl::start().await;
    let mut node = NodeProcess::start("n2", &control);
    let client = node.client().await;
    client.health(rpc_context(DEFAULT_RPC_TIMEOUT)).await.expect("health before the kill");
    node.kill();
    let started = std::time::Instant::now();
    let result = client.health(rpc_context(DEFAULT_RPC_TIMEOUT)).await;
    assert!(matches!(result, Err(RpcError::Shutdown | RpcError::Send(_) | RpcError::Channel(_) | RpcError::DeadlineExceeded)), "{result:?}");
    assert!(started.elapsed() < DEFAULT_RPC_TIMEOUT + Duration::from_secs(1));
    assert!(node.try_client().await.is_err(), "nothing listens after SIGKILL");
}

#[tokio::test]
async fn a_hung_node_fails_calls_by_their_deadline() {
    let control = TestControl::start().await;
    let node = NodeProcess::start("n3", &control);
    let client = node.client().await;
    client.health(rpc_context(DEFAULT_RPC_TIMEOUT)).await.expect("health before SIGSTOP");
    node.signal("STOP");
    let started = std::time::Instant::now();
    let result = client.health(rpc_context(Duration::from_millis(500))).await;
    let waited = started.elapsed();
    node.signal("CONT");
    assert!(matches!(result, Err(RpcError::DeadlineExceeded)), "{result:?}");
    assert!(waited >= Duration::from_millis(450) && waited < Duration::from_secs(3), "{waited:?}");
    // Once continued it answers again.
    client.health(rpc_context(DEFAULT_RPC_TIMEOUT)).await.expect("health after SIGCONT");
}

#[tokio::test]
async fn a_node_refuses_to_advertise_an_address_peers_cannot_reach() {
    let control = TestControl::start().await;
    control.credentials.ensure(&event_node::protocol::Peer::Node("n1".into())).unwrap();
    let data_dir = crate::util::TempDir::new("unspecified");
    for extra in [&["--listen", "0.0.0.0:0"][..], &["--listen", "127.0.0.1:0", "--advertise", "0.0.0.0:4100"][..]] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_event-node"))
            .args(["--node-id", "n1", "--server", &control.address.to_string()])
            .arg("--data-dir")
            .arg(&data_dir.0)
            .arg("--credentials")
            .arg(control.credentials.path())
            .args(extra)
            .output()
            .expect("run event-node");
        assert!(!output.status.success(), "{extra:?} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("cannot advertise"), "{extra:?}: {stderr}");
    }
}
