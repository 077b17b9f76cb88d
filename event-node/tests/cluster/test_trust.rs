//! Who may talk to a node: only holders of a certificate from this cluster's CA, each only as
//! the identity its certificate names, and each only for the calls that identity may make. A
//! peer that drops SYNs costs a coordinator a connect timeout, not minutes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use event_node::credentials::CredentialDir;
use event_node::protocol::link::{Connect, CONNECT_TIMEOUT};
use event_node::protocol::{rpc_context, EventId, EventNodeClient, NodeError, Peer, DEFAULT_RPC_TIMEOUT};
use scheduling::EventSpec;
use tarpc::tokio_serde::formats::Bincode;

use crate::util::{answer_for, deadline_in, put_answer, three_nodes, Blackhole, NodeProcess, TempDir, TestControl};

#[tokio::test]
async fn a_client_without_a_cluster_certificate_gets_nothing() {
    let control = TestControl::start().await;
    let node = NodeProcess::start("n1", &control);

    // Plain tarpc over TCP, as before links were authenticated: the node never answers.
    let transport = tarpc::serde_transport::tcp::connect(node.address, Bincode::default).await.expect("TCP connects");
    let plain = EventNodeClient::new(tarpc::client::Config::default(), transport).spawn();
    let started = Instant::now();
    let result = plain.health(rpc_context(Duration::from_secs(3))).await;
    assert!(result.is_err(), "an unauthenticated client got an answer: {result:?}");
    assert!(started.elapsed() < Duration::from_secs(4));

    // A well-formed certificate from another cluster's CA: the handshake fails.
    let other_dir = TempDir::new("other-cluster");
    let other = CredentialDir::new(&other_dir.0);
    other.init().unwrap();
    other.issue(&Peer::Server).unwrap();
    let foreign = other.load(Peer::Server).unwrap();
    let connected = EventNodeClient::connect(&foreign, node.address, &Peer::Node("n1".into())).await;
    assert!(connected.is_err(), "another cluster's server was let in");

    // Nobody was let in along the way: the real server's client still works.
    assert_eq!(node.client().await.health(rpc_context(DEFAULT_RPC_TIMEOUT)).await.unwrap().node_id, "n1");
}

#[tokio::test]
async fn a_node_cannot_pose_as_another_or_as_the_server() {
    let control = TestControl::start().await;
    let target = NodeProcess::start("n1", &control);
    control.credentials.issue(&Peer::Node("n2".into())).unwrap();

    // n2's certificate and key, filed as if they were n3's (and as the server's).
    let forged_dir = TempDir::new("forged");
    let source = control.credentials.path();
    std::fs::copy(source.join("ca.crt"), forged_dir.0.join("ca.crt")).unwrap();
    for label in ["node-n3", "server"] {
        std::fs::copy(source.join("node-n2.crt"), forged_dir.0.join(format!("{label}.crt"))).unwrap();
        std::fs::copy(source.join("node-n2.key"), forged_dir.0.join(format!("{label}.key"))).unwrap();
    }
    let forged = CredentialDir::new(&forged_dir.0);
    for claimed in [Peer::Node("n3".into()), Peer::Server] {
        let tls = forged.load(claimed.clone()).unwrap();
        let client = EventNodeClient::connect(&tls, target.address, &Peer::Node("n1".into())).await.expect("TLS itself succeeds");
        let result = client.health(rpc_context(Duration::from_secs(2))).await;
        assert!(result.is_err(), "n2 was accepted as {claimed}: {result:?}");
    }

    // As itself, n2 may read but not write: only the server stores answers or assigns events.
    let honest = control.credentials.load(Peer::Node("n2".into())).unwrap();
    let peer = EventNodeClient::connect(&honest, target.address, &Peer::Node("n1".into())).await.unwrap();
    let event = EventId(7);
    let spec = EventSpec::new(deadline_in(30), 60, None).unwrap();
    assert_eq!(put_answer(&peer, event, answer_for(1, u64::MAX, deadline_in(30))).await, Err(NodeError::Forbidden));
    assert_eq!(peer.assign_event(rpc_context(DEFAULT_RPC_TIMEOUT), event, spec).await.unwrap(), Err(NodeError::Forbidden));
    assert_eq!(peer.retire(rpc_context(DEFAULT_RPC_TIMEOUT)).await.unwrap(), Err(NodeError::Forbidden));
    assert!(peer.fetch_partial(rpc_context(DEFAULT_RPC_TIMEOUT), event).await.unwrap().unwrap().is_empty());
    let status = target.client().await.status(rpc_context(DEFAULT_RPC_TIMEOUT)).await.unwrap();
    assert_eq!((status.answers, status.coordinating), (0, 0), "the refused calls changed nothing");

    // And a node cannot reach a peer that is not who the address book says.
    let wrong = EventNodeClient::connect(&honest, target.address, &Peer::Node("n9".into())).await;
    assert!(wrong.is_err(), "connected to n1 while expecting n9");
}

#[tokio::test]
async fn a_blackholed_answer_holder_costs_the_coordinator_seconds_not_minutes() {
    let control = TestControl::start().await;
    let nodes = three_nodes(&control);
    let deadline = deadline_in(3);
    let event = EventId(1);
    control.create_event(event, EventSpec::new(deadline, 60, None).unwrap(), &nodes[0]).await;
    let answers: Vec<_> = (0..6).map(|index| answer_for(index, 1, deadline)).collect();
    for (index, answer) in answers.iter().enumerate() {
        control.accept_answer(event, answer, &nodes[1 + index % 2]).await;
    }

    // n3's host starts dropping packets: every connect to it hangs until its timeout.
    let blackhole = Blackhole::new();
    control.move_node("n3", blackhole.address);
    let started = Instant::now();
    let connect = nodes[2].try_client_at(blackhole.address).await;
    assert!(connect.is_err());
    assert!(started.elapsed() < CONNECT_TIMEOUT + Duration::from_millis(500), "connect waited {:?}", started.elapsed());

    // Past the deadline the coordinator cannot finish (n3 holds answers) ...
    tokio::time::sleep((deadline - chrono::Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(2)).await;
    assert!(control.stored(event).is_none(), "decided without n3's answers");
    // ... until the server moves n3's answers to n2; then the outcome follows within seconds.
    let moved = Instant::now();
    let holder = Arc::new(nodes[1].client().await);
    for answer in answers.iter().skip(1).step_by(2) {
        put_answer(&holder, event, answer.clone()).await.unwrap();
        control.reassign(event, answer.participant, answer.version, "n2");
    }
    let decided = control.wait_for_outcome(event, Duration::from_secs(15)).await;
    eprintln!("outcome {:?} after the move", moved.elapsed());
    assert_eq!(decided, scheduling::outcome(&EventSpec::new(deadline, 60, None).unwrap(), &answers));
    assert_eq!(control.report_count(event), 1);
}

#[tokio::test]
async fn strangers_holding_handshakes_open_cannot_take_an_established_link() {
    use event_node::protocol::link::{HANDSHAKE_TIMEOUT, MAX_HANDSHAKES};
    let control = TestControl::start().await;
    let node = NodeProcess::start("n1", &control);
    let established = node.client().await;
    established.health(rpc_context(DEFAULT_RPC_TIMEOUT)).await.expect("health before the flood");

    // More silent TCP connections than there are handshake slots, each saying nothing (from
    // one address, so most are refused at once; the rest hold their slots until timed out).
    let mut silent = Vec::new();
    for _ in 0..MAX_HANDSHAKES + 16 {
        silent.push(tokio::net::TcpStream::connect(node.address).await.expect("TCP connects"));
    }
    for _ in 0..5 {
        let health = established.health(rpc_context(DEFAULT_RPC_TIMEOUT)).await;
        assert_eq!(health.expect("the established link still answers").node_id, "n1");
    }
    // Once the strangers' handshake time is up, new links are let in again.
    tokio::time::sleep(HANDSHAKE_TIMEOUT + Duration::from_millis(500)).await;
    let fresh = node.client().await;
    assert_eq!(fresh.health(rpc_context(DEFAULT_RPC_TIMEOUT)).await.unwrap().node_id, "n1");
    drop(silent);
}
