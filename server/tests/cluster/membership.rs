//! The ring at run time, with real processes: nodes join by saying hello and leave by draining
//! (SIGTERM on the node, or `whenly node drain`) while people answer; a node whose host starts
//! dropping packets costs seconds, not minutes; a stalled event is counted in `/healthz`; a
//! quarantine is lifted by command; and the control port lets in nobody but the cluster.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use event_node::credentials::CredentialDir;
use event_node::protocol::link::Connect;
use event_node::protocol::{rpc_context, ControlPlaneClient, EventId, EventNodeClient, Peer};
use reqwest::StatusCode;
use server::db::Db;
use tarpc::tokio_serde::formats::Bincode;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinSet;

use crate::harness::{Deployment, Rng};
use crate::helpers::{on_both_databases, Backend};
use crate::scenario::{assert_no_strikes, assert_stored_once, stored_at, Scenario};

on_both_databases!(
    nodes_join_and_drain_under_load,
    a_node_whose_host_drops_packets_delays_outcomes_by_seconds,
    a_stalled_event_is_counted_and_a_quarantine_is_lifted_by_command,
    a_node_back_with_an_empty_store_gets_its_answers_again,
    the_control_port_lets_in_only_the_cluster,
    a_node_calling_an_open_event_sealed_does_not_swallow_its_answers
);

async fn count(deployment: &Deployment, sql: &str) -> i64 {
    match Db::connect(&deployment.database_url()).await.unwrap() {
        Db::MySql(pool) => sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap(),
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap(),
    }
}

async fn execute(deployment: &Deployment, sql: &str) {
    match Db::connect(&deployment.database_url()).await.unwrap() {
        Db::MySql(pool) => sqlx::query(sql).execute(&pool).await.map(|_| ()).unwrap(),
        Db::Sqlite(pool) => sqlx::query(sql).execute(&pool).await.map(|_| ()).unwrap(),
    }
}

/// Two nodes to start with; a third joins while answers stream in and gets new answers and
/// events; then the first leaves on SIGTERM, the second on `whenly node drain`: each is retired
/// and exits once its work has moved, and every outcome is still right.
async fn nodes_join_and_drain_under_load(backend: Backend) {
    let Some(mut deployment) = Deployment::start_with(backend, &["n1", "n2"]).await else { return };
    let mut rng = Rng::from_time();
    let deadline = Utc::now() + chrono::Duration::seconds(40);
    let mut scenario = Scenario::set_up(&deployment, 3, 4, deadline).await;
    scenario.stream_answers(Utc::now() + chrono::Duration::seconds(2), &mut rng).await;

    deployment.add_node("n3", None).await;
    deployment.wait_for_node("n3", "live").await;
    scenario.add_events(6, deadline).await;
    scenario.leave_rejoin_answer(&mut rng).await;
    scenario.stream_answers(Utc::now() + chrono::Duration::seconds(3), &mut rng).await;
    let coordinated = count(&deployment, "SELECT COUNT(*) FROM event WHERE coordinator_node = 'n3'").await;
    let held = count(&deployment, "SELECT COUNT(*) FROM answer WHERE assigned_node = 'n3'").await;
    assert!(coordinated > 0 && held > 0, "the new node got no work: {coordinated} events, {held} answers");

    // n1 leaves on SIGTERM while answers keep coming.
    deployment.nodes[0].signal("TERM").expect("SIGTERM n1");
    let until = Utc::now() + chrono::Duration::seconds(8);
    let (accepted, status) = tokio::join!(scenario.stream_answers(until, &mut rng), exit_of(&mut deployment.nodes[0]));
    assert!(accepted > 0);
    assert!(status.success(), "n1 exited with {status}");
    deployment.wait_for_node("n1", "retired").await;
    assert_eq!(count(&deployment, "SELECT COUNT(*) FROM event WHERE coordinator_node = 'n1' AND outcome_stored_at IS NULL").await, 0);
    assert_eq!(count(&deployment, "SELECT COUNT(*) FROM answer WHERE assigned_node = 'n1'").await, 0);

    // n2 is drained by the operator's command.
    let said = deployment.admin(&["node", "drain", "n2"]).await;
    assert!(said.contains("n2 is draining"), "{said}");
    let until = Utc::now() + chrono::Duration::seconds(4);
    let (accepted, status) = tokio::join!(scenario.stream_answers(until, &mut rng), exit_of(&mut deployment.nodes[1]));
    assert!(accepted > 0);
    assert!(status.success(), "n2 exited with {status}");
    deployment.wait_for_node("n2", "retired").await;
    let listed = deployment.admin(&["node", "list"]).await;
    assert!(listed.contains("n1\tretired") && listed.contains("n2\tretired") && listed.contains("n3\tlive"), "{listed}");

    scenario.stream_answers(deadline, &mut rng).await;
    scenario.assert_outcomes_match_the_oracle().await;
    assert_stored_once(&deployment, scenario.events.len()).await;
    assert_no_strikes(&deployment).await;
}

/// Waits (up to 30 s, without blocking the runtime) for a node process to exit by itself.
async fn exit_of(node: &mut event_node::process::NodeProcess) -> std::process::ExitStatus {
    for _ in 0..600 {
        if let Some(status) = node.wait_for_exit(Duration::ZERO) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} did not exit within 30 s of being drained", node.id);
}

/// A TCP relay in front of a node, which can be turned into a black hole on the same port:
/// existing connections are cut and new SYNs go unanswered, as when a host's network fails.
/// Its target is set once the node runs (the node must be told the relay's address first).
struct Relay {
    address: SocketAddr,
    target: Arc<AtomicU16>,
    tasks: JoinSet<()>,
    _hole: Option<(TcpListener, std::net::TcpStream)>,
}

impl Relay {
    async fn start() -> Self {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(64).unwrap();
        let address = listener.local_addr().unwrap();
        let target = Arc::new(AtomicU16::new(0));
        let mut tasks = JoinSet::new();
        let port = Arc::clone(&target);
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let port = port.load(Ordering::SeqCst);
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", port)).await {
                        let _ = copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { address, target, tasks, _hole: None }
    }

    /// Cuts every connection and leaves a listener on the port that never accepts and whose
    /// queue is full.
    async fn black_hole(&mut self) {
        self.tasks.shutdown().await;
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(self.address).unwrap();
        let listener = socket.listen(0).unwrap();
        let queued = std::net::TcpStream::connect_timeout(&self.address, Duration::from_secs(1)).unwrap();
        assert!(std::net::TcpStream::connect_timeout(&self.address, Duration::from_millis(300)).is_err(), "the hole answered");
        self._hole = Some((listener, queued));
    }
}

/// n4 is reached through a relay; a few seconds before the deadline, while it holds answers
/// and coordinates events, the relay becomes a black hole. Every outcome still arrives within
/// seconds of the deadline, and is right.
async fn a_node_whose_host_drops_packets_delays_outcomes_by_seconds(backend: Backend) {
    let Some(mut deployment) = Deployment::start(backend).await else { return };
    let mut rng = Rng::from_time();
    let mut relay = Relay::start().await;
    let index = deployment.add_node("n4", Some(relay.address)).await;
    relay.target.store(deployment.nodes[index].address.port(), Ordering::SeqCst);
    deployment.wait_for_node("n4", "live").await;

    let deadline = Utc::now() + chrono::Duration::seconds(14);
    let scenario = Scenario::set_up(&deployment, 3, 8, deadline).await;
    scenario.stream_answers(deadline - chrono::Duration::seconds(4), &mut rng).await;
    let coordinated = count(&deployment, "SELECT COUNT(*) FROM event WHERE coordinator_node = 'n4'").await;
    let held = count(&deployment, "SELECT COUNT(*) FROM answer WHERE assigned_node = 'n4'").await;
    assert!(coordinated > 0 && held > 0, "n4 got no work: {coordinated} events, {held} answers");

    relay.black_hole().await;
    scenario.stream_answers(deadline, &mut rng).await;
    scenario.assert_outcomes_match_the_oracle().await;
    let late = stored_at(&deployment).await.into_values().flatten().map(|at| at - deadline).max().expect("outcomes");
    eprintln!("latest outcome {} ms after the deadline", late.num_milliseconds());
    // Before links had connect timeouts, one SYN into the void held every coordinator ~2 min.
    assert!(late < chrono::Duration::seconds(15), "a black-holed node delayed an outcome by {late}");
    assert_stored_once(&deployment, scenario.events.len()).await;
    assert_no_strikes(&deployment).await;
    deployment.wait_for_node("n4", "dead").await;
}

/// Every node stopped across a deadline: `/healthz` counts the event as overdue until the
/// nodes continue and decide it. Then a quarantine (as three wrong reports leave it) is lifted
/// with `whenly node lift-quarantine`.
async fn a_stalled_event_is_counted_and_a_quarantine_is_lifted_by_command(backend: Backend) {
    let Some(deployment) = Deployment::start(backend).await else { return };
    let mut rng = Rng::from_time();
    let deadline = Utc::now() + chrono::Duration::seconds(4);
    let scenario = Scenario::set_up(&deployment, 1, 1, deadline).await;
    scenario.stream_answers(deadline - chrono::Duration::seconds(1), &mut rng).await;
    assert_eq!(deployment.health().await["overdue_events"], 0);
    for node in &deployment.nodes {
        node.signal("STOP").unwrap();
    }
    let mut health = serde_json::Value::Null;
    for _ in 0..200 {
        health = deployment.health().await;
        if health["overdue_events"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for node in &deployment.nodes {
        node.signal("CONT").unwrap();
    }
    assert_eq!(health["overdue_events"], 1, "the stalled event is counted: {health}");
    scenario.assert_outcomes_match_the_oracle().await;
    assert_eq!(deployment.health().await["overdue_events"], 0);

    execute(&deployment, "UPDATE node SET state = 'quarantined', strikes = 3 WHERE node_id = 'n2'").await;
    deployment.wait_for_node("n2", "quarantined").await;
    let said = deployment.admin(&["node", "lift-quarantine", "n2"]).await;
    assert!(said.contains("n2 is back"), "{said}");
    deployment.wait_for_node("n2", "live").await;
    assert_eq!(count(&deployment, "SELECT strikes FROM node WHERE node_id = 'n2'").await, 0);
}

/// A node comes back on its address with an empty store (a redeployed host, a lost disk),
/// after acknowledging answers: the coordinators find them missing, report it, and the server
/// sends them again; every outcome is right.
async fn a_node_back_with_an_empty_store_gets_its_answers_again(backend: Backend) {
    let Some(mut deployment) = Deployment::start(backend).await else { return };
    let mut rng = Rng::from_time();
    let deadline = Utc::now() + chrono::Duration::seconds(10);
    let scenario = Scenario::set_up(&deployment, 3, 6, deadline).await;
    scenario.stream_answers(deadline - chrono::Duration::seconds(2), &mut rng).await;
    let held = count(&deployment, "SELECT COUNT(*) FROM answer WHERE assigned_node = 'n2' AND needs_dispatch = FALSE").await;
    assert!(held > 0, "n2 acknowledged nothing");

    deployment.nodes[1].kill();
    let store = deployment.data_dir.path.join("n2");
    std::fs::remove_dir_all(&store).unwrap();
    deployment.nodes[1].restart().expect("n2 back on its address");
    scenario.assert_outcomes_match_the_oracle().await;
    assert_stored_once(&deployment, scenario.events.len()).await;
    assert_no_strikes(&deployment).await;
}

/// The control port answers nobody without a certificate from this cluster's CA: not a plain
/// tarpc client, not another cluster's node. And a node's hello cannot move another node.
async fn the_control_port_lets_in_only_the_cluster(backend: Backend) {
    let Some(deployment) = Deployment::start(backend).await else { return };
    let control = deployment.control_address();

    let transport = tarpc::serde_transport::tcp::connect(control, Bincode::default).await.expect("TCP connects");
    let plain = ControlPlaneClient::new(tarpc::client::Config::default(), transport).spawn();
    let fake: SocketAddr = "127.0.0.1:9".parse().unwrap();
    assert!(plain.hello(rpc_context(Duration::from_secs(2)), fake).await.is_err(), "a plain client was answered");
    assert!(plain.manifests(rpc_context(Duration::from_secs(2)), vec![EventId(1)]).await.is_err());

    let other_dir = crate::helpers::TempDir::new();
    let other = CredentialDir::new(&other_dir.path);
    other.init().unwrap();
    other.issue(&Peer::Node("n1".into())).unwrap();
    let foreign = other.load(Peer::Node("n1".into())).unwrap();
    let connected = ControlPlaneClient::connect(&foreign, control, &Peer::Server).await;
    if let Ok(client) = connected {
        assert!(client.hello(rpc_context(Duration::from_secs(2)), fake).await.is_err(), "another cluster's n1 was answered");
    }

    // n1's own credentials say hello as n1, whatever else it would like to be: n2 stays put.
    let ours = CredentialDir::new(deployment.credentials_path()).load(Peer::Node("n1".into())).unwrap();
    let n1 = ControlPlaneClient::connect(&ours, control, &Peer::Server).await.unwrap();
    let before = deployment.admin(&["node", "list"]).await;
    n1.hello(rpc_context(Duration::from_secs(2)), deployment.nodes[0].address).await.unwrap().unwrap();
    assert_eq!(deployment.admin(&["node", "list"]).await, before, "a hello changed another node");
    assert_eq!(deployment.browser().get("/healthz").await.status(), StatusCode::OK);
}

/// Only a coordinator seals, and only with the outcome the server stored. A node that says an
/// event is sealed while the database holds it open (a peer sealed it wrongly, or the database
/// was restored under running nodes) does not get the event's answers counted as delivered:
/// they stay to be sent, so the event stalls where the overdue count shows it instead of being
/// decided without them.
async fn a_node_calling_an_open_event_sealed_does_not_swallow_its_answers(backend: Backend) {
    let Some(deployment) = Deployment::start_with(backend, &["n1"]).await else { return };
    let alice = deployment.browser();
    assert_eq!(alice.sign_up("alice", "password123").await.status(), StatusCode::CREATED);
    let bob = deployment.browser();
    assert_eq!(bob.sign_up("bob", "password123").await.status(), StatusCode::CREATED);
    let code = alice.create_event(&crate::helpers::event_input(chrono::Duration::hours(2))).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    let event_id = count(&deployment, &format!("SELECT event_id FROM event WHERE code = '{code}'")).await;

    // A peer with this cluster's certificate seals the open event on n1.
    deployment.admin(&["cluster", "issue", "n9"]).await;
    let n9 = CredentialDir::new(deployment.credentials_path()).load(Peer::Node("n9".into())).unwrap();
    let n1 = EventNodeClient::connect(&n9, deployment.nodes[0].address, &Peer::Node("n1".into())).await.unwrap();
    n1.seal(rpc_context(Duration::from_secs(2)), EventId(event_id as u64), scheduling::Outcome::Undefined).await.unwrap().unwrap();

    // Another event on the same node, not sealed: its answer is delivered meanwhile.
    let control = alice.create_event(&crate::helpers::event_input(chrono::Duration::hours(2))).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{control}/join")).await.status(), StatusCode::OK);
    let control_id = count(&deployment, &format!("SELECT event_id FROM event WHERE code = '{control}'")).await;

    let answer = crate::helpers::intervals_tomorrow(&[(9, 12)]);
    assert_eq!(bob.put_availability(&code, &answer).await.status(), StatusCode::OK);
    assert_eq!(bob.put_availability(&control, &answer).await.status(), StatusCode::OK);
    let undelivered = |event_id: i64| format!("SELECT COUNT(*) FROM answer WHERE event_id = {event_id} AND needs_dispatch = TRUE");
    let mut delivered = false;
    for _ in 0..100 {
        if count(&deployment, &undelivered(control_id)).await == 0 {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(delivered, "n1 took no answer at all");
    // Several more reconciler passes (every 500 ms) find the other still to be sent.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(&deployment, &undelivered(event_id)).await, 1, "an answer refused as sealed was counted as delivered");
    assert_eq!(count(&deployment, &format!("SELECT COUNT(*) FROM event WHERE event_id = {event_id} AND outcome_stored_at IS NULL")).await, 1);
}
