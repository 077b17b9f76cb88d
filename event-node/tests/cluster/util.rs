//! Test bootstrap: real `event-node` processes on loopback ports (restartable on the same port
//! and data dir), and a test control plane that plays the server: it keeps the manifest in
//! memory and records every outcome report. Both sides use real cluster credentials made in a
//! temporary directory, and the test's calls to nodes go out as the server.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use event_node::credentials::CredentialDir;
use event_node::process::NodeSetup;
use event_node::protocol::link::{self, ClusterTls, Connect};
use event_node::protocol::{
    rpc_context, ControlError, ControlPlane, EventId, EventNodeClient, Manifest, ManifestEntry, NodeAddress, NodeId, Peer,
    ReportAck, DEFAULT_RPC_TIMEOUT,
};
use futures::{future, StreamExt};
use scheduling::{Answer, EventSpec, Outcome, ParticipantId};
use tarpc::context;
use tarpc::server::Channel;

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let path = std::env::temp_dir().join(format!("whenly-node-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One real node process with a data dir of its own (see [`event_node::process`]).
pub struct NodeProcess {
    process: event_node::process::NodeProcess,
    _data_dir: TempDir,
    server_tls: Arc<ClusterTls>,
}

impl std::ops::Deref for NodeProcess {
    type Target = event_node::process::NodeProcess;
    fn deref(&self) -> &Self::Target {
        &self.process
    }
}

impl NodeProcess {
    /// Starts a node on a free port with a new data dir, with `control`'s credentials.
    pub fn start(id: &str, control: &TestControl) -> Self {
        let data_dir = TempDir::new(id);
        control.credentials.ensure(&Peer::Node(id.to_owned())).expect("issue the node's certificate");
        let setup = NodeSetup {
            binary: env!("CARGO_BIN_EXE_event-node").as_ref(),
            control: control.address,
            data_dir: &data_dir.0,
            credentials: control.credentials.path(),
            advertise: None,
        };
        let process = event_node::process::NodeProcess::start(id, &setup).expect("start event-node");
        Self { process, _data_dir: data_dir, server_tls: Arc::clone(&control.server_tls) }
    }

    /// Starts the process again on the same port and data dir (after [`Self::kill`]).
    pub fn restart(&mut self) {
        self.process.restart().expect("restart event-node on the same address");
    }

    /// Connects as the server does, reporting a failure instead of panicking.
    pub async fn try_client(&self) -> Result<EventNodeClient, event_node::protocol::link::LinkError> {
        EventNodeClient::connect(&self.server_tls, self.address, &Peer::Node(self.id.clone())).await
    }

    /// Connects as the server to this node's identity at another address.
    pub async fn try_client_at(&self, address: SocketAddr) -> Result<EventNodeClient, event_node::protocol::link::LinkError> {
        EventNodeClient::connect(&self.server_tls, address, &Peer::Node(self.id.clone())).await
    }

    /// A client that calls the node as the server does.
    pub async fn client(&self) -> EventNodeClient {
        EventNodeClient::connect(&self.server_tls, self.address, &Peer::Node(self.id.clone())).await.expect("connect to node")
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Empties the node's data dir (do it while the node is down).
    pub fn wipe_data(&self) {
        std::fs::remove_dir_all(&self._data_dir.0).unwrap();
        std::fs::create_dir_all(&self._data_dir.0).unwrap();
    }

    pub fn signal(&self, signal: &str) {
        self.process.signal(signal).expect("kill -SIGNAL");
    }
}

#[derive(Default)]
struct EventRecord {
    spec: Option<EventSpec>,
    coordinator: NodeId,
    entries: BTreeMap<ParticipantId, (u64, NodeId)>,
    reports: Vec<(NodeId, Outcome)>,
    stored: Option<Outcome>,
    stored_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct ControlState {
    events: HashMap<EventId, EventRecord>,
    nodes: HashMap<NodeId, SocketAddr>,
    /// When set, `report_outcomes` stores the reports and then never answers.
    swallow_report_replies: bool,
    /// Every `report_missing`: who, for which event, which participants.
    missing_reports: Vec<(NodeId, EventId, Vec<ParticipantId>)>,
}

/// The test's stand-in for the server's control plane, serving over the real cluster link.
#[derive(Clone)]
pub struct TestControl {
    state: Arc<Mutex<ControlState>>,
    pub address: SocketAddr,
    pub credentials: CredentialDir,
    _credentials_dir: Arc<TempDir>,
    pub server_tls: Arc<ClusterTls>,
}

/// One caller's view of the test control plane.
#[derive(Clone)]
struct ControlSession {
    control: TestControl,
    caller: Peer,
}

impl TestControl {
    pub async fn start() -> Self {
        let credentials_dir = Arc::new(TempDir::new("credentials"));
        let credentials = CredentialDir::new(&credentials_dir.0);
        credentials.init().expect("make the cluster CA");
        credentials.issue(&Peer::Server).expect("issue the server's certificate");
        let server_tls = credentials.load(Peer::Server).expect("load the server's credentials");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
        let control = Self {
            state: Arc::default(),
            address: listener.local_addr().unwrap(),
            credentials,
            _credentials_dir: credentials_dir,
            server_tls: Arc::clone(&server_tls),
        };
        let served = control.clone();
        tokio::spawn(link::serve(listener, server_tls, move |caller, channel| {
            let session = ControlSession { control: served.clone(), caller };
            channel.execute(session.serve()).for_each(|response| async {
                tokio::spawn(response);
            })
        }));
        control
    }

    fn with<T>(&self, f: impl FnOnce(&mut ControlState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    pub fn add_node(&self, node: &NodeProcess) {
        self.with(|state| state.nodes.insert(node.id.clone(), node.address));
    }

    /// Registers the event and assigns it to `coordinator` over RPC.
    pub async fn create_event(&self, event: EventId, spec: EventSpec, coordinator: &NodeProcess) {
        self.with(|state| {
            let record = state.events.entry(event).or_default();
            record.spec = Some(spec.clone());
            record.coordinator = coordinator.id.clone();
        });
        coordinator.client().await.assign_event(rpc_context(DEFAULT_RPC_TIMEOUT), event, spec).await.unwrap().unwrap();
    }

    /// Puts the answer on `node` and, once acknowledged, records it in the manifest.
    pub async fn accept_answer(&self, event: EventId, answer: &Answer, node: &NodeProcess) {
        put_answer(&node.client().await, event, answer.clone()).await.unwrap();
        self.with(|state| {
            state.events.get_mut(&event).unwrap().entries.insert(answer.participant, (answer.version, node.id.clone()));
        });
    }

    pub fn swallow_report_replies(&self, swallow: bool) {
        self.with(|state| state.swallow_report_replies = swallow);
    }

    pub fn stored(&self, event: EventId) -> Option<Outcome> {
        self.with(|state| state.events.get(&event).and_then(|record| record.stored.clone()))
    }

    /// When the first report for `event` was stored.
    pub fn stored_at(&self, event: EventId) -> Option<DateTime<Utc>> {
        self.with(|state| state.events.get(&event).and_then(|record| record.stored_at))
    }

    /// The participants the coordinators reported lost for `event`, over all reports.
    pub fn reported_missing(&self, event: EventId) -> Vec<ParticipantId> {
        self.with(|state| {
            state.missing_reports.iter().filter(|(_, e, _)| *e == event).flat_map(|(_, _, p)| p.clone()).collect()
        })
    }

    pub fn report_count(&self, event: EventId) -> usize {
        self.with(|state| state.events.get(&event).map_or(0, |record| record.reports.len()))
    }

    /// Waits (up to `limit`) for an outcome to be stored.
    pub async fn wait_for_outcome(&self, event: EventId, limit: Duration) -> Outcome {
        let started = Instant::now();
        loop {
            if let Some(outcome) = self.stored(event) {
                return outcome;
            }
            assert!(started.elapsed() < limit, "no outcome for {event} within {limit:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl ControlSession {
    fn node(&self) -> Result<NodeId, ControlError> {
        match &self.caller {
            Peer::Node(id) => Ok(id.clone()),
            Peer::Server => Err(ControlError::Forbidden),
        }
    }

    fn manifest(&self, caller: &NodeId, event: EventId) -> Result<Manifest, ControlError> {
        self.control.with(|state| {
            let record = state.events.get(&event).ok_or(ControlError::UnknownEvent)?;
            if record.coordinator != *caller {
                return Err(ControlError::NotCoordinator { coordinator: Some(record.coordinator.clone()) });
            }
            let entries: Vec<ManifestEntry> = record
                .entries
                .iter()
                .map(|(participant, (version, node))| ManifestEntry {
                    participant: *participant,
                    version: *version,
                    node: Some(node.clone()),
                })
                .collect();
            let nodes = state.nodes.iter().map(|(node, address)| NodeAddress { node: node.clone(), address: *address }).collect();
            Ok(Manifest {
                event,
                spec: record.spec.clone().ok_or(ControlError::UnknownEvent)?,
                stored_outcome: record.stored.clone(),
                entries,
                nodes,
            })
        })
    }
}

impl ControlPlane for ControlSession {
    async fn hello(self, _: context::Context, address: SocketAddr) -> Result<(), ControlError> {
        let node = self.node()?;
        self.control.with(|state| state.nodes.insert(node, address));
        Ok(())
    }

    async fn report_missing(self, _: context::Context, event: EventId, participants: Vec<ParticipantId>) -> Result<(), ControlError> {
        let caller = self.node()?;
        self.control.with(|state| state.missing_reports.push((caller, event, participants)));
        Ok(())
    }

    async fn drain(self, _: context::Context) -> Result<(), ControlError> {
        Err(ControlError::Unavailable("the test control plane does not drain".into()))
    }

    async fn manifests(self, _: context::Context, events: Vec<EventId>) -> Result<Vec<Result<Manifest, ControlError>>, ControlError> {
        let caller = self.node()?;
        Ok(events.into_iter().map(|event| self.manifest(&caller, event)).collect())
    }

    async fn report_outcomes(self, _: context::Context, reports: Vec<(EventId, Outcome)>) -> Result<Vec<Result<ReportAck, ControlError>>, ControlError> {
        let node = self.node()?;
        let (acks, swallow) = self.control.with(|state| {
            let acks = reports.into_iter().map(|(event, outcome)| record_report(state, &node, event, outcome)).collect::<Vec<_>>();
            (acks, state.swallow_report_replies)
        });
        if swallow {
            future::pending::<()>().await;
        }
        Ok(acks)
    }
}

/// Records a report; the first one of an event is stored.
fn record_report(state: &mut ControlState, node: &NodeId, event: EventId, outcome: Outcome) -> Result<ReportAck, ControlError> {
    let record = state.events.get_mut(&event).ok_or(ControlError::UnknownEvent)?;
    record.reports.push((node.clone(), outcome.clone()));
    let stored_now = record.stored.is_none();
    if stored_now {
        record.stored = Some(outcome);
        record.stored_at = Some(Utc::now());
    }
    Ok(ReportAck { outcome: record.stored.clone().unwrap(), stored_now })
}

/// A loopback address whose SYNs go unanswered, like a host behind a dropping firewall: a
/// listener with a full accept queue that never accepts.
pub struct Blackhole {
    pub address: SocketAddr,
    _listener: tokio::net::TcpListener,
    _queued: std::net::TcpStream,
}

impl Blackhole {
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(0).unwrap();
        let address = listener.local_addr().unwrap();
        // A backlog of 0 queues one connection; once it is taken, later SYNs are dropped.
        let queued = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).unwrap();
        let probe = std::net::TcpStream::connect_timeout(&address, Duration::from_millis(300));
        assert!(probe.is_err(), "the blackhole answered a SYN");
        Self { address, _listener: listener, _queued: queued }
    }
}

impl TestControl {
    /// Points the control plane's address book for `node` at `address` (as if it moved).
    pub fn move_node(&self, node: &str, address: SocketAddr) {
        self.with(|state| state.nodes.insert(node.to_owned(), address));
    }

    /// Records that `participant`'s answer now lives on `node` at `version`.
    pub fn reassign(&self, event: EventId, participant: ParticipantId, version: u64, node: &str) {
        self.with(|state| {
            state.events.get_mut(&event).unwrap().entries.insert(participant, (version, node.to_owned()));
        });
    }
}

/// A deadline `seconds` from now.
/// One answer through `put_answers`: the call's refusal, or the answer's own result.
pub async fn put_answer(client: &EventNodeClient, event: EventId, answer: Answer) -> Result<(), event_node::protocol::NodeError> {
    let mut results = client.put_answers(rpc_context(DEFAULT_RPC_TIMEOUT), vec![(event, answer)]).await.expect("the call")?;
    assert_eq!(results.len(), 1, "one result per answer");
    results.remove(0)
}

pub fn deadline_in(seconds: i64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(seconds)
}

/// Deterministic availability for participant `index`: overlapping working hours over a few
/// days after `deadline`, so outcomes are non-trivial, and for every third participant a few
/// hours on a fourth day if need be (so answers carry all three states through the nodes).
pub fn answer_for(index: u64, version: u64, deadline: DateTime<Utc>) -> Answer {
    let base = scheduling::Minute::ceil(deadline);
    let intervals = (0..3i64).map(|day| {
        let start = base.plus(day * 1440 + 60 + (index as i64 * 17) % 120);
        scheduling::Interval::starting_at(start, 180 + (index as i64 * 31) % 90).unwrap()
    });
    let if_need_be = (index % 3 == 0).then(|| scheduling::Interval::starting_at(base.plus(3 * 1440 + (index as i64 * 13) % 60), 240).unwrap());
    Answer::new(ParticipantId(index), version, intervals.collect(), if_need_be.into_iter().collect())
}

/// Three nodes, `n1`–`n3`, known to the control plane.
pub fn three_nodes(control: &TestControl) -> Vec<NodeProcess> {
    let nodes: Vec<NodeProcess> = ["n1", "n2", "n3"].into_iter().map(|id| NodeProcess::start(id, control)).collect();
    nodes.iter().for_each(|node| control.add_node(node));
    nodes
}

/// `count` answers (participants 0..count, version 1), participant `i` on node `i % 3`.
pub async fn spread_answers(control: &TestControl, event: EventId, nodes: &[NodeProcess], count: u64, deadline: DateTime<Utc>) -> Vec<Answer> {
    let answers: Vec<Answer> = (0..count).map(|index| answer_for(index, 1, deadline)).collect();
    for (index, answer) in answers.iter().enumerate() {
        control.accept_answer(event, answer, &nodes[index % nodes.len()]).await;
    }
    answers
}
