//! The server's side of the event-node cluster (DESIGN.md §2).
//!
//! - [`Cluster`] is the ring: every node the database knows, each with an authenticated
//!   [`Link`] (reconnected after a transport error: tarpc does not reconnect) and the state
//!   the monitor last saw. Nodes join at run time by saying hello. It assigns coordinators and
//!   dispatches answers and withdrawals round-robin over live nodes (an answer sticks to its
//!   node), and records what the nodes acknowledged.
//! - `control` serves the `ControlPlane` the nodes call: hello, manifests from the database,
//!   outcome reports (stored once, verified by recomputing `outcome()`), drain requests. The
//!   caller is the node its certificate names; it may only act for itself.
//! - A reconciler loop re-dispatches what no node acknowledged yet and assigns coordinators to
//!   events that lack one, nearest deadline first, so a failed dispatch only delays work; it
//!   also warns about events that are past their deadline and still undecided.
//! - `monitor` pings every node, declares a silent one dead (and a thrice-wrong one
//!   quarantined), drains the ones leaving, and moves their work in the database; the
//!   reconciler then sends it to live nodes. Correctness never depends on the monitor being
//!   quick: the coordinator's manifest check blocks finalization until every answer is on a
//!   node that answers.

mod control;
mod monitor;
pub(crate) mod repo;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use event_node::protocol::link::{ClusterTls, Link};
use event_node::protocol::{rpc_context, EventId, EventNodeClient, NodeError, NodeId, Peer, DEFAULT_RPC_TIMEOUT};
use scheduling::ParticipantId;

use crate::db::Db;
use crate::error::{Error, Result};
pub use control::serve_control_plane;

/// How often the reconciler looks for undispatched answers and unassigned events.
const RECONCILE_EVERY: Duration = Duration::from_millis(500);
/// How long past its deadline an event may be undecided before it is reported (a WARN, and
/// the count in `/healthz`).
pub const STALL_WARNING: Duration = Duration::from_secs(5);
/// How long past its deadline an event may be undecided before its coordinator is told again,
/// and how often that repeats.
const REASSERT_AFTER: Duration = Duration::from_secs(3);
/// How often the WARN for one stalled event repeats.
const STALL_REPEAT: Duration = Duration::from_secs(30);
/// Undispatched answers (and coordinator-less events) one reconcile pass handles.
const DISPATCH_BATCH: i64 = 500;
/// Dispatches and assignments one reconcile pass runs at once: a slow node costs one
/// timeout per batch, not one per row.
const IN_PARALLEL: usize = 32;
/// Answers one `put_answers` call carries at most.
const ANSWERS_PER_CALL: usize = 256;

/// What the server believes of a node; only live nodes get work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    Live,
    /// Missed too many health checks; rejoins when it answers again.
    Dead,
    /// Reported too many wrong outcomes; stays out until an operator lifts it.
    Quarantined,
    /// Leaving: its work moves to other nodes, then it is retired.
    Draining,
    /// Drained and told to stop; a hello brings it back.
    Retired,
}

impl NodeState {
    const ALL: [NodeState; 5] = [Self::Live, Self::Dead, Self::Quarantined, Self::Draining, Self::Retired];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Dead => "dead",
            Self::Quarantined => "quarantined",
            Self::Draining => "draining",
            Self::Retired => "retired",
        }
    }

    /// The state stored as `text`; an unknown word counts as dead (no work, still pinged).
    fn parse(text: &str) -> Self {
        Self::ALL.into_iter().find(|state| state.as_str() == text).unwrap_or(Self::Dead)
    }
}

struct NodeHandle {
    id: NodeId,
    link: Link<EventNodeClient>,
    state: AtomicU8,
    /// Consecutive missed health checks.
    misses: AtomicU32,
    /// While draining: when the node first confirmed it takes no new work.
    draining_confirmed: Mutex<Option<Instant>>,
}

impl NodeHandle {
    fn new(tls: &Arc<ClusterTls>, id: NodeId, address: SocketAddr, state: NodeState) -> Self {
        Self {
            link: Link::new(Arc::clone(tls), Peer::Node(id.clone()), address),
            id,
            state: AtomicU8::new(state as u8),
            misses: AtomicU32::new(0),
            draining_confirmed: Mutex::new(None),
        }
    }

    fn state(&self) -> NodeState {
        NodeState::ALL[usize::from(self.state.load(Ordering::Relaxed))]
    }

    fn set_state(&self, state: NodeState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    fn is_live(&self) -> bool {
        self.state() == NodeState::Live
    }
}

pub struct Cluster {
    db: Db,
    tls: Arc<ClusterTls>,
    /// Every known node, by id; replaced wholesale (copy on write) when one joins or moves.
    ring: RwLock<Arc<Vec<Arc<NodeHandle>>>>,
    next: AtomicUsize,
    /// When each late event was last told to its coordinator again and reported at WARN.
    late_events: Mutex<HashMap<i64, LateEvent>>,
    /// (node, event) pairs reported as falsely sealed, so each is logged once, not every pass.
    false_seals: Mutex<HashSet<(NodeId, i64)>>,
    /// One lock per event being assigned, so its assignments reach the node in the order
    /// they read the spec: two quick edits otherwise race, and the older spec can land last.
    /// An entry lives only while someone holds or waits for it.
    assigning: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    /// Dispatch lag and deadline → outcome are observed here.
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
}

/// A place in the line of one event's assignments; leaving it (also by being cancelled) removes
/// the event's lock once nobody else holds or waits for it.
struct AssignPlace<'a> {
    lines: &'a Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    event_id: i64,
    /// Always `Some` until dropped: given back under the map's lock, so two places leaving
    /// at once cannot both count the other and leave the entry behind.
    lock: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl<'a> AssignPlace<'a> {
    fn take(lines: &'a Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>, event_id: i64) -> Self {
        let lock = Arc::clone(lines.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).entry(event_id).or_default());
        Self { lines, event_id, lock: Some(lock) }
    }

    fn lock(&self) -> &tokio::sync::Mutex<()> {
        self.lock.as_deref().expect("held until dropped")
    }
}

impl Drop for AssignPlace<'_> {
    fn drop(&mut self) {
        let mut lines = self.lines.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        drop(self.lock.take());
        // Only the map's reference is left: nobody else is in line.
        if lines.get(&self.event_id).is_some_and(|lock| Arc::strong_count(lock) == 1) {
            lines.remove(&self.event_id);
        }
    }
}

/// Falsely sealed (node, event) pairs remembered at most; past it they are reported again.
const FALSE_SEALS_REMEMBERED: usize = 10_000;

impl Cluster {
    /// The cluster as the database knows it, plus `configured` nodes (id, address) recorded
    /// first. More nodes join later by saying hello.
    pub async fn new(db: Db, tls: Arc<ClusterTls>, configured: Vec<(NodeId, SocketAddr)>, metrics: Arc<crate::metrics::Metrics>) -> Result<Arc<Self>> {
        for (id, address) in &configured {
            repo::insert_node_if_absent(&db, id, &address.to_string()).await?;
        }
        let cluster = Arc::new(Self {
            db,
            tls,
            ring: RwLock::new(Arc::default()),
            next: AtomicUsize::new(0),
            late_events: Mutex::default(),
            false_seals: Mutex::default(),
            assigning: Mutex::default(),
            metrics,
        });
        cluster.sync_ring().await?;
        Ok(cluster)
    }

    /// Starts the monitor and the reconciler for as long as the server runs. The first
    /// reconcile pass is the start-up reconciliation: coordinators are told their events again
    /// (assigning is idempotent on the node), so events whose deadline passed while the server
    /// was down are finalized.
    pub fn spawn_background_work(self: &Arc<Self>, shutdown: &crate::shutdown::Shutdown) {
        self.spawn_monitor(shutdown);
        let cluster = Arc::clone(self);
        shutdown.spawn_until(async move {
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

    fn nodes(&self) -> Arc<Vec<Arc<NodeHandle>>> {
        Arc::clone(&self.ring.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Reads every node from the database into the ring (a new node gets a handle, a moved one
    /// a new link; the others keep theirs). Returns each handle with its stored state.
    async fn sync_ring(&self) -> Result<Vec<(Arc<NodeHandle>, NodeState)>> {
        let rows = repo::nodes(&self.db).await?;
        let current = self.nodes();
        let mut synced = Vec::with_capacity(rows.len());
        let mut changed = current.len() != rows.len();
        for row in rows {
            let stored = NodeState::parse(&row.state);
            let Ok(address) = row.address.parse::<SocketAddr>() else {
                tracing::warn!(node = %row.node_id, address = %row.address, "unusable node address in the database");
                continue;
            };
            let handle = match current.iter().find(|node| node.id == row.node_id) {
                Some(node) if node.link.address() == address => Arc::clone(node),
                _ => {
                    changed = true;
                    Arc::new(NodeHandle::new(&self.tls, row.node_id, address, stored))
                }
            };
            synced.push((handle, stored));
        }
        if changed {
            let ring: Vec<_> = synced.iter().map(|(node, _)| Arc::clone(node)).collect();
            *self.ring.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(ring);
        }
        Ok(synced)
    }

    /// A node said hello: record its address and bring it into the ring now, so it gets work
    /// without waiting for the monitor.
    pub(crate) async fn join(&self, id: &str, address: SocketAddr) -> Result<()> {
        repo::upsert_node(&self.db, id, &address.to_string()).await?;
        self.sync_ring().await?;
        Ok(())
    }

    /// The node with this id, if it is known and live.
    fn live_node(&self, id: &str) -> Option<Arc<NodeHandle>> {
        self.nodes().iter().find(|node| node.id == id && node.is_live()).cloned()
    }

    /// The next live node in turn.
    fn round_robin(&self) -> Result<Arc<NodeHandle>> {
        let nodes = self.nodes();
        let live: Vec<&Arc<NodeHandle>> = nodes.iter().filter(|node| node.is_live()).collect();
        if live.is_empty() {
            return Err(Error::Cluster("no live event node".into()));
        }
        Ok(Arc::clone(live[self.next.fetch_add(1, Ordering::Relaxed) % live.len()]))
    }

    /// Each node's id and state, for operators and tests.
    pub fn node_states(&self) -> Vec<(NodeId, NodeState)> {
        self.nodes().iter().map(|node| (node.id.clone(), node.state())).collect()
    }

    /// How many events are more than [`STALL_WARNING`] past their deadline with no outcome.
    pub async fn overdue_events(&self) -> Result<i64> {
        Ok(repo::count_overdue(&self.db, Utc::now() - STALL_WARNING).await?)
    }

    /// Gives the event a coordinator (round-robin) and arms its deadline there. Assignments of
    /// one event run one at a time, each reading the spec afresh, so the last one to reach the
    /// node carries the newest spec.
    pub async fn assign_coordinator(&self, event_id: i64) -> Result<()> {
        let place = AssignPlace::take(&self.assigning, event_id);
        let _turn = place.lock().lock().await;
        self.assign_coordinator_now(event_id).await
    }

    async fn assign_coordinator_now(&self, event_id: i64) -> Result<()> {
        let Some(row) = repo::event_spec(&self.db, event_id).await? else { return Ok(()) };
        let spec = row.spec()?;
        let node = match row.coordinator_node.as_deref().and_then(|id| self.live_node(id)) {
            Some(node) => node,
            None => self.round_robin()?,
        };
        // Recorded first: a node whose deadline has passed asks for the manifest at once, and
        // must find itself named there.
        repo::set_coordinator(&self.db, event_id, &node.id).await?;
        let event = EventId(event_id as u64);
        let told = match node.link.call(async |client| client.assign_event(rpc_context(DEFAULT_RPC_TIMEOUT), event, spec).await).await {
            Ok(Ok(())) => Ok(()),
            // Sealed there already: the outcome exists, nothing to arm; unless the database
            // says the event is open, and then the node is wrong and another is tried.
            Ok(Err(NodeError::Sealed)) => match repo::open_events(&self.db, &[event_id]).await {
                Ok(open) if open.is_empty() => Ok(()),
                Ok(_) => {
                    self.report_false_seal(&node, event_id);
                    Err(Error::Cluster(format!("{}: says open event {event_id} is sealed", node.id)))
                }
                Err(error) => Err(error.into()),
            },
            Ok(Err(error)) => Err(Error::Cluster(format!("{}: {error}", node.id))),
            Err(error) => Err(Error::Cluster(format!("{}: {error}", node.id))),
        };
        if told.is_err() {
            repo::clear_coordinator(&self.db, event_id, &node.id).await?;
        }
        told
    }

    /// Sends the participant's latest answer, or their withdrawal, to its node (sticky; new
    /// ones round-robin) and records the acknowledged version.
    pub async fn dispatch_answer(&self, participant_id: i64) -> Result<()> {
        let Some(row) = repo::answer(&self.db, participant_id).await? else { return Ok(()) };
        if row.needs_dispatch {
            self.dispatch_rows(vec![row]).await;
        }
        Ok(())
    }

    /// Sends each of `rows` (answers or withdrawals as just read or written) to its node
    /// (sticky; new ones round-robin): a node's answers go in `put_answers` calls of up to
    /// [`ANSWERS_PER_CALL`], withdrawals one by one, [`IN_PARALLEL`] calls at a time. What the
    /// nodes acknowledged is recorded as it arrives, one statement for whatever has arrived (a
    /// slow node holds back only its own); a row that could not be sent stays for the
    /// reconciler. Sending and recording run side by side: a call may read the database (a
    /// refused stale version), and a call left unpolled while its task waited for a connection
    /// to record would hold one connection and wait for another, which enough such tasks at
    /// once turn into a pool deadlock.
    pub(crate) async fn dispatch_rows(&self, rows: Vec<repo::AnswerRow>) {
        let accepted_at: HashMap<i64, DateTime<Utc>> = rows.iter().map(|row| (row.participant_id, row.accepted_at)).collect();
        let (calls, nothing_to_send) = self.plan_calls(rows);
        let (acknowledgements, mut acknowledged) = tokio::sync::mpsc::unbounded_channel();
        let _ = acknowledgements.send(nothing_to_send);
        let sending = async move {
            futures::stream::iter(calls)
                .for_each_concurrent(IN_PARALLEL, |(node, rows)| {
                    let acknowledgements = acknowledgements.clone();
                    async move {
                        let _ = acknowledgements.send(self.call(&node, rows).await);
                    }
                })
                .await;
        };
        let recording = async {
            while let Some(mut placed) = acknowledged.recv().await {
                while let Ok(more) = acknowledged.try_recv() {
                    placed.extend(more);
                }
                match repo::mark_dispatched(&self.db, &placed).await {
                    // Only what a node acknowledged (a withdrawal no node held was sent nowhere).
                    Ok(()) => placed
                        .iter()
                        .filter(|placed| placed.node.is_some())
                        .filter_map(|placed| accepted_at.get(&placed.participant_id))
                        .for_each(|at| self.metrics.dispatched(*at)),
                    Err(error) => tracing::debug!(%error, "acknowledged dispatches not recorded; the reconciler sends them again"),
                }
            }
        };
        futures::join!(sending, recording);
    }

    /// Which node gets which rows, in calls: each node's answers in chunks, each withdrawal on
    /// its own. Withdrawals no live node holds need no call: they are returned as placed.
    fn plan_calls(&self, rows: Vec<repo::AnswerRow>) -> (Vec<(Arc<NodeHandle>, Vec<repo::AnswerRow>)>, Vec<repo::Placed>) {
        let mut answers: HashMap<NodeId, (Arc<NodeHandle>, Vec<repo::AnswerRow>)> = HashMap::new();
        let mut calls = Vec::new();
        let mut nothing_to_send = Vec::new();
        for row in rows {
            let sticky = row.assigned_node.as_deref().and_then(|id| self.live_node(id));
            let node = match (sticky, row.withdrawn_at.is_some()) {
                (Some(node), _) => node,
                // No live node holds it (never sent, or its node's work moved): nothing to withdraw.
                (None, true) => {
                    nothing_to_send.push(repo::Placed { participant_id: row.participant_id, node: None, version: row.version });
                    continue;
                }
                (None, false) => match self.round_robin() {
                    Ok(node) => node,
                    Err(error) => {
                        tracing::debug!(participant_id = row.participant_id, %error, "cannot dispatch yet");
                        continue;
                    }
                },
            };
            match row.withdrawn_at {
                Some(_) => calls.push((node, vec![row])),
                None => answers.entry(node.id.clone()).or_insert_with(|| (node, Vec::new())).1.push(row),
            }
        }
        for (node, rows) in answers.into_values() {
            let mut rows = rows.into_iter().peekable();
            while rows.peek().is_some() {
                calls.push((Arc::clone(&node), rows.by_ref().take(ANSWERS_PER_CALL).collect()));
            }
        }
        (calls, nothing_to_send)
    }

    /// Sends `rows` to `node` in one call (answers) or one withdrawal: what to record as placed.
    async fn call(&self, node: &NodeHandle, rows: Vec<repo::AnswerRow>) -> Vec<repo::Placed> {
        let (rows, sent) = match rows.as_slice() {
            [row] if row.withdrawn_at.is_some() => {
                let sent = self.withdraw_on(node, row).await.map(|result| vec![result]);
                (rows, sent)
            }
            _ => {
                // An answer that cannot be read is logged and left for the reconciler; it does
                // not hold back the rest of its call.
                let (rows, answers): (Vec<_>, Vec<_>) = rows
                    .into_iter()
                    .filter_map(|row| match row.answer() {
                        Ok(answer) => {
                            let event = EventId(row.event_id as u64);
                            Some((row, (event, answer)))
                        }
                        Err(error) => {
                            tracing::error!(participant_id = row.participant_id, %error, "an answer in the database cannot be read");
                            None
                        }
                    })
                    .unzip();
                let sent = self.put_answers_on(node, answers).await;
                (rows, sent)
            }
        };
        let results = match sent {
            Ok(results) => results,
            Err(error) => {
                tracing::debug!(node = %node.id, rows = rows.len(), %error, "cannot dispatch yet");
                return Vec::new();
            }
        };
        let open = self.falsely_sealed(node, &rows, &results).await;
        let mut placed = Vec::new();
        for (row, result) in rows.iter().zip(results) {
            match result {
                Ok(()) => placed.push(repo::Placed { participant_id: row.participant_id, node: Some(node.id.clone()), version: row.version }),
                // Sealed: the event is decided, nothing more to send; unless the database says
                // it is not, and then the answer stays to be sent (and the event stalls loudly
                // rather than decide without it).
                Err(NodeError::Sealed) if !open.contains(&row.event_id) => {
                    placed.push(repo::Placed { participant_id: row.participant_id, node: Some(node.id.clone()), version: row.version })
                }
                Err(NodeError::Sealed) => {}
                Err(NodeError::StaleVersion { held }) => {
                    if let Err(error) = self.stale_version(row.participant_id, &node.id, held).await {
                        tracing::debug!(participant_id = row.participant_id, %error, "stale version");
                    }
                }
                Err(error) => tracing::debug!(participant_id = row.participant_id, node = %node.id, %error, "cannot dispatch yet"),
            }
        }
        placed
    }

    /// The events `node` called sealed that the database holds open (no outcome stored, not
    /// cancelled): only a coordinator seals, and only with the stored outcome, so the node is
    /// wrong (a bug, a database restored under running nodes, or a peer that sealed what it
    /// should not). Logged as an error; empty when no answer was refused as sealed.
    async fn falsely_sealed(&self, node: &NodeHandle, rows: &[repo::AnswerRow], results: &[std::result::Result<(), NodeError>]) -> HashSet<i64> {
        let mut sealed: Vec<i64> = rows.iter().zip(results).filter(|(_, result)| matches!(result, Err(NodeError::Sealed))).map(|(row, _)| row.event_id).collect();
        if sealed.is_empty() {
            return HashSet::new();
        }
        sealed.sort_unstable();
        sealed.dedup();
        let open = match repo::open_events(&self.db, &sealed).await {
            Ok(open) => open,
            Err(error) => {
                // Unknown: nothing is recorded, the reconciler sends them again.
                tracing::debug!(node = %node.id, %error, "cannot check sealed events");
                return sealed.into_iter().collect();
            }
        };
        for &event_id in &open {
            self.report_false_seal(node, event_id);
        }
        open
    }

    /// Logs, once per node and event, that `node` calls `event_id` sealed while it is open.
    fn report_false_seal(&self, node: &NodeHandle, event_id: i64) {
        let mut reported = self.false_seals.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if reported.len() >= FALSE_SEALS_REMEMBERED {
            reported.clear();
        }
        if reported.insert((node.id.clone(), event_id)) {
            tracing::error!(node = %node.id, event_id, "a node says an event is sealed that has no outcome stored; it is not given the event's work");
        }
    }

    /// One `withdraw` call to `node` for `row`.
    async fn withdraw_on(&self, node: &NodeHandle, row: &repo::AnswerRow) -> Result<std::result::Result<(), NodeError>> {
        let (event, participant, version) = (EventId(row.event_id as u64), ParticipantId(row.participant_id as u64), row.version as u64);
        let sent = node.link.call(async |client| client.withdraw(rpc_context(DEFAULT_RPC_TIMEOUT), event, participant, version).await).await;
        sent.map_err(|error| Error::Cluster(format!("{}: {error}", node.id)))
    }

    /// One `put_answers` call to `node`: one result per answer, in order.
    async fn put_answers_on(&self, node: &NodeHandle, answers: Vec<(EventId, scheduling::Answer)>) -> Result<Vec<std::result::Result<(), NodeError>>> {
        let count = answers.len();
        let sent = node.link.call(async |client| client.put_answers(rpc_context(DEFAULT_RPC_TIMEOUT), answers).await).await;
        match sent {
            Ok(Ok(results)) if results.len() == count => Ok(results),
            Ok(Ok(results)) => Err(Error::Cluster(format!("{}: {} results for {count} answers", node.id, results.len()))),
            Ok(Err(error)) => Err(Error::Cluster(format!("{}: {error}", node.id))),
            Err(error) => Err(Error::Cluster(format!("{}: {error}", node.id))),
        }
    }

    /// A node refused a version because it holds `held`. Usually a newer version of the row
    /// overtook this dispatch and is (being) sent: nothing to do. If the database's version is
    /// lower than the node's, the database went back (a restored backup, or a bug): say so,
    /// and move the database's version past the node's (same content) so the answer is sent
    /// again and accepted, instead of the event stalling.
    async fn stale_version(&self, participant_id: i64, node: &str, held: u64) -> Result<()> {
        let Some(current) = repo::answer(&self.db, participant_id).await? else { return Ok(()) };
        if current.version as u64 >= held {
            return Ok(());
        }
        tracing::error!(node, participant_id, held, version = current.version, "a node holds a newer version of an answer than the database; moving the database's version past it");
        repo::move_version_past(&self.db, current.event_id, participant_id, current.version, i64::try_from(held).unwrap_or(i64::MAX)).await?;
        Err(Error::Cluster(format!("{node}: held version {held} > {}", current.version)))
    }

    /// Tells every unfinished event's coordinator about it again (see `spawn_background_work`).
    async fn reassert_coordinators(&self) -> Result<()> {
        let events = repo::unfinished_events(&self.db).await?;
        self.assign_all(events.iter().map(|event| event.event_id)).await;
        Ok(())
    }

    /// Assigns each event a coordinator, [`IN_PARALLEL`] at a time.
    async fn assign_all(&self, events: impl Iterator<Item = i64>) {
        futures::stream::iter(events)
            .for_each_concurrent(IN_PARALLEL, |event_id| async move {
                if let Err(error) = self.assign_coordinator(event_id).await {
                    tracing::debug!(event_id, %error, "cannot assign a coordinator yet");
                }
            })
            .await;
    }

    /// Answers first, then coordinators: after a node failure the events it coordinated are
    /// often past their deadline, and a new coordinator finalizes at once, so its answers
    /// should be on a live node by then rather than fetched on a retry.
    async fn reconcile(&self) -> Result<()> {
        self.dispatch_rows(repo::undispatched(&self.db, DISPATCH_BATCH).await?).await;
        let events = repo::events_without_coordinator(&self.db, DISPATCH_BATCH).await?;
        self.assign_all(events.iter().map(|event| event.event_id)).await;
        self.attend_to_late_events().await
    }

    /// Events a little past their deadline with no outcome are told to their coordinator
    /// again, each at most every [`REASSERT_AFTER`] (it may have lost its store, or a task may
    /// have ended while the server briefly had no coordinator for the event; assigning is
    /// idempotent). Each one later than [`STALL_WARNING`] is logged at WARN, and again every
    /// [`STALL_REPEAT`], with what the server sees of why.
    async fn attend_to_late_events(&self) -> Result<()> {
        let late = repo::overdue_events(&self.db, Utc::now() - REASSERT_AFTER, 20).await?;
        let (retell, warn) = {
            let mut attended = self.late_events.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            attended.retain(|event_id, _| late.iter().any(|event| event.event_id == *event_id));
            let mut retell = Vec::new();
            let mut warn = Vec::new();
            for event in &late {
                let seen = attended.entry(event.event_id).or_insert_with(LateEvent::default);
                if seen.retold.is_none_or(|at| at.elapsed() >= REASSERT_AFTER) {
                    seen.retold = Some(Instant::now());
                    retell.push(event.event_id);
                }
                let late_by = (Utc::now() - event.deadline).to_std().unwrap_or_default();
                if late_by >= STALL_WARNING && seen.warned.is_none_or(|at| at.elapsed() >= STALL_REPEAT) {
                    seen.warned = Some(Instant::now());
                    warn.push((event, late_by));
                }
            }
            (retell, warn)
        };
        for (event, late_by) in warn {
            let coordinator = event.coordinator_node.as_deref().unwrap_or("none");
            tracing::warn!(event_id = event.event_id, late_secs = late_by.as_secs(), coordinator, undispatched = event.undispatched, "event past its deadline has no outcome yet");
        }
        self.assign_all(retell.into_iter()).await;
        Ok(())
    }
}

/// What the reconciler last did about one late event.
#[derive(Default)]
struct LateEvent {
    retold: Option<Instant>,
    warned: Option<Instant>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One event's assignments take turns, and its lock goes once the line is empty, also
    /// when a waiting assignment is cancelled.
    #[tokio::test]
    async fn assignments_of_one_event_take_turns_and_leave_no_lock_behind() {
        let lines = Mutex::default();
        let first = AssignPlace::take(&lines, 7);
        let turn = first.lock().lock().await;
        let second = AssignPlace::take(&lines, 7);
        let other_event = AssignPlace::take(&lines, 8);
        assert!(other_event.lock().try_lock().is_ok(), "another event does not wait");
        assert!(second.lock().try_lock().is_err(), "the second assignment of the event waits");
        assert_eq!(lines.lock().unwrap().len(), 2);

        let waiting = async {
            let place = AssignPlace::take(&lines, 7);
            let _turn = place.lock().lock().await;
        };
        assert!(tokio::time::timeout(Duration::from_millis(20), waiting).await.is_err(), "cancelled while waiting");
        drop(other_event);
        assert_eq!(lines.lock().unwrap().len(), 1, "the idle event's lock is gone");
        drop(turn);
        drop(first);
        assert_eq!(lines.lock().unwrap().len(), 1, "the second is still in line");
        drop(second);
        assert!(lines.lock().unwrap().is_empty(), "no lock is left once the line is empty");
    }
}
