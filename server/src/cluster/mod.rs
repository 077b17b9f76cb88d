//! The server's side of the event-node cluster (DESIGN.md §2).
//!
//! - [`Cluster`] keeps a client per node (made again after a transport error: tarpc does not
//!   reconnect), assigns coordinators and dispatches answers round-robin (an answer sticks to
//!   its node), and records what the nodes acknowledged.
//! - `control` serves the `ControlPlane` the nodes call: manifests from the database and
//!   outcome reports, stored once and verified by recomputing `outcome()` from the database.
//! - A reconciler loop re-dispatches answers no node acknowledged yet and assigns coordinators
//!   to events that lack one, so a failed dispatch only delays work.
//! - `monitor` pings every node, declares a silent one dead (and a thrice-wrong one
//!   quarantined), and moves its work in the database; the reconciler then sends it to live
//!   nodes. Correctness never depends on the monitor being quick: the coordinator's manifest
//!   check blocks finalization until every answer is on a node that answers.

mod control;
mod monitor;
mod repo;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use event_node::protocol::{connect, rpc_context, EventId, EventNodeClient, NodeError, NodeId, DEFAULT_RPC_TIMEOUT};
use tarpc::client::RpcError;
use tokio::sync::Mutex;

use crate::db::Db;
use crate::error::{Error, Result};
pub use control::serve_control_plane;

/// How often the reconciler looks for undispatched answers and unassigned events.
const RECONCILE_EVERY: Duration = Duration::from_millis(500);
/// A connect that takes longer than this counts as a failure (a SYN into the void).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// What the server believes of a node; only live nodes get work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    Live,
    /// Missed too many health checks; rejoins when it answers again.
    Dead,
    /// Reported too many wrong outcomes; stays out until an operator resets it.
    Quarantined,
}

impl NodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Dead => "dead",
            Self::Quarantined => "quarantined",
        }
    }

    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Live,
            1 => Self::Dead,
            _ => Self::Quarantined,
        }
    }
}

struct NodeHandle {
    id: NodeId,
    address: SocketAddr,
    client: Mutex<Option<EventNodeClient>>,
    state: AtomicU8,
    /// Consecutive missed health checks.
    misses: AtomicU32,
}

impl NodeHandle {
    fn new(id: NodeId, address: SocketAddr) -> Self {
        Self { id, address, client: Mutex::new(None), state: AtomicU8::new(NodeState::Live as u8), misses: AtomicU32::new(0) }
    }

    fn state(&self) -> NodeState {
        NodeState::from_u8(self.state.load(Ordering::Relaxed))
    }

    fn is_live(&self) -> bool {
        self.state() == NodeState::Live
    }

    async fn client(&self) -> Result<EventNodeClient> {
        let mut held = self.client.lock().await;
        if let Some(client) = held.as_ref() {
            return Ok(client.clone());
        }
        let unreachable = |reason: String| Error::Cluster(format!("{} unreachable: {reason}", self.id));
        let client = tokio::time::timeout(CONNECT_TIMEOUT, connect(self.address))
            .await
            .map_err(|_| unreachable("connect timed out".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        *held = Some(client.clone());
        Ok(client)
    }

    async fn forget_client(&self, error: &RpcError) {
        if !matches!(error, RpcError::DeadlineExceeded) {
            *self.client.lock().await = None;
        }
    }
}

pub struct Cluster {
    db: Db,
    nodes: Vec<NodeHandle>,
    next: AtomicUsize,
}

impl Cluster {
    /// A cluster of the given nodes (id, address), recorded in the `node` table.
    pub async fn new(db: Db, nodes: Vec<(NodeId, SocketAddr)>) -> Result<Arc<Self>> {
        for (id, address) in &nodes {
            repo::upsert_node(&db, id, &address.to_string()).await?;
        }
        let nodes = nodes.into_iter().map(|(id, address)| NodeHandle::new(id, address)).collect();
        Ok(Arc::new(Self { db, nodes, next: AtomicUsize::new(0) }))
    }

    /// Starts the monitor and the reconciler for as long as the server runs. The first
    /// reconcile pass is the start-up reconciliation: coordinators are told their events again
    /// (assigning is idempotent on the node), so events whose deadline passed while the server
    /// was down are finalized.
    pub fn spawn_background_work(self: &Arc<Self>) {
        self.spawn_monitor();
        let cluster = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(error) = cluster.reassert_coordinators().await {
                tracing::warn!(%error, "start-up reconciliation failed; the reconciler continues");
            }
            loop {
                if let Err(error) = cluster.reconcile().await {
                    tracing::warn!(%error, "reconcile pass failed");
                }
                tokio::time::sleep(RECONCILE_EVERY).await;
            }
        });
    }

    /// The node with this id, if it is configured and live.
    fn live_node(&self, id: &str) -> Option<&NodeHandle> {
        self.nodes.iter().find(|node| node.id == id && node.is_live())
    }

    /// The next live node in turn.
    fn round_robin(&self) -> Result<&NodeHandle> {
        let live: Vec<&NodeHandle> = self.nodes.iter().filter(|node| node.is_live()).collect();
        if live.is_empty() {
            return Err(Error::Cluster("no live event node".into()));
        }
        Ok(live[self.next.fetch_add(1, Ordering::Relaxed) % live.len()])
    }

    /// Each node's id and state, for operators and tests.
    pub fn node_states(&self) -> Vec<(NodeId, NodeState)> {
        self.nodes.iter().map(|node| (node.id.clone(), node.state())).collect()
    }

    /// Gives the event a coordinator (round-robin) and arms its deadline there.
    pub async fn assign_coordinator(&self, event_id: i64) -> Result<()> {
        let Some(row) = repo::event_spec(&self.db, event_id).await? else { return Ok(()) };
        let spec = row.spec()?;
        let node = match row.coordinator_node.as_deref().and_then(|id| self.live_node(id)) {
            Some(node) => node,
            None => self.round_robin()?,
        };
        // Recorded first: a node whose deadline has passed asks for the manifest at once, and
        // must find itself named there.
        repo::set_coordinator(&self.db, event_id, &node.id).await?;
        let told = match node.client().await {
            Ok(client) => match client.assign_event(rpc_context(DEFAULT_RPC_TIMEOUT), EventId(event_id as u64), spec).await {
                // Sealed there already: the outcome exists, nothing to arm.
                Ok(Ok(())) | Ok(Err(NodeError::Sealed)) => Ok(()),
                Ok(Err(error)) => Err(Error::Cluster(format!("{}: {error}", node.id))),
                Err(error) => {
                    node.forget_client(&error).await;
                    Err(Error::Cluster(format!("{}: {error}", node.id)))
                }
            },
            Err(error) => Err(error),
        };
        if told.is_err() {
            repo::clear_coordinator(&self.db, event_id).await?;
        }
        told
    }

    /// Sends the participant's latest answer to its node (sticky; new ones round-robin) and
    /// records the acknowledged version.
    pub async fn dispatch_answer(&self, participant_id: i64) -> Result<()> {
        let Some(row) = repo::answer(&self.db, participant_id).await? else { return Ok(()) };
        let node = match row.assigned_node.as_deref().and_then(|id| self.live_node(id)) {
            Some(node) => node,
            None => self.round_robin()?,
        };
        let client = node.client().await?;
        match client.put_answer(rpc_context(DEFAULT_RPC_TIMEOUT), EventId(row.event_id as u64), row.answer()?).await {
            // A newer version is there already, or the event is decided: nothing more to send.
            Ok(Ok(())) | Ok(Err(NodeError::StaleVersion { .. })) | Ok(Err(NodeError::Sealed)) => {}
            Ok(Err(error)) => return Err(Error::Cluster(format!("{}: {error}", node.id))),
            Err(error) => {
                node.forget_client(&error).await;
                return Err(Error::Cluster(format!("{}: {error}", node.id)));
            }
        }
        repo::mark_dispatched(&self.db, participant_id, &node.id, row.version).await?;
        Ok(())
    }

    /// Tells every unfinished event's coordinator about it again (see `spawn_background_work`).
    async fn reassert_coordinators(&self) -> Result<()> {
        for event in repo::unfinished_events(&self.db).await? {
            if let Err(error) = self.assign_coordinator(event.event_id).await {
                tracing::debug!(event_id = event.event_id, %error, "cannot reach the coordinator yet");
            }
        }
        Ok(())
    }

    async fn reconcile(&self) -> Result<()> {
        for event in repo::events_without_coordinator(&self.db).await? {
            if let Err(error) = self.assign_coordinator(event.event_id).await {
                tracing::debug!(event_id = event.event_id, %error, "cannot assign a coordinator yet");
            }
        }
        for answer in repo::undispatched(&self.db, 500).await? {
            if let Err(error) = self.dispatch_answer(answer.participant_id).await {
                tracing::debug!(participant_id = answer.participant_id, %error, "cannot dispatch yet");
            }
        }
        Ok(())
    }
}
