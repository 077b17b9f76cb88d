//! The `ControlPlane` the event nodes call, over the authenticated cluster link: hello (the
//! node joins the ring), manifests from the database, outcome reports (verified by recomputing
//! `outcome()` from the database and stored once), and drain requests. Manifests and reports
//! come in batches (events share deadlines), each batch one locked read and one write. The caller is the node
//! its certificate names; a node acts only for itself and only on the events it coordinates.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use event_node::protocol::link::{self, ClusterTls};
use event_node::protocol::{ControlError, ControlPlane, EventId, Manifest, ManifestEntry, NodeAddress, NodeId, Peer, ReportAck, MAX_BATCH};
use futures::StreamExt;
use scheduling::{outcome, Answer, Outcome, ParticipantId};
use tarpc::context;
use tarpc::server::Channel;

use super::{repo, Cluster, NodeHandle};

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

/// The event ids a batch names, each once, in key order; refused past [`MAX_BATCH`].
fn batch_ids(events: impl ExactSizeIterator<Item = EventId>) -> Result<Vec<i64>, ControlError> {
    if events.len() > MAX_BATCH {
        return Err(ControlError::BatchTooLarge { max: MAX_BATCH as u32 });
    }
    let mut ids: Vec<i64> = events.filter_map(|event| event_id(event).ok()).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The event's row, if `node` coordinates it, it was not cancelled, and its deadline has
/// passed (before it, answers may still change: nothing can be decided, whoever asks).
fn coordinated<'r>(node: &NodeId, event: EventId, rows: &'r HashMap<i64, repo::EventSpecRow>, now: DateTime<Utc>) -> Result<&'r repo::EventSpecRow, ControlError> {
    let row = rows.get(&event_id(event)?).ok_or(ControlError::UnknownEvent)?;
    if row.coordinator_node.as_ref() != Some(node) {
        return Err(ControlError::NotCoordinator { coordinator: row.coordinator_node.clone() });
    }
    if row.cancelled_at.is_some() {
        return Err(ControlError::Cancelled);
    }
    if now < row.deadline {
        return Err(ControlError::BeforeDeadline);
    }
    Ok(row)
}

fn manifest(event: EventId, row: &repo::EventSpecRow, answers: &[repo::AnswerRow], ring: &[Arc<NodeHandle>]) -> Result<Manifest, ControlError> {
    let entries: Vec<ManifestEntry> = answers
        .iter()
        .map(|answer| ManifestEntry {
            participant: ParticipantId(answer.participant_id as u64),
            version: answer.version as u64,
            // Not acknowledged by any node yet: the coordinator waits for the reconciler.
            node: if answer.needs_dispatch { None } else { answer.assigned_node.clone() },
        })
        .collect();
    let nodes = ring
        .iter()
        .filter(|node| entries.iter().any(|entry| entry.node.as_ref() == Some(&node.id)))
        .map(|node| NodeAddress { node: node.id.clone(), address: node.link.address() })
        .collect();
    Ok(Manifest { event, spec: row.spec().map_err(unavailable)?, stored_outcome: row.stored_outcome().map_err(unavailable)?, entries, nodes })
}

/// A report the caller may make, with what the database says the outcome is.
struct Verified {
    event_id: i64,
    expected: Outcome,
    right: bool,
}

/// Checks each report and recomputes `outcome()` from the database (the source of truth).
fn verify(node: &NodeId, reports: &[(EventId, Outcome)], finalizing: &repo::Finalizing, now: DateTime<Utc>) -> HashMap<EventId, Result<Verified, ControlError>> {
    reports
        .iter()
        .map(|(event, reported)| {
            let verdict = coordinated(node, *event, &finalizing.events, now).and_then(|row| {
                let answers: Vec<Answer> = finalizing
                    .answers
                    .get(&row.event_id)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(repo::AnswerRow::answer)
                    .collect::<Result<_, _>>()
                    .map_err(unavailable)?;
                let expected = outcome(&row.spec().map_err(unavailable)?, &answers);
                Ok(Verified { event_id: row.event_id, right: *reported == expected, expected })
            });
            (*event, verdict)
        })
        .collect()
}

impl ControlSession {
    /// The calling node; the server's own identity has no business here.
    fn node(&self) -> Result<&NodeId, ControlError> {
        match &self.caller {
            Peer::Node(id) => Ok(id),
            Peer::Server => Err(ControlError::Forbidden),
        }
    }

    /// The events among `events` the caller may finalize at `now`, read under their row locks;
    /// the others are read without locks, only to say why not (no caller can lock events it
    /// does not coordinate, or open ones). `now` is taken by the caller *before* this read: an
    /// answer commits only if, under the same lock, it found the deadline ahead, so a read
    /// that starts after the deadline sees every accepted answer.
    async fn read_finalizing(&self, node: &NodeId, events: &[i64], now: DateTime<Utc>, read: repo::AnswerRead) -> Result<repo::Finalizing, ControlError> {
        let db = &self.cluster.db;
        let rows = repo::event_specs(db, events).await.map_err(unavailable)?;
        let allowed: Vec<i64> = events.iter().copied().filter(|id| coordinated(node, EventId(*id as u64), &rows, now).is_ok()).collect();
        let mut finalizing = repo::finalizing(db, &allowed, read).await.map_err(unavailable)?;
        for (id, row) in rows {
            finalizing.events.entry(id).or_insert(row);
        }
        Ok(finalizing)
    }

    /// A batch with a wrong report counts one strike against the caller (three such batches
    /// in a row quarantine it); a batch of right ones clears its strikes.
    async fn judge(&self, node: &NodeId, verdicts: &HashMap<EventId, Result<Verified, ControlError>>) -> Result<(), ControlError> {
        let db = &self.cluster.db;
        let wrong: Vec<i64> = verdicts.values().flatten().filter(|verified| !verified.right).map(|verified| verified.event_id).collect();
        if !wrong.is_empty() {
            tracing::warn!(?wrong, %node, "node reported wrong outcomes");
            repo::strike_node(db, node, STRIKES_BEFORE_QUARANTINE).await.map_err(unavailable)?;
        } else if verdicts.values().flatten().next().is_some() {
            repo::clear_strikes(db, node).await.map_err(unavailable)?;
        }
        Ok(())
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

    async fn manifests(self, _: context::Context, events: Vec<EventId>) -> Result<Vec<Result<Manifest, ControlError>>, ControlError> {
        let node = self.node()?;
        let ids = batch_ids(events.iter().copied())?;
        let now = Utc::now();
        let finalizing = self.read_finalizing(node, &ids, now, repo::AnswerRead::WhereOnly).await?;
        let ring = self.cluster.nodes();
        Ok(events
            .into_iter()
            .map(|event| {
                let row = coordinated(node, event, &finalizing.events, now)?;
                manifest(event, row, finalizing.answers.get(&row.event_id).map(Vec::as_slice).unwrap_or_default(), &ring)
            })
            .collect())
    }

    async fn report_outcomes(self, _: context::Context, reports: Vec<(EventId, Outcome)>) -> Result<Vec<Result<ReportAck, ControlError>>, ControlError> {
        let node = self.node()?.clone();
        let ids = batch_ids(reports.iter().map(|(event, _)| *event))?;
        let now = Utc::now();
        let db = &self.cluster.db;
        let finalizing = self.read_finalizing(&node, &ids, now, repo::AnswerRead::WithContent).await?;
        let deadlines: HashMap<i64, chrono::DateTime<Utc>> = finalizing.events.iter().map(|(id, row)| (*id, row.deadline)).collect();
        // Each event once (a repeated entry is answered like its first), and `outcome()` over
        // a batch of large events is real work: off the runtime.
        let order: Vec<EventId> = reports.iter().map(|(event, _)| *event).collect();
        let mut unique: Vec<(EventId, Outcome)> = Vec::with_capacity(reports.len());
        for (event, outcome) in reports {
            if !unique.iter().any(|(seen, _)| *seen == event) {
                unique.push((event, outcome));
            }
        }
        let verdicts: HashMap<EventId, Result<Verified, ControlError>> = {
            let node = node.clone();
            tokio::task::spawn_blocking(move || verify(&node, &unique, &finalizing, now)).await.map_err(unavailable)?
        };
        self.judge(&node, &verdicts).await?;

        let to_store: Vec<(i64, &Outcome)> = verdicts.values().flatten().map(|verified| (verified.event_id, &verified.expected)).collect();
        let stored_now = repo::store_outcomes(db, &node, &to_store).await.map_err(unavailable)?;
        let stored_ids: Vec<i64> = to_store.iter().map(|(event_id, _)| *event_id).collect();
        let held = repo::stored_outcomes(db, &stored_ids).await.map_err(unavailable)?;
        for event_id in &stored_now {
            tracing::info!(event_id, %node, "outcome stored");
            if let Some(deadline) = deadlines.get(event_id) {
                self.cluster.metrics.decided(*deadline);
            }
        }
        let ack = |verified: &Verified| match held.get(&verified.event_id) {
            Some(repo::StoredOutcome { outcome: Some(json), .. }) => {
                Ok(ReportAck { outcome: repo::decode_outcome(json).map_err(unavailable)?, stored_now: stored_now.contains(&verified.event_id) })
            }
            // Moved to another coordinator between the check and the store: it decides.
            Some(repo::StoredOutcome { coordinator_node, .. }) if coordinator_node.as_ref() != Some(&node) => {
                Err(ControlError::NotCoordinator { coordinator: coordinator_node.clone() })
            }
            // Cancelled between the check and the store: nothing was decided.
            _ => Err(ControlError::Cancelled),
        };
        Ok(order
            .iter()
            .map(|event| match verdicts.get(event) {
                Some(Ok(verified)) => ack(verified),
                Some(Err(error)) => Err(error.clone()),
                None => Err(ControlError::UnknownEvent),
            })
            .collect())
    }

    async fn report_missing(self, _: context::Context, event: EventId, participants: Vec<ParticipantId>) -> Result<(), ControlError> {
        let node = self.node()?;
        let id = event_id(event)?;
        let rows: HashMap<i64, repo::EventSpecRow> = repo::event_spec(&self.cluster.db, id).await.map_err(unavailable)?.into_iter().map(|row| (id, row)).collect();
        let row = coordinated(node, event, &rows, Utc::now())?;
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
