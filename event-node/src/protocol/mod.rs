//! The tarpc protocol of the cluster, shared by nodes and the server:
//! - [`EventNode`]: what a node serves (to the server, and to a coordinating peer);
//! - [`ControlPlane`]: what the server serves back to nodes (membership, manifests, outcome
//!   reports);
//! - [`link`]: how both travel: mutually authenticated TLS, one frame limit, bounded
//!   connections and requests, connect timeouts, and the reconnecting client both sides use.
//!
//! No message names its sender: who calls is the identity the link authenticated
//! ([`Peer`]), and each handler checks that this caller may make the call. Every call carries
//! an explicit deadline ([`rpc_context`]): a hung peer fails a call, never hangs it. Results
//! are `Result<T, NodeError | ControlError>` inside tarpc's own `Result`, so callers see
//! `call.await??` (transport, then domain). Writes are idempotent.

pub mod link;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use scheduling::{Answer, EventSpec, Outcome, ParticipantId, Partial};
use serde::{Deserialize, Serialize};
use tarpc::context;

pub use link::Peer;

/// The server's id for an event (never shown to users; they see the event's code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId(pub u64);

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "event {}", self.0)
    }
}

/// A node's id, e.g. `n1`: a DNS label (see [`link::valid_node_id`]), because it is the name
/// its certificate is issued for.
pub type NodeId = String;

/// What an event node serves. Writes and membership calls are the server's alone; peers may
/// read partials and seal (a coordinator does both).
#[tarpc::service]
pub trait EventNode {
    /// Liveness and identity: answered at once, touches no storage.
    async fn health() -> NodeHealth;
    /// Counters for operators and tests.
    async fn status() -> NodeStatus;
    /// Makes this node the event's coordinator: it stores the spec and finalizes the event at
    /// its deadline (at once if the deadline has passed). Assigning twice is harmless.
    async fn assign_event(event: EventId, spec: EventSpec) -> Result<(), NodeError>;
    /// Stores participants' answers, one result per answer in order, all flushed before the
    /// reply (one flush for the call). For each, the same version again is a no-op; an older
    /// one is refused with `StaleVersion` and changes nothing; an answer to a sealed event gets
    /// `Sealed`. The call as a whole is refused while draining.
    async fn put_answers(answers: Vec<(EventId, Answer)>) -> Result<Vec<Result<(), NodeError>>, NodeError>;
    /// Removes a participant's answer as of `version` (they left); older puts stay refused.
    async fn withdraw(event: EventId, participant: ParticipantId, version: u64) -> Result<(), NodeError>;
    /// The summary of this node's answers for the event (empty if it holds none).
    async fn fetch_partial(event: EventId) -> Result<Partial, NodeError>;
    /// Closes the event here with its decided outcome: later writes and fetches get `Sealed`;
    /// its answers are dropped, the outcome is kept.
    async fn seal(event: EventId, outcome: Outcome) -> Result<(), NodeError>;
    /// The outcome this node sealed the event with, if it did.
    async fn sealed_outcome(event: EventId) -> Result<Option<Outcome>, NodeError>;
    /// The node is leaving: from now on it refuses new answers and events (`Draining`) while
    /// the server moves its work away. Repeating it is harmless.
    async fn drain() -> Result<(), NodeError>;
    /// The node's work has moved: it stops serving (the process exits).
    async fn retire() -> Result<(), NodeError>;
}

/// What the server serves to nodes. The caller is always the authenticated node.
#[tarpc::service]
pub trait ControlPlane {
    /// The calling node joins the ring (at every start) and says where peers reach it.
    async fn hello(address: SocketAddr) -> Result<(), ControlError>;
    /// Everything the coordinator needs to finalize each event, in the order asked (at most
    /// [`MAX_BATCH`]); only its coordinator may ask, and only once the deadline has passed
    /// (then the manifest can no longer change). Batched because events share deadlines: a
    /// node's coordinators wake together and cost the database one round, not one each.
    async fn manifests(events: Vec<EventId>) -> Result<Vec<Result<Manifest, ControlError>>, ControlError>;
    /// The coordinator reports computed outcomes (at most [`MAX_BATCH`]); the server stores
    /// only the first one of each event and answers, in the order reported, with the outcome
    /// it holds (the one to seal with).
    async fn report_outcomes(reports: Vec<(EventId, Outcome)>) -> Result<Vec<Result<ReportAck, ControlError>>, ControlError>;
    /// The coordinator found these participants' answers missing, or at another version, on
    /// the nodes the manifest names (a node that lost its data, or a database restored from a
    /// backup): the server sends them again.
    async fn report_missing(event: EventId, participants: Vec<ParticipantId>) -> Result<(), ControlError>;
    /// The calling node asks to leave (it got SIGTERM): the server drains it, then retires it.
    async fn drain() -> Result<(), ControlError>;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeHealth {
    pub node_id: NodeId,
    pub uptime_ms: u64,
    pub draining: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub node_id: NodeId,
    /// Events this node coordinates and has not sealed.
    pub coordinating: usize,
    /// Answers (and withdrawals) held for unsealed events.
    pub answers: usize,
    pub sealed: usize,
}

/// The server's view of an event at finalization: the answers accepted before the deadline
/// (latest version of each participant still in the event) and where each one lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub event: EventId,
    pub spec: EventSpec,
    /// The outcome already stored, if any: then report nothing, just seal with it.
    pub stored_outcome: Option<Outcome>,
    pub entries: Vec<ManifestEntry>,
    /// Addresses of the nodes the entries name.
    pub nodes: Vec<NodeAddress>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub participant: ParticipantId,
    pub version: u64,
    /// The node that acknowledged this version; `None` while no node has.
    pub node: Option<NodeId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAddress {
    pub node: NodeId,
    pub address: SocketAddr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAck {
    /// The event's outcome as the server stored it (from the database, whatever was reported).
    pub outcome: Outcome,
    /// Whether this report stored it (false: one was stored before).
    pub stored_now: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum NodeError {
    #[error("the event is sealed: its outcome is decided")]
    Sealed,
    #[error("a newer version ({held}) is already stored")]
    StaleVersion { held: u64 },
    #[error("the node is draining: it takes no new work")]
    Draining,
    #[error("this caller may not make this call")]
    Forbidden,
    #[error("node storage failed: {0}")]
    Storage(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ControlError {
    #[error("the server does not know the event")]
    UnknownEvent,
    #[error("the event's deadline has not passed")]
    BeforeDeadline,
    #[error("the event was cancelled: there is nothing to decide")]
    Cancelled,
    #[error("the event is coordinated by {coordinator:?}, not the caller")]
    NotCoordinator { coordinator: Option<NodeId> },
    #[error("this caller may not make this call")]
    Forbidden,
    #[error("the server cannot answer now: {0}")]
    Unavailable(String),
    #[error("at most {max} events per call")]
    BatchTooLarge { max: u32 },
}

/// The most events one batched control-plane call may name.
pub const MAX_BATCH: usize = 256;

/// Default deadline for an RPC on the loopback or a LAN.
pub const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_secs(2);

/// A request context whose deadline is `timeout` from now.
pub fn rpc_context(timeout: Duration) -> context::Context {
    let mut ctx = context::current();
    ctx.deadline = Instant::now() + timeout;
    ctx
}
