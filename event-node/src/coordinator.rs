//! How a deadline flows on the coordinating node:
//!
//! 1. sleep until the deadline (at once if it passed: a late assignment or a restart), again
//!    whenever an assignment moves it (the organizer extended it, or decided now);
//! 2. ask the server for the manifest (batched with the other events due now, see `batch`);
//!    stop if another node coordinates the event now, and only seal if an outcome is stored
//!    already (a report must be made once);
//! 3. gather the partials of every node the manifest names, all at once, merge them, and check
//!    that each manifest participant is there at exactly the manifest version;
//! 4. compute `outcome()`, report it (batched too), seal the event here and on the nodes that held entries.
//!
//! Any failure (a node down, an answer still in flight, the server unreachable) means "try
//! again" with backoff: never finalize on incomplete data. The server moves answers off dead
//! nodes, after which a later attempt completes. An event still undecided [`STALL_WARNING`]
//! after its deadline is logged at WARN with what is missing, and again every
//! [`STALL_REPEAT`], so a stall is never silent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use scheduling::{outcome, Answer, EventSpec, Outcome, ParticipantId, Partial};
use tokio::sync::watch;

use crate::node::Node;
use crate::protocol::link::CallError;
use crate::protocol::{rpc_context, ControlError, EventId, Manifest, NodeError, NodeId, DEFAULT_RPC_TIMEOUT};

const FIRST_RETRY: Duration = Duration::from_millis(50);
/// Retries are cheap (a batched manifest), so the longest wait stays short.
const MAX_RETRY: Duration = Duration::from_millis(500);
/// How long past the deadline lost answers may stay lost before the server is asked to send
/// them again (a node acknowledged them, so they are not in flight: its data was lost).
const REPAIR_AFTER: Duration = Duration::from_secs(2);
/// How long past the deadline a finalization may keep failing before it is logged at WARN.
pub(crate) const STALL_WARNING: Duration = Duration::from_secs(5);
const STALL_REPEAT: Duration = Duration::from_secs(30);
/// How long a coordinator the server told "before the deadline" waits for the assignment with
/// the new deadline before asking again.
const MOVED_DEADLINE_RECHECK: Duration = Duration::from_secs(5);

/// What one finalization attempt ended with, when it did not fail.
#[derive(Debug)]
enum Finished {
    Reported,
    AlreadyStored,
    Cancelled,
    NotCoordinator(Option<NodeId>),
}

/// Why an attempt could not finalize (yet).
#[derive(Debug, thiserror::Error)]
enum FinalizeError {
    #[error("the server is unreachable: {0}")]
    Server(Arc<CallError>),
    #[error("the node is stopping")]
    Stopping,
    #[error("the server refused: {0}")]
    Refused(ControlError),
    #[error("{node} is unreachable: {error}")]
    PeerUnreachable { node: NodeId, error: CallError },
    #[error("{node} refused: {error}")]
    PeerRefused { node: NodeId, error: NodeError },
    #[error("no address for {0}")]
    NoAddress(NodeId),
    #[error("the answer of participant {} is not on any node yet", .0 .0)]
    Undispatched(ParticipantId),
    #[error("{} answers are missing or at another version on the nodes that acknowledged them (first: participant {})", .0.len(), .0[0].0)]
    Lost(Vec<ParticipantId>),
    #[error("cannot read the local store: {0}")]
    Local(NodeError),
}

/// Waits for the deadline (following `spec` as assignments change it), then finalizes
/// `event`, retrying until it is done.
pub(crate) async fn run(node: &Node, event: EventId, spec: &mut watch::Receiver<EventSpec>) {
    wait_for_deadline(spec).await;

    let mut deadline_passed = Instant::now();
    let mut next_warning = STALL_WARNING;
    let mut next_repair = REPAIR_AFTER;
    let mut retry = FIRST_RETRY;
    loop {
        match finalize(node, event).await {
            Err(FinalizeError::Refused(ControlError::BeforeDeadline)) => {
                // The deadline moved later and the assignment saying so has not arrived (or
                // this clock runs ahead): wait for it, or ask again in a while.
                tracing::debug!(%event, "the deadline has not passed on the server; waiting for the new one");
                let _ = tokio::time::timeout(MOVED_DEADLINE_RECHECK, spec.changed()).await;
                wait_for_deadline(spec).await;
                (deadline_passed, next_warning, next_repair, retry) = (Instant::now(), STALL_WARNING, REPAIR_AFTER, FIRST_RETRY);
                continue;
            }
            Ok(Finished::NotCoordinator(coordinator)) => {
                tracing::info!(%event, ?coordinator, "no longer this node's event");
                return;
            }
            Ok(finished) => {
                tracing::info!(%event, ?finished, "event finalized");
                return;
            }
            Err(FinalizeError::Lost(participants)) if deadline_passed.elapsed() >= next_repair => {
                tracing::warn!(%event, lost = participants.len(), "answers lost on their nodes; asking the server to send them again");
                let asked = node.control.call(async |control| control.report_missing(rpc_context(DEFAULT_RPC_TIMEOUT), event, participants).await).await;
                if let Err(error) = asked {
                    tracing::debug!(%event, %error, "cannot report the lost answers yet");
                }
                next_repair = deadline_passed.elapsed() + REPAIR_AFTER;
            }
            Err(reason) => {
                let late = deadline_passed.elapsed();
                if late >= next_warning {
                    tracing::warn!(%event, late_secs = late.as_secs(), %reason, "event still undecided after its deadline");
                    next_warning = late + STALL_REPEAT;
                } else {
                    tracing::debug!(%event, %reason, "cannot finalize yet; retrying");
                }
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(MAX_RETRY);
    }
}

/// Returns once the deadline of the latest spec has passed.
async fn wait_for_deadline(spec: &mut watch::Receiver<EventSpec>) {
    loop {
        let deadline = spec.borrow_and_update().deadline();
        let until_deadline = (deadline - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(until_deadline) => return,
            // The sender lives while the task is registered, so this only ends with a change.
            Ok(()) = spec.changed() => {}
        }
    }
}

async fn finalize(node: &Node, event: EventId) -> Result<Finished, FinalizeError> {
    let manifest = match node.manifests.call(event).await.ok_or(FinalizeError::Stopping)? {
        Ok(Ok(manifest)) => manifest,
        // Reassigned while this node was away: stop; the data stays until the event is sealed.
        Ok(Err(ControlError::NotCoordinator { coordinator })) => return Ok(Finished::NotCoordinator(coordinator)),
        Ok(Err(ControlError::Cancelled)) => {
            node.store.abandon(event).await.map_err(FinalizeError::Local)?;
            return Ok(Finished::Cancelled);
        }
        Ok(Err(error)) => return Err(FinalizeError::Refused(error)),
        Err(error) => return Err(FinalizeError::Server(error)),
    };
    if let Some(stored) = &manifest.stored_outcome {
        seal_holders(node, &manifest, stored).await;
        return Ok(Finished::AlreadyStored);
    }

    let answers = gather(node, &manifest).await?;
    let decided = outcome(&manifest.spec, &answers);
    let stored = match node.reports.call((event, decided)).await.ok_or(FinalizeError::Stopping)? {
        Ok(Ok(ack)) => ack.outcome,
        Ok(Err(ControlError::NotCoordinator { coordinator })) => return Ok(Finished::NotCoordinator(coordinator)),
        Ok(Err(ControlError::Cancelled)) => {
            node.store.abandon(event).await.map_err(FinalizeError::Local)?;
            return Ok(Finished::Cancelled);
        }
        Ok(Err(error)) => return Err(FinalizeError::Refused(error)),
        Err(error) => return Err(FinalizeError::Server(error)),
    };
    // Sealed with what the server stored, so every node agrees with the database.
    seal_holders(node, &manifest, &stored).await;
    Ok(Finished::Reported)
}

/// The nodes the manifest's entries name, each once.
fn holders(manifest: &Manifest) -> Vec<&NodeId> {
    let mut holders: Vec<&NodeId> = manifest.entries.iter().filter_map(|entry| entry.node.as_ref()).collect();
    holders.sort();
    holders.dedup();
    holders
}

/// The manifest's answers, each at exactly its manifest version, each from the node the
/// manifest names for it (asked all at once, so one slow node costs one timeout, not one per
/// node). A copy elsewhere is never used: it may be stale.
async fn gather(node: &Node, manifest: &Manifest) -> Result<Vec<Answer>, FinalizeError> {
    if let Some(entry) = manifest.entries.iter().find(|entry| entry.node.is_none()) {
        return Err(FinalizeError::Undispatched(entry.participant));
    }
    let holders = holders(manifest);
    let partials = join_all(holders.iter().map(|holder| fetch_partial(node, manifest, holder))).await;
    let mut held: BTreeMap<&NodeId, BTreeMap<ParticipantId, &Answer>> = BTreeMap::new();
    let partials: Vec<Partial> = partials.into_iter().collect::<Result<_, _>>()?;
    for (holder, partial) in holders.iter().zip(&partials) {
        held.insert(holder, partial.answers().map(|answer| (answer.participant, answer)).collect());
    }

    let mut answers = Vec::with_capacity(manifest.entries.len());
    let mut lost = Vec::new();
    for entry in &manifest.entries {
        let on_node = entry.node.as_ref().and_then(|holder| held.get(holder)).and_then(|answers| answers.get(&entry.participant));
        match on_node {
            Some(answer) if answer.version == entry.version => answers.push((*answer).clone()),
            _ => lost.push(entry.participant),
        }
    }
    if lost.is_empty() { Ok(answers) } else { Err(FinalizeError::Lost(lost)) }
}

async fn fetch_partial(node: &Node, manifest: &Manifest, holder: &NodeId) -> Result<Partial, FinalizeError> {
    if *holder == node.id {
        return node.store.partial(manifest.event).map_err(FinalizeError::Local);
    }
    let address = manifest
        .nodes
        .iter()
        .find(|known| known.node == *holder)
        .map(|known| known.address)
        .ok_or_else(|| FinalizeError::NoAddress(holder.clone()))?;
    let link = node.peers.link(holder, address);
    match link.call(async |peer| peer.fetch_partial(rpc_context(DEFAULT_RPC_TIMEOUT), manifest.event).await).await {
        Ok(Ok(partial)) => Ok(partial),
        Ok(Err(error)) => Err(FinalizeError::PeerRefused { node: holder.clone(), error }),
        Err(error) => Err(FinalizeError::PeerUnreachable { node: holder.clone(), error }),
    }
}

/// Seals the event on the nodes that held its entries (all at once) and here. Best effort: a
/// node that is down cannot be sealed, and the server refuses writes after the deadline anyway.
async fn seal_holders(node: &Node, manifest: &Manifest, decided: &Outcome) {
    let peers = manifest.nodes.iter().filter(|known| known.node != node.id && holders(manifest).contains(&&known.node));
    join_all(peers.map(|known| async move {
        let link = node.peers.link(&known.node, known.address);
        if let Err(error) = link.call(async |peer| peer.seal(rpc_context(DEFAULT_RPC_TIMEOUT), manifest.event, decided.clone()).await).await {
            tracing::debug!(event = %manifest.event, node = %known.node, %error, "cannot seal on a peer");
        }
    }))
    .await;
    if let Err(error) = node.store.seal(manifest.event, decided).await {
        tracing::warn!(event = %manifest.event, %error, "cannot seal locally");
    }
}
