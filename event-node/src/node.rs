//! The node's shared state: what the RPC handlers (`runtime`) and the coordinator tasks
//! (`coordinator`) both use. It sits below both so neither depends on the other's module.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::watch;

use scheduling::{EventSpec, Outcome};

use crate::batch::Coalescer;
use crate::protocol::link::{CallError, ClusterTls, Link};
use crate::protocol::{rpc_context, ControlError, ControlPlaneClient, EventId, EventNodeClient, Manifest, NodeId, Peer, ReportAck, MAX_BATCH};
use crate::store::NodeStore;

/// A batched call carries up to [`MAX_BATCH`] events' work: more time than one call's.
const BATCH_RPC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The server's answer for one event of a batched call, or why the batch got none (shared by
/// every event in it).
pub(crate) type Batched<T> = Result<Result<T, ControlError>, Arc<CallError>>;

pub(crate) struct Node {
    pub(crate) id: NodeId,
    /// Where peers and the server reach this node (told to the server at hello).
    pub(crate) advertise: SocketAddr,
    pub(crate) store: NodeStore,
    pub(crate) control: Arc<Link<ControlPlaneClient>>,
    /// Manifests and outcome reports, batched across the coordinator tasks.
    pub(crate) manifests: Coalescer<EventId, Batched<Manifest>>,
    pub(crate) reports: Coalescer<(EventId, Outcome), Batched<ReportAck>>,
    pub(crate) peers: Peers,
    pub(crate) started: Instant,
    /// Set once the node is leaving: it refuses new answers and events.
    draining: AtomicBool,
    /// Flips to true when the server retires the node: serving stops.
    retired: watch::Sender<bool>,
    /// Events with a live coordinator task, so a repeated assignment does not start another;
    /// Per event with a coordinator task: the spec it follows (an assignment with a new one,
    /// such as a moved deadline, wakes it), and `true` when an assignment arrived while the
    /// task ran, so it must run again when it ends (it may be ending because the server
    /// briefly had no coordinator for the event).
    coordinating: Mutex<HashMap<EventId, (watch::Sender<EventSpec>, bool)>>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Node {
    /// Must be called on the runtime: the batched calls each start a task.
    pub(crate) fn new(id: NodeId, advertise: SocketAddr, store: NodeStore, tls: Arc<ClusterTls>, server: SocketAddr) -> Self {
        let control: Arc<Link<ControlPlaneClient>> = Arc::new(Link::new(Arc::clone(&tls), Peer::Server, server));
        let manifests = {
            let control = Arc::clone(&control);
            Coalescer::new(
                MAX_BATCH,
                move |events: Vec<EventId>| {
                    let control = Arc::clone(&control);
                    async move {
                        let count = events.len();
                        let answered = control.call(async |control| control.manifests(rpc_context(BATCH_RPC_TIMEOUT), events).await).await;
                        per_event(answered, count)
                    }
                },
                failed_whole,
            )
        };
        let reports = {
            let control = Arc::clone(&control);
            Coalescer::new(
                MAX_BATCH,
                move |reports: Vec<(EventId, Outcome)>| {
                    let control = Arc::clone(&control);
                    async move {
                        let count = reports.len();
                        let answered = control.call(async |control| control.report_outcomes(rpc_context(BATCH_RPC_TIMEOUT), reports).await).await;
                        per_event(answered, count)
                    }
                },
                failed_whole,
            )
        };
        Self {
            id,
            advertise,
            store,
            control,
            manifests,
            reports,
            peers: Peers { tls, links: Mutex::default() },
            started: Instant::now(),
            draining: AtomicBool::new(false),
            retired: watch::Sender::new(false),
            coordinating: Mutex::default(),
        }
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    pub(crate) fn start_draining(&self) {
        if !self.draining.swap(true, Ordering::SeqCst) {
            tracing::info!(node_id = %self.id, "draining: no new answers or events");
        }
    }

    pub(crate) fn retire(&self) {
        self.retired.send_replace(true);
    }

    /// Resolves once the node is retired.
    pub(crate) async fn retired(&self) {
        let mut retired = self.retired.subscribe();
        let _ = retired.wait_for(|retired| *retired).await;
    }

    /// Marks `event` as having a coordinator task following `spec`: the receiver for a new
    /// task, or `None` if it has one already (which then follows `spec` and runs again once
    /// it ends).
    pub(crate) fn begin_coordinating(&self, event: EventId, spec: EventSpec) -> Option<watch::Receiver<EventSpec>> {
        let mut coordinating = locked(&self.coordinating);
        match coordinating.get_mut(&event) {
            Some((current, again)) => {
                current.send_if_modified(|held| {
                    let changed = *held != spec;
                    *held = spec;
                    changed
                });
                *again = true;
                None
            }
            None => {
                let (sender, receiver) = watch::channel(spec);
                coordinating.insert(event, (sender, false));
                Some(receiver)
            }
        }
    }

    /// The task for `event` ended: true if it must run again (assigned meanwhile).
    pub(crate) fn end_coordinating(&self, event: EventId) -> bool {
        let mut coordinating = locked(&self.coordinating);
        match coordinating.get_mut(&event) {
            Some((_, again)) if *again => {
                *again = false;
                true
            }
            _ => {
                coordinating.remove(&event);
                false
            }
        }
    }
}

/// Whether an answer says its whole batch failed: the call failed (timed out, or the link
/// broke, as an oversized frame breaks it), or the server could not serve it (overloaded).
fn failed_whole<T>(answer: &Batched<T>) -> bool {
    matches!(answer, Err(_) | Ok(Err(ControlError::Unavailable(_))))
}

/// Spreads a batched call's answer over its `count` events: a failed call or a refused batch
/// fails each, and an answer of the wrong length (a server bug) fails each rather than
/// pairing answers with the wrong events.
fn per_event<T: Clone>(answered: Result<Result<Vec<Result<T, ControlError>>, ControlError>, CallError>, count: usize) -> Vec<Batched<T>> {
    match answered {
        Ok(Ok(answers)) if answers.len() == count => answers.into_iter().map(Ok).collect(),
        Ok(Ok(answers)) => {
            let error = ControlError::Unavailable(format!("the server answered {} of {count} events", answers.len()));
            vec![Ok(Err(error)); count]
        }
        Ok(Err(refused)) => vec![Ok(Err(refused)); count],
        Err(error) => vec![Err(Arc::new(error)); count],
    }
}

/// Links to peer nodes, by id; a peer that moved gets a new link.
pub(crate) struct Peers {
    tls: Arc<ClusterTls>,
    links: Mutex<HashMap<NodeId, Arc<Link<EventNodeClient>>>>,
}

impl Peers {
    pub(crate) fn link(&self, node: &NodeId, address: SocketAddr) -> Arc<Link<EventNodeClient>> {
        let mut links = locked(&self.links);
        match links.get(node) {
            Some(link) if link.address() == address => Arc::clone(link),
            _ => {
                let link = Arc::new(Link::new(Arc::clone(&self.tls), Peer::Node(node.clone()), address));
                links.insert(node.clone(), Arc::clone(&link));
                link
            }
        }
    }
}
