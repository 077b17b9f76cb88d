//! The `ControlPlane` the event nodes call, over the authenticated cluster link: hello (the
//! node joins the ring), manifests from the database, outcome reports (verified by recomputing
//! `outcome()` from the database and stored once), and drain requests. The caller is the node
//! its certificate names; a node acts only for itself and only on the events it coordinates.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use event_node::protocol::link::{self, ClusterTls};
use event_node::protocol::{ControlError, ControlPlane, EventId, Manifest, ManifestEntry, NodeAddress, NodeId, Peer, ReportAck};
use futures::StreamExt;
use scheduling::{outcome, Answer, Outcome, ParticipantId};
use tarpc::context;
use tarpc::server::Channel;

use super::{repo, Cluster};

/// Wrong outcome reports in a row after which a node is quarantined.
pub const STRIKES_BEFORE_QUARANTINE: i32 = 3;

/// The control plane as one authenticated node sees it.
#[derive(Clone)]
struct ControlSession {
    cluster: Arc<Cluster>,
    caller: Peer,
}

fn unavailable(error: impl std::fmt::Display) -> ControlError {
    tracing::warn!(%error, "control plane request failed");
    ControlError::Unavailable(error.to_string())
}

fn event_id(event: EventId) -> Result<i64, ControlError> {
    i64::try_from(event.0).map_err(|_| ControlError::UnknownEvent)
}

impl ControlSession {
    /// The calling node; the server's own identity has no business here.
    fn node(&self) -> Result<&NodeId, ControlError> {
        match &self.caller {
            Peer::Node(id) => Ok(id),
            Peer::Server => Err(ControlError::Forbidden),
        }
    }

    /// The event's row, if the caller coordinates it, it was not cancelled, and its deadline
    /// has passed (before it, answers may still change: nothing can be decided, whoever asks).
    async fn coordinated_event(&self, event: EventId) -> Result<repo::EventSpecRow, ControlError> {
        let node = self.node()?;
        let row = repo::event_spec(&self.cluster.db, event_id(event)?).await.map_err(unavailable)?.ok_or(ControlError::UnknownEvent)?;
        if row.coordinator_node.as_ref() != Some(node) {
            return Err(ControlError::NotCoordinator { coordinator: row.coordinator_node });
        }
        if row.cancelled_at.is_some() {
            return Err(ControlError::Cancelled);
        }
        if chrono::Utc::now() < row.deadline {
            return Err(ControlError::BeforeDeadline);
        }
        Ok(row)
    }

    async fn build_manifest(&self, event: EventId) -> Result<Manifest, ControlError> {
        let row = self.coordinated_event(event).await?;
        let answers = repo::manifest_answers(&self.cluster.db, row.event_id).await.map_err(unavailable)?;
        let entries: Vec<ManifestEntry> = answers
            .iter()
            .map(|answer| ManifestEntry {
                participant: scheduling::ParticipantId(answer.participant_id as u64),
                version: answer.version as u64,
                // Not acknowledged by any node yet: the coordinator waits for the reconciler.
                node: if answer.needs_dispatch { None } else { answer.assigned_node.clone() },
            })
            .collect();
        let nodes = self
            .cluster
            .nodes()
            .iter()
            .filter(|node| entries.iter().any(|entry| entry.node.as_ref() == Some(&node.id)))
            .map(|node| NodeAddress { node: node.id.clone(), address: node.link.address() })
            .collect();
        Ok(Manifest { event, spec: row.spec().map_err(unavailable)?, stored_outcome: row.stored_outcome().map_err(unavailable)?, entries, nodes })
    }

    /// `outcome()` over the answers in the database: what a correct report must say.
    async fn expected_outcome(&self, row: &repo::EventSpecRow) -> Result<Outcome, ControlError> {
        let answers: Vec<Answer> = repo::manifest_answers(&self.cluster.db, row.event_id)
            .await
            .map_err(unavailable)?
            .iter()
            .map(|answer| answer.answer())
            .collect::<Result<_, _>>()
            .map_err(unavailable)?;
        Ok(outcome(&row.spec().map_err(unavailable)?, &answers))
    }
}

impl ControlPlane for ControlSession {
    async fn hello(self, _: context::Context, address: SocketAddr) -> Result<(), ControlError> {
        let node = self.node()?;
        if address.ip().is_unspecified() || address.port() == 0 {
            return Err(ControlError::Unavailable(format!("{address} cannot be reached by peers")));
        }
        tracing::info!(%node, %address, "node says hello");
        self.cluster.join(node, address).await.map_err(unavailable)
    }

    async fn manifest(self, _: context::Context, event: EventId) -> Result<Manifest, ControlError> {
        self.build_manifest(event).await
    }

    async fn report_outcome(self, _: context::Context, event: EventId, reported: Outcome) -> Result<ReportAck, ControlError> {
        let row = self.coordinated_event(event).await?;
        let node = self.node()?;
        let db = &self.cluster.db;
        let expected = self.expected_outcome(&row).await?;
        if reported == expected {
            repo::clear_strikes(db, node).await.map_err(unavailable)?;
        } else {
            // The database is the source of truth: store what it says, and count the node.
            tracing::warn!(%event, %node, "node reported a wrong outcome");
            repo::strike_node(db, node, STRIKES_BEFORE_QUARANTINE).await.map_err(unavailable)?;
        }
        let stored_now = repo::store_outcome(db, row.event_id, &expected).await.map_err(unavailable)?;
        if stored_now {
            tracing::info!(%event, %node, "outcome stored");
        }
        let stored = repo::event_spec(db, row.event_id).await.map_err(unavailable)?.ok_or(ControlError::UnknownEvent)?;
        match stored.stored_outcome().map_err(unavailable)? {
            Some(outcome) => Ok(ReportAck { outcome, stored_now }),
            // Cancelled between the check and the store: nothing was decided.
            None => Err(ControlError::Cancelled),
        }
    }

    async fn report_missing(self, _: context::Context, event: EventId, participants: Vec<ParticipantId>) -> Result<(), ControlError> {
        let row = self.coordinated_event(event).await?;
        let node = self.node()?;
        // Only this event's participants count, each once: the list costs what the event has.
        let ids: BTreeSet<i64> = participants.iter().filter_map(|p| i64::try_from(p.0).ok()).collect();
        let resent = repo::dispatch_again(&self.cluster.db, row.event_id, &ids).await.map_err(unavailable)?;
        tracing::warn!(%event, %node, reported = ids.len(), resent, "answers lost on the nodes that acknowledged them: sending them again");
        Ok(())
    }

    async fn drain(self, _: context::Context) -> Result<(), ControlError> {
        let node = self.node()?;
        let draining = repo::transition_node(&self.cluster.db, node, &["live", "dead", "draining"], "draining").await.map_err(unavailable)?;
        if !draining {
            return Err(ControlError::Unavailable(format!("{node} is quarantined or retired: nothing to drain")));
        }
        tracing::info!(%node, "node asked to leave: draining");
        Ok(())
    }
}

/// Serves the control plane on `listen` until the server stops; returns the bound address
/// (port 0 picks one).
pub async fn serve_control_plane(cluster: Arc<Cluster>, tls: Arc<ClusterTls>, listen: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    tokio::spawn(link::serve(listener, tls, move |caller, channel| {
        let session = ControlSession { cluster: Arc::clone(&cluster), caller };
        channel.execute(session.serve()).for_each(|response| async {
            tokio::spawn(response);
        })
    }));
    Ok(address)
}
