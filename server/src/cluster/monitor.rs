//! The health monitor (DESIGN.md §2 step 6). Every ~500 ms it pings each node; after
//! [`MISSES_BEFORE_DEAD`] missed pings in a row the node is dead, and a node with
//! [`control::STRIKES_BEFORE_QUARANTINE`](super::control::STRIKES_BEFORE_QUARANTINE) wrong
//! outcome reports in a row is quarantined. While any node is out, each pass moves its work in
//! the database: its answers become undispatched (the reconciler sends them to live nodes) and
//! its unfinished events lose their coordinator (the reconciler assigns a live one, which
//! finalizes at once if the deadline passed). Doing this on every pass rather than once at the
//! transition also catches an acknowledgement recorded just after the node was declared dead.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use event_node::protocol::rpc_context;
use futures::future::join_all;

use super::{repo, Cluster, NodeHandle, NodeState};
use crate::error::Result;

/// How often every node is pinged.
pub(super) const PING_EVERY: Duration = Duration::from_millis(500);
/// How long a ping may take before it counts as missed.
const PING_TIMEOUT: Duration = Duration::from_millis(400);
/// Missed pings in a row after which a node is dead.
pub(super) const MISSES_BEFORE_DEAD: u32 = 3;

impl NodeHandle {
    /// Whether the node answered a health check in time.
    async fn ping(&self) -> bool {
        let Ok(client) = self.client().await else { return false };
        match client.health(rpc_context(PING_TIMEOUT)).await {
            Ok(health) => health.node_id == self.id,
            Err(error) => {
                self.forget_client(&error).await;
                false
            }
        }
    }
}

impl Cluster {
    pub(super) fn spawn_monitor(self: &Arc<Self>) {
        let cluster = Arc::clone(self);
        tokio::spawn(async move {
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
        let quarantined = repo::quarantined_nodes(&self.db).await?;
        let answered = join_all(self.nodes.iter().map(NodeHandle::ping)).await;
        for (node, answered) in self.nodes.iter().zip(answered) {
            let next = if quarantined.contains(&node.id) {
                NodeState::Quarantined
            } else if answered {
                node.misses.store(0, Ordering::Relaxed);
                NodeState::Live
            } else if node.misses.fetch_add(1, Ordering::Relaxed) + 1 >= MISSES_BEFORE_DEAD {
                NodeState::Dead
            } else {
                node.state()
            };
            if next != node.state() {
                node.state.store(next as u8, Ordering::Relaxed);
                repo::set_node_state(&self.db, &node.id, next.as_str()).await?;
                match next {
                    NodeState::Live => tracing::info!(node = %node.id, "node is back and rejoins the ring"),
                    NodeState::Dead => tracing::warn!(node = %node.id, "node missed {MISSES_BEFORE_DEAD} health checks: dead"),
                    NodeState::Quarantined => tracing::warn!(node = %node.id, "node quarantined after wrong outcome reports"),
                }
            }
        }
        for node in self.nodes.iter().filter(|node| !node.is_live()) {
            let (answers, events) = repo::move_work_off(&self.db, &node.id).await?;
            if answers + events > 0 {
                tracing::info!(node = %node.id, answers, events, "moved work off an unavailable node");
            }
        }
        Ok(())
    }
}
