//! The server's side of the event-node cluster (DESIGN.md §2).
//!
//! - [`Cluster`] keeps a client per node (made again after a transport error: tarpc does not
//!   reconnect), assigns coordinators and dispatches answers round-robin (an answer sticks to
//!   its node), and records what the nodes acknowledged.
//! - `control` serves the `ControlPlane` the nodes call: manifests from the database and
//!   outcome reports, stored once and verified by recomputing `outcome()` from the database.
//! - A reconciler loop re-dispatches answers no node acknowledged yet and assigns coordinators
//!   to events that lack one, so a failed dispatch only delays work.
//!
//! Still to come (issue 5): the health monitor that declares nodes dead and moves their answers
//! and events, and quarantine after repeated wrong reports.

mod control;
mod repo;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
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

struct NodeHandle {
    id: NodeId,
    address: SocketAddr,
    client: Mutex<Option<EventNodeClient>>,
}

impl NodeHandle {
    async fn client(&self) -> Result<EventNodeClient> {
        let mut held = self.client.lock().await;
        if let Some(client) = held.as_ref() {
            return Ok(client.clone());
        }
        let client = connect(self.address).await.map_err(|e| Error::Cluster(format!("{} unreachable: {e}", self.id)))?;
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
        let nodes = nodes.into_iter().map(|(id, address)| NodeHandle { id, address, client: Mutex::new(None) }).collect();
        Ok(Arc::new(Self { db, nodes, next: AtomicUsize::new(0) }))
    }

    /// Starts the reconciler for as long as the server runs.
    pub fn spawn_reconciler(self: &Arc<Self>) {
        let cluster = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                if let Err(error) = cluster.reconcile().await {
                    tracing::warn!(%error, "reconcile pass failed");
                }
                tokio::time::sleep(RECONCILE_EVERY).await;
            }
        });
    }

    fn node(&self, id: &str) -> Option<&NodeHandle> {
        self.nodes.iter().find(|node| node.id == id)
    }

    fn round_robin(&self) -> Result<&NodeHandle> {
        if self.nodes.is_empty() {
            return Err(Error::Cluster("no event nodes configured".into()));
        }
        Ok(&self.nodes[self.next.fetch_add(1, Ordering::Relaxed) % self.nodes.len()])
    }

    /// Gives the event a coordinator (round-robin) and arms its deadline there.
    pub async fn assign_coordinator(&self, event_id: i64) -> Result<()> {
        let Some(row) = repo::event_spec(&self.db, event_id).await? else { return Ok(()) };
        let spec = row.spec()?;
        let node = match row.coordinator_node.as_deref().and_then(|id| self.node(id)) {
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
        let node = match row.assigned_node.as_deref().and_then(|id| self.node(id)) {
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
