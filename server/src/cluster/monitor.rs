//! The health monitor (DESIGN.md §2 steps 6 and 10). Every ~500 ms it reads the nodes from
//! the database (so a node that joined, or an operator's `whenly node …`, takes effect within
//! a pass), pings each node not retired, and settles each one's state:
//!
//! - `quarantined` (three wrong reports in a row) and `draining` come from the database;
//! - otherwise a node is `live` while it answers, and `dead` after [`MISSES_BEFORE_DEAD`]
//!   missed pings in a row.
//!
//! While a node is out (dead, quarantined, draining), each pass moves its work in the
//! database: its answers of undecided events wait for dispatch again (the reconciler sends them
//! to live nodes, nearest deadline first) and its undecided events lose their coordinator (the
//! reconciler assigns a live one, which finalizes at once if the deadline passed). Doing this
//! on every pass rather than once also catches an acknowledgement recorded just after the
//! node left the ring. A draining node is told to take no new work; once it has confirmed
//! that for longer than an RPC can take, and a pass found nothing left to move, it is retired
//! and told to stop.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use event_node::protocol::{rpc_context, DEFAULT_RPC_TIMEOUT};
use futures::future::join_all;

use super::{repo, Cluster, NodeHandle, NodeState};
use crate::error::Result;

/// How often every node is pinged.
pub(super) const PING_EVERY: Duration = Duration::from_millis(500);
/// How long a ping may take before it counts as missed.
const PING_TIMEOUT: Duration = Duration::from_millis(400);
/// Missed pings in a row after which a node is dead.
pub(super) const MISSES_BEFORE_DEAD: u32 = 3;
/// How long a draining node must have refused new work before it may be retired: longer than
/// any dispatch that reached it before, so its acknowledgement is recorded (and moved) first.
const DRAIN_SETTLE: Duration = Duration::from_millis(DEFAULT_RPC_TIMEOUT.as_millis() as u64 + 1000);

impl NodeHandle {
    /// Whether the node answered a health check in time, as itself.
    async fn ping(&self) -> bool {
        let answered = self.link.call(async |client| client.health(rpc_context(PING_TIMEOUT)).await).await;
        let ok = answered.is_ok_and(|health| health.node_id == self.id);
        if ok {
            self.misses.store(0, Ordering::Relaxed);
        } else {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }
}

impl Cluster {
    pub(super) fn spawn_monitor(self: &Arc<Self>, shutdown: &crate::shutdown::Shutdown) {
        let cluster = Arc::clone(self);
        shutdown.spawn_until(async move {
            let mut ticks = tokio::time::interval(PING_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = cluster.monitor_pass().await {
                    tracing::warn!(%error, "monitor pass failed");
                }
            }
        });
    }

    async fn monitor_pass(&self) -> Result<()> {
        let nodes = self.sync_ring().await?;
        let answered = join_all(nodes.iter().map(|(node, stored)| async move { *stored != NodeState::Retired && node.ping().await })).await;
        for ((node, stored), answered) in nodes.iter().zip(answered) {
            let next = match stored {
                NodeState::Live | NodeState::Dead if answered => NodeState::Live,
                NodeState::Live | NodeState::Dead if node.misses.load(Ordering::Relaxed) >= MISSES_BEFORE_DEAD => NodeState::Dead,
                // Not enough misses yet: as it was.
                NodeState::Live | NodeState::Dead => node.state(),
                admin => *admin,
            };
            if next != node.state() {
                node.set_state(next);
                match next {
                    NodeState::Live => tracing::info!(node = %node.id, "node is live and in the ring"),
                    NodeState::Dead => tracing::warn!(node = %node.id, "node missed {MISSES_BEFORE_DEAD} health checks: dead"),
                    NodeState::Quarantined => tracing::warn!(node = %node.id, "node quarantined after wrong outcome reports"),
                    NodeState::Draining => tracing::info!(node = %node.id, "node draining: its work moves to the others"),
                    NodeState::Retired => tracing::info!(node = %node.id, "node retired"),
                }
            }
            if next != NodeState::Draining {
                node.draining_confirmed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
            }
            if matches!(next, NodeState::Live | NodeState::Dead) && next != *stored {
                repo::transition_node(&self.db, &node.id, &["live", "dead"], next.as_str()).await?;
            }
            match next {
                NodeState::Live => {}
                // Retired too: an acknowledgement recorded after the retirement is moved.
                NodeState::Dead | NodeState::Quarantined | NodeState::Retired => {
                    self.move_work_off(node).await?;
                }
                NodeState::Draining => self.drain_step(node, answered).await?,
            }
        }
        Ok(())
    }

    async fn move_work_off(&self, node: &NodeHandle) -> Result<u64> {
        let (answers, events) = repo::move_work_off(&self.db, &node.id).await?;
        if answers + events > 0 {
            tracing::info!(node = %node.id, answers, events, "moved work off a node out of the ring");
        }
        Ok(answers + events)
    }

    /// One pass of draining `node`: make sure it refuses new work, move what it holds, and
    /// retire it once nothing is left to move.
    async fn drain_step(&self, node: &NodeHandle, answered: bool) -> Result<()> {
        if answered {
            let confirmed = node.link.call(async |client| client.drain(rpc_context(DEFAULT_RPC_TIMEOUT)).await).await;
            if matches!(confirmed, Ok(Ok(()))) {
                node.draining_confirmed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get_or_insert_with(Instant::now);
            }
        }
        let moved = self.move_work_off(node).await?;
        let settled = node
            .draining_confirmed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some_and(|since| since.elapsed() >= DRAIN_SETTLE);
        // A node that stopped answering cannot take work either.
        let gone = node.misses.load(Ordering::Relaxed) >= MISSES_BEFORE_DEAD;
        if moved == 0 && (settled || gone) && repo::transition_node(&self.db, &node.id, &["draining"], "retired").await? {
            node.set_state(NodeState::Retired);
            tracing::info!(node = %node.id, "node drained: its work has moved; retired");
            if answered {
                let _ = node.link.call(async |client| client.retire(rpc_context(DEFAULT_RPC_TIMEOUT)).await).await;
            }
        }
        Ok(())
    }
}
