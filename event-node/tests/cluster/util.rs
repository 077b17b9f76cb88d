//! Test bootstrap: real `event-node` processes on loopback ports (restartable on the same port
//! and data dir), and a test control plane that plays the server: it keeps the manifest in
//! memory and records every outcome report.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use event_node::protocol::{
    connect, rpc_context, ControlError, ControlPlane, EventId, EventNodeClient, Manifest, ManifestEntry, NodeAddress,
    NodeId, ReportAck, DEFAULT_RPC_TIMEOUT,
};
use futures::{future, StreamExt};
use scheduling::{Answer, EventSpec, Outcome, ParticipantId};
use tarpc::context;
use tarpc::serde_transport::tcp;
use tarpc::server::{self, Channel};
use tarpc::tokio_serde::formats::Bincode;

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
}

impl std::ops::Deref for NodeProcess {
    type Target = event_node::process::NodeProcess;
    fn deref(&self) -> &Self::Target {
        &self.process
    }
}

impl NodeProcess {
    /// Starts a node on a free port with a new data dir.
    pub fn start(id: &str, control: SocketAddr) -> Self {
        let data_dir = TempDir::new(id);
        let process = event_node::process::NodeProcess::start(env!("CARGO_BIN_EXE_event-node").as_ref(), id, control, &data_dir.0)
            .expect("start event-node");
        Self { process, _data_dir: data_dir }
    }

    /// Starts the process again on the same port and data dir (after [`Self::kill`]).
    pub fn restart(&mut self) {
        self.process.restart().expect("restart event-node on the same address");
    }

    pub async fn client(&self) -> EventNodeClient {
        connect(self.address).await.expect("connect to node")
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill(&mut self) {
        self.process.kill();
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
    /// When set, `report_outcome` stores the report and then never answers.
    swallow_report_replies: bool,
}

/// The test's stand-in for the server's control plane.
#[derive(Clone)]
pub struct TestControl {
    state: Arc<Mutex<ControlState>>,
    pub address: SocketAddr,
}

impl TestControl {
    pub async fn start() -> Self {
        let mut listener = tcp::listen("127.0.0.1:0", Bincode::default).await.expect("listen");
        let control = Self { state: Arc::default(), address: listener.local_addr() };
        listener.config_mut().max_frame_length(16 * 1024 * 1024);
        let served = control.clone();
        tokio::spawn(
            listener
                .filter_map(|connection| future::ready(connection.ok()))
                .map(server::BaseChannel::with_defaults)
                .for_each_concurrent(None, move |channel| {
                    let served = served.clone();
                    channel.execute(served.serve()).for_each(|response| async {
                        tokio::spawn(response);
                    })
                }),
        );
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
        node.client().await.put_answer(rpc_context(DEFAULT_RPC_TIMEOUT), event, answer.clone()).await.unwrap().unwrap();
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

impl ControlPlane for TestControl {
    async fn hello(self, _: context::Context, node: NodeId, address: SocketAddr) -> Result<(), ControlError> {
        self.with(|state| state.nodes.insert(node, address));
        Ok(())
    }

    async fn manifest(self, _: context::Context, event: EventId) -> Result<Manifest, ControlError> {
        self.with(|state| {
            let record = state.events.get(&event).ok_or(ControlError::UnknownEvent)?;
            let entries: Vec<ManifestEntry> = record
                .entries
                .iter()
                .map(|(participant, (version, node))| ManifestEntry { participant: *participant, version: *version, node: node.clone() })
                .collect();
            let nodes = state.nodes.iter().map(|(node, address)| NodeAddress { node: node.clone(), address: *address }).collect();
            Ok(Manifest {
                event,
                spec: record.spec.clone().ok_or(ControlError::UnknownEvent)?,
                coordinator: record.coordinator.clone(),
                stored_outcome: record.stored.clone(),
                entries,
                nodes,
            })
        })
    }

    async fn report_outcome(self, _: context::Context, event: EventId, node: NodeId, outcome: Outcome) -> Result<ReportAck, ControlError> {
        let (ack, swallow) = self.with(|state| {
            let swallow = state.swallow_report_replies;
            let record = state.events.get_mut(&event).ok_or(ControlError::UnknownEvent)?;
            record.reports.push((node, outcome.clone()));
            let ack = if record.stored.is_none() {
                record.stored = Some(outcome);
                record.stored_at = Some(Utc::now());
                ReportAck::Stored
            } else {
                ReportAck::AlreadyStored
            };
            Ok((ack, swallow))
        })?;
        if swallow {
            future::pending::<()>().await;
        }
        Ok(ack)
    }
}

/// A deadline `seconds` from now.
pub fn deadline_in(seconds: i64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(seconds)
}

/// Deterministic availability for participant `index`: overlapping working hours over a few
/// days after `deadline`, so outcomes are non-trivial.
pub fn answer_for(index: u64, version: u64, deadline: DateTime<Utc>) -> Answer {
    let base = scheduling::Minute::ceil(deadline);
    let intervals = (0..3i64).map(|day| {
        let start = base.plus(day * 1440 + 60 + (index as i64 * 17) % 120);
        scheduling::Interval::starting_at(start, 180 + (index as i64 * 31) % 90).unwrap()
    });
    Answer { participant: ParticipantId(index), version, availability: intervals.collect() }
}

/// Three nodes, `n1`–`n3`, known to the control plane.
pub fn three_nodes(control: &TestControl) -> Vec<NodeProcess> {
    let nodes: Vec<NodeProcess> = ["n1", "n2", "n3"].into_iter().map(|id| NodeProcess::start(id, control.address)).collect();
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
