//! The `ControlPlane` the event nodes call: manifests from the database, and outcome reports,
//! verified by recomputing `outcome()` from the database and stored once.

use std::net::SocketAddr;

use event_node::protocol::{ControlError, ControlPlane, EventId, Manifest, ManifestEntry, NodeAddress, NodeId, ReportAck};
use futures::{future, StreamExt};
use scheduling::{outcome, Answer, Outcome};
use tarpc::context;
use tarpc::serde_transport::tcp;
use tarpc::server::{self, Channel};
use tarpc::tokio_serde::formats::Bincode;

use super::repo;
use crate::db::Db;

/// Wrong outcome reports in a row after which a node is quarantined.
pub const STRIKES_BEFORE_QUARANTINE: i32 = 3;

#[derive(Clone)]
struct ControlServer {
    db: Db,
}

fn unavailable(error: impl std::fmt::Display) -> ControlError {
    tracing::warn!(%error, "control plane request failed");
    ControlError::Unavailable(error.to_string())
}

impl ControlServer {
    async fn build_manifest(&self, event: EventId) -> Result<Manifest, ControlError> {
        let event_id = i64::try_from(event.0).map_err(|_| ControlError::UnknownEvent)?;
        let row = repo::event_spec(&self.db, event_id).await.map_err(unavailable)?.ok_or(ControlError::UnknownEvent)?;
        let answers = repo::manifest_answers(&self.db, event_id).await.map_err(unavailable)?;
        let entries = answers
            .iter()
            .map(|answer| ManifestEntry {
                participant: scheduling::ParticipantId(answer.participant_id as u64),
                version: answer.version as u64,
                // Not acknowledged by any node yet: the coordinator waits for the reconciler.
                node: answer.assigned_node.clone().unwrap_or_default(),
            })
            .collect();
        Ok(Manifest {
            event,
            spec: row.spec().map_err(unavailable)?,
            coordinator: row.coordinator_node.clone().unwrap_or_default(),
            stored_outcome: row.stored_outcome().map_err(unavailable)?,
            entries,
            nodes: repo::nodes(&self.db)
                .await
                .map_err(unavailable)?
                .into_iter()
                .filter_map(|row| Some(NodeAddress { address: row.address.parse().ok()?, node: row.node_id }))
                .collect(),
        })
    }

    /// `outcome()` over the answers in the database: what a correct report must say.
    async fn expected_outcome(&self, event_id: i64) -> Result<Outcome, ControlError> {
        let row = repo::event_spec(&self.db, event_id).await.map_err(unavailable)?.ok_or(ControlError::UnknownEvent)?;
        let answers: Vec<Answer> = repo::manifest_answers(&self.db, event_id)
            .await
            .map_err(unavailable)?
            .iter()
            .map(|answer| answer.answer())
            .collect::<Result<_, _>>()
            .map_err(unavailable)?;
        Ok(outcome(&row.spec().map_err(unavailable)?, &answers))
    }
}

impl ControlPlane for ControlServer {
    async fn hello(self, _: context::Context, node: NodeId, address: SocketAddr) -> Result<(), ControlError> {
        tracing::info!(%node, %address, "node says hello");
        repo::upsert_node(&self.db, &node, &address.to_string()).await.map_err(unavailable)
    }

    async fn manifest(self, _: context::Context, event: EventId) -> Result<Manifest, ControlError> {
        self.build_manifest(event).await
    }

    async fn report_outcome(self, _: context::Context, event: EventId, node: NodeId, reported: Outcome) -> Result<ReportAck, ControlError> {
        let event_id = i64::try_from(event.0).map_err(|_| ControlError::UnknownEvent)?;
        let row = repo::event_spec(&self.db, event_id).await.map_err(unavailable)?.ok_or(ControlError::UnknownEvent)?;
        if chrono::Utc::now() < row.deadline {
            // Answers may still change: nothing can be decided, whoever asks.
            tracing::warn!(%event, %node, "outcome reported before the deadline");
            return Err(ControlError::BeforeDeadline);
        }
        let expected = self.expected_outcome(event_id).await?;
        if reported == expected {
            repo::clear_strikes(&self.db, &node).await.map_err(unavailable)?;
        } else {
            // The database is the source of truth: store what it says, and count the node.
            tracing::warn!(%event, %node, "node reported a wrong outcome");
            repo::strike_node(&self.db, &node, STRIKES_BEFORE_QUARANTINE).await.map_err(unavailable)?;
        }
        let stored = repo::store_outcome(&self.db, event_id, &expected).await.map_err(unavailable)?;
        if stored {
            tracing::info!(%event, %node, "outcome stored");
        }
        Ok(if stored { ReportAck::Stored } else { ReportAck::AlreadyStored })
    }
}

/// Serves the control plane on `listener_address` until the server stops; returns the bound
/// address (port 0 picks one). It needs only the database, so it starts before the nodes.
pub async fn serve_control_plane(db: Db, listener_address: SocketAddr) -> std::io::Result<SocketAddr> {
    let mut listener = tcp::listen(listener_address, Bincode::default).await?;
    listener.config_mut().max_frame_length(16 * 1024 * 1024);
    let address = listener.local_addr();
    let server = ControlServer { db };
    tokio::spawn(
        listener
            .filter_map(|connection| future::ready(connection.ok()))
            .map(server::BaseChannel::with_defaults)
            .for_each_concurrent(None, move |channel| {
                let server = server.clone();
                channel.execute(server.serve()).for_each(|response| async {
                    tokio::spawn(response);
                })
            }),
    );
    Ok(address)
}
