//! The node process: configuration, the RPC service, and start-up (open sled, re-arm every
//! deadline it coordinates, announce itself to the server, serve).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{future, StreamExt};
use scheduling::{Answer, EventSpec, Outcome, ParticipantId, Partial};
use tarpc::client::RpcError;
use tarpc::context;
use tarpc::serde_transport::tcp;
use tarpc::server::{self, Channel};
use tarpc::tokio_serde::formats::Bincode;

use crate::coordinator;
use crate::protocol::{
    connect, connect_control, rpc_context, ControlPlaneClient, EventId, EventNode, EventNodeClient, EventNodeRequest,
    EventNodeResponse, NodeError, NodeHealth, NodeId, NodeStatus, DEFAULT_RPC_TIMEOUT,
};
use crate::store::NodeStore;

/// How a node is started (flags or environment).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "event-node", version, about = "A Whenly event node.")]
pub struct NodeConfig {
    /// This node's id, unique in the cluster (e.g. `n1`).
    #[arg(long, env = "WHENLY_NODE_ID")]
    pub node_id: NodeId,

    /// Address to serve the node protocol on; port 0 picks a free port.
    #[arg(long, env = "WHENLY_NODE_LISTEN", default_value = "127.0.0.1:4100")]
    pub listen: SocketAddr,

    /// Directory of this node's sled database (created when missing).
    #[arg(long, env = "WHENLY_NODE_DATA_DIR")]
    pub data_dir: PathBuf,

    /// The server's control-plane address (manifests, outcome reports).
    #[arg(long, env = "WHENLY_SERVER_CONTROL")]
    pub server: SocketAddr,

    /// Log filter in tracing's `EnvFilter` syntax.
    #[arg(long, env = "WHENLY_LOG", default_value = "info")]
    pub log: String,
}

/// The line printed on stdout once the node accepts connections; supervisors and tests read
/// the bound address from it (useful with port 0).
pub const READY_LINE_PREFIX: &str = "event-node listening on ";

#[derive(Debug, thiserror::Error)]
pub enum NodeRunError {
    #[error("cannot open the node store: {0}")]
    Store(NodeError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

/// Shared by the RPC handlers and the coordinator tasks.
pub(crate) struct Node {
    pub(crate) id: NodeId,
    pub(crate) address: SocketAddr,
    pub(crate) store: NodeStore,
    pub(crate) control: ControlLink,
    pub(crate) peers: PeerClients,
    started: Instant,
    /// Events with a live coordinator task, so a repeated assignment does not start another.
    coordinating: Mutex<HashSet<EventId>>,
}

impl Node {
    /// Starts the coordinator task for `event` unless one runs already.
    pub(crate) fn arm(self: &Arc<Self>, event: EventId, spec: EventSpec) {
        let mut running = self.coordinating.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if running.insert(event) {
            let node = Arc::clone(self);
            tokio::spawn(async move {
                coordinator::run(&node, event, spec).await;
                node.coordinating.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&event);
            });
        }
    }
}

/// The server's control plane, reconnected on demand (tarpc clients never reconnect).
pub(crate) struct ControlLink {
    address: SocketAddr,
    client: tokio::sync::Mutex<Option<ControlPlaneClient>>,
}

impl ControlLink {
    pub(crate) async fn client(&self) -> std::io::Result<ControlPlaneClient> {
        let mut held = self.client.lock().await;
        if let Some(client) = held.as_ref() {
            return Ok(client.clone());
        }
        let client = connect_control(self.address).await?;
        *held = Some(client.clone());
        Ok(client)
    }

    /// Forgets the client after a transport error so the next call reconnects.
    pub(crate) async fn reset_after(&self, error: &RpcError) {
        if is_transport_error(error) {
            *self.client.lock().await = None;
        }
    }
}

/// Clients to peer nodes by address, made on first use and dropped after transport errors.
#[derive(Default)]
pub(crate) struct PeerClients {
    clients: tokio::sync::Mutex<HashMap<SocketAddr, EventNodeClient>>,
}

impl PeerClients {
    pub(crate) async fn get(&self, address: SocketAddr) -> std::io::Result<EventNodeClient> {
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(&address) {
            return Ok(client.clone());
        }
        let client = connect(address).await?;
        clients.insert(address, client.clone());
        Ok(client)
    }

    pub(crate) async fn reset_after(&self, address: SocketAddr, error: &RpcError) {
        if is_transport_error(error) {
            self.clients.lock().await.remove(&address);
        }
    }
}

fn is_transport_error(error: &RpcError) -> bool {
    !matches!(error, RpcError::DeadlineExceeded)
}

/// The RPC face of a node.
#[derive(Clone)]
struct NodeServer(Arc<Node>);

impl EventNode for NodeServer {
    async fn health(self, _: context::Context) -> NodeHealth {
        let uptime_ms = u64::try_from(self.0.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        NodeHealth { node_id: self.0.id.clone(), uptime_ms }
    }

    async fn status(self, _: context::Context) -> NodeStatus {
        let (coordinating, answers, sealed) = self.0.store.counts();
        NodeStatus { node_id: self.0.id.clone(), coordinating, answers, sealed }
    }

    async fn assign_event(self, _: context::Context, event: EventId, spec: EventSpec) -> Result<(), NodeError> {
        if self.0.store.coordinate(event, &spec).await? {
            tracing::info!(%event, deadline = %spec.deadline(), "coordinating");
        }
        self.0.arm(event, spec);
        Ok(())
    }

    async fn put_answer(self, _: context::Context, event: EventId, answer: Answer) -> Result<(), NodeError> {
        self.0.store.put_answer(event, answer).await
    }

    async fn withdraw(self, _: context::Context, event: EventId, participant: ParticipantId, version: u64) -> Result<(), NodeError> {
        self.0.store.withdraw(event, participant, version).await
    }

    async fn fetch_partial(self, _: context::Context, event: EventId) -> Result<Partial, NodeError> {
        self.0.store.partial(event)
    }

    async fn seal(self, _: context::Context, event: EventId, outcome: Outcome) -> Result<(), NodeError> {
        self.0.store.seal(event, &outcome).await
    }

    async fn sealed_outcome(self, _: context::Context, event: EventId) -> Result<Option<Outcome>, NodeError> {
        self.0.store.sealed_outcome(event)
    }
}

/// A node bound to its port, with its store open and its deadlines re-armed: ready to serve.
pub struct BoundNode {
    node: Arc<Node>,
    listener: tarpc::serde_transport::tcp::Incoming<
        tarpc::ClientMessage<EventNodeRequest>,
        tarpc::Response<EventNodeResponse>,
        Bincode<tarpc::ClientMessage<EventNodeRequest>, tarpc::Response<EventNodeResponse>>,
        fn() -> Bincode<tarpc::ClientMessage<EventNodeRequest>, tarpc::Response<EventNodeResponse>>,
    >,
}

/// Opens the store and binds the listener (port 0 picks a free port: see
/// [`BoundNode::address`]). The binary and the server's embedded nodes both start here.
pub async fn bind(config: NodeConfig) -> Result<BoundNode, NodeRunError> {
    let store = NodeStore::open(&config.data_dir).map_err(NodeRunError::Store)?;
    let codec: fn() -> Bincode<_, _> = Bincode::default;
    let mut listener = tcp::listen(config.listen, codec).await.map_err(|e| NodeRunError::Bind(config.listen, e))?;
    listener.config_mut().max_frame_length(16 * 1024 * 1024);
    let address = listener.local_addr();
    let node = Arc::new(Node {
        id: config.node_id.clone(),
        address,
        store,
        control: ControlLink { address: config.server, client: tokio::sync::Mutex::new(None) },
        peers: PeerClients::default(),
        started: Instant::now(),
        coordinating: Mutex::new(HashSet::new()),
    });
    Ok(BoundNode { node, listener })
}

impl BoundNode {
    pub fn address(&self) -> SocketAddr {
        self.node.address
    }

    /// Re-arms the deadlines this node coordinates, says hello to the server, and serves
    /// until the task is dropped.
    pub async fn serve(self) -> Result<(), NodeRunError> {
        let node = self.node;
        let rearmed = node.store.coordinated().map_err(NodeRunError::Store)?;
        tracing::info!(node_id = %node.id, address = %node.address, rearmed = rearmed.len(), "event node ready");
        for (event, spec) in rearmed {
            node.arm(event, spec);
        }
        tokio::spawn(say_hello(Arc::clone(&node)));
        let server = NodeServer(node);
        self.listener
            // A connection that fails its handshake is dropped, not fatal.
            .filter_map(|connection| future::ready(connection.ok()))
            .map(server::BaseChannel::with_defaults)
            .for_each_concurrent(None, move |channel| {
                let server = server.clone();
                channel.execute(server.serve()).for_each(|response| async {
                    tokio::spawn(response);
                })
            })
            .await;
        Ok(())
    }
}

/// Runs the node process: bind, print the ready line, serve until stopped.
pub async fn run(config: NodeConfig) -> Result<(), NodeRunError> {
    let bound = bind(config).await?;
    println!("{READY_LINE_PREFIX}{}", bound.address());
    bound.serve().await
}

/// Announces the node to the server, retrying until the server answers.
async fn say_hello(node: Arc<Node>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let result = match node.control.client().await {
            Ok(client) => match client.hello(rpc_context(DEFAULT_RPC_TIMEOUT), node.id.clone(), node.address).await {
                Ok(answer) => answer.map_err(|e| e.to_string()),
                Err(error) => {
                    node.control.reset_after(&error).await;
                    Err(error.to_string())
                }
            },
            Err(error) => Err(error.to_string()),
        };
        match result {
            Ok(()) => return,
            Err(error) => tracing::debug!(%error, "hello to the server failed; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}
