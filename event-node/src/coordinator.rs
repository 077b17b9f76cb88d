//! How a deadline flows on the coordinating node:
//!
//! 1. sleep until the deadline (at once if it passed: a late assignment or a restart);
//! 2. ask the server for the manifest; stop if another node coordinates the event now, and
//!    only seal if an outcome is stored already (a report must be made once);
//! 3. gather the partials of every node the manifest names, merge them, and check that each
//!    manifest participant is there at exactly the manifest version;
//! 4. compute `outcome()`, report it, seal the event on the nodes involved.
//!
//! Any failure (a node down, an answer still in flight, the server unreachable) means "try
//! again" with backoff: never finalize on incomplete data. The server moves answers off dead
//! nodes, after which a later attempt completes.

use std::collections::BTreeMap;
use std::time::Duration;

use scheduling::{outcome, Answer, EventSpec, Outcome, Partial};

use crate::protocol::{rpc_context, EventId, Manifest, NodeId, DEFAULT_RPC_TIMEOUT};
use crate::runtime::Node;

const FIRST_RETRY: Duration = Duration::from_millis(50);
const MAX_RETRY: Duration = Duration::from_secs(1);

/// What one finalization attempt ended with, when it did not fail.
#[derive(Debug)]
enum Finished {
    Reported,
    AlreadyStored,
    NotCoordinator(NodeId),
}

/// Waits for the deadline, then finalizes `event`, retrying until it is done.
pub(crate) async fn run(node: &Node, event: EventId, spec: EventSpec) {
    let until_deadline = (spec.deadline() - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(until_deadline).await;

    let mut retry = FIRST_RETRY;
    loop {
        match finalize(node, event).await {
            Ok(Finished::NotCoordinator(coordinator)) => {
                tracing::info!(%event, %coordinator, "no longer this node's event");
                return;
            }
            Ok(finished) => {
                tracing::info!(%event, ?finished, "event finalized");
                return;
            }
            Err(reason) => tracing::debug!(%event, %reason, "cannot finalize yet; retrying"),
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(MAX_RETRY);
    }
}

async fn finalize(node: &Node, event: EventId) -> Result<Finished, String> {
    let manifest = fetch_manifest(node, event).await?;
    if manifest.coordinator != node.id {
        // Reassigned while this node was away: stop; the data stays until the event is sealed.
        return Ok(Finished::NotCoordinator(manifest.coordinator));
    }
    if let Some(stored) = &manifest.stored_outcome {
        seal_everywhere(node, &manifest, stored).await;
        return Ok(Finished::AlreadyStored);
    }

    let answers = gather(node, &manifest).await?;
    let decided = outcome(&manifest.spec, &answers);
    let control = node.control.client().await.map_err(|e| format!("server unreachable: {e}"))?;
    match control.report_outcome(rpc_context(DEFAULT_RPC_TIMEOUT), event, node.id.clone(), decided.clone()).await {
        Ok(Ok(_ack)) => {}
        Ok(Err(error)) => return Err(format!("report refused: {error}")),
        Err(error) => {
            node.control.reset_after(&error).await;
            return Err(format!("report failed: {error}"));
        }
    }
    seal_everywhere(node, &manifest, &decided).await;
    Ok(Finished::Reported)
}

async fn fetch_manifest(node: &Node, event: EventId) -> Result<Manifest, String> {
    let control = node.control.client().await.map_err(|e| format!("server unreachable: {e}"))?;
    match control.manifest(rpc_context(DEFAULT_RPC_TIMEOUT), event).await {
        Ok(answer) => answer.map_err(|e| format!("manifest refused: {e}")),
        Err(error) => {
            node.control.reset_after(&error).await;
            Err(format!("manifest failed: {error}"))
        }
    }
}

/// The manifest's answers, each at exactly its manifest version, from the nodes holding them.
async fn gather(node: &Node, manifest: &Manifest) -> Result<Vec<Answer>, String> {
    let mut holders: Vec<&NodeId> = manifest.entries.iter().map(|entry| &entry.node).collect();
    holders.sort();
    holders.dedup();

    let mut merged = Partial::new();
    for holder in holders {
        merged = merged.merge(&fetch_partial(node, manifest, holder).await?);
    }

    let held: BTreeMap<_, _> = merged.answers().map(|answer| (answer.participant, answer)).collect();
    manifest
        .entries
        .iter()
        .map(|entry| match held.get(&entry.participant) {
            Some(answer) if answer.version == entry.version => Ok((*answer).clone()),
            Some(answer) => Err(format!(
                "{:?} is at version {} on the nodes, {} in the manifest",
                entry.participant, answer.version, entry.version
            )),
            None => Err(format!("{:?} (on {}) is missing", entry.participant, entry.node)),
        })
        .collect()
}

async fn fetch_partial(node: &Node, manifest: &Manifest, holder: &NodeId) -> Result<Partial, String> {
    if *holder == node.id {
        return node.store.partial(manifest.event).map_err(|e| e.to_string());
    }
    let address = manifest
        .nodes
        .iter()
        .find(|known| known.node == *holder)
        .map(|known| known.address)
        .ok_or_else(|| format!("no address for {holder}"))?;
    let peer = node.peers.get(address).await.map_err(|e| format!("{holder} unreachable: {e}"))?;
    match peer.fetch_partial(rpc_context(DEFAULT_RPC_TIMEOUT), manifest.event).await {
        Ok(answer) => answer.map_err(|e| format!("{holder}: {e}")),
        Err(error) => {
            node.peers.reset_after(address, &error).await;
            Err(format!("{holder}: {error}"))
        }
    }
}

/// Seals the event on every node the manifest names and here. Best effort: a node that is
/// down cannot be sealed, and the server refuses writes after the deadline anyway.
async fn seal_everywhere(node: &Node, manifest: &Manifest, decided: &Outcome) {
    for known in manifest.nodes.iter().filter(|known| known.node != node.id) {
        if let Ok(peer) = node.peers.get(known.address).await {
            if let Err(error) = peer.seal(rpc_context(DEFAULT_RPC_TIMEOUT), manifest.event, decided.clone()).await {
                node.peers.reset_after(known.address, &error).await;
            }
        }
    }
    if let Err(error) = node.store.seal(manifest.event, decided).await {
        tracing::warn!(event = %manifest.event, %error, "cannot seal locally");
    }
}
