//! The node process: configuration, the RPC service, and start-up (load the credentials, open
//! sled, re-arm every deadline it coordinates, join the ring by saying hello, serve) and
//! leaving (SIGTERM asks the server to drain the node; the server retires it once its work has
//! moved, and serving stops).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use scheduling::{Answer, EventSpec, Outcome, ParticipantId, Partial};
use tarpc::context;
use tarpc::server::Channel;
use tokio::net::TcpListener;

use crate::coordinator;
use crate::credentials::{CredentialDir, CredentialError};
use crate::node::Node;
use crate::protocol::link::{self, valid_node_id, ClusterTls};
use crate::protocol::{rpc_context, EventId, EventNode, NodeError, NodeHealth, NodeId, NodeStatus, Peer, DEFAULT_RPC_TIMEOUT};
use crate::store::NodeStore;

/// How a node is started (flags or environment).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "event-node", version, about = "A Whenly event node.")]
pub struct NodeConfig {
    /// This node's id, unique in the cluster: 1–32 of `a-z 0-9 -` (e.g. `n1`). Its
    /// certificate must be issued for it.
    #[arg(long, env = "WHENLY_NODE_ID", value_parser = parse_node_id)]
    pub node_id: NodeId,

    /// Address to serve the node protocol on; port 0 picks a free port.
    #[arg(long, env = "WHENLY_NODE_LISTEN", default_value = "127.0.0.1:4100")]
    pub listen: SocketAddr,

    /// Address the server and the other nodes reach this node at. Default: the listen address
    /// (as bound); an unspecified address such as `0.0.0.0` is refused.
    #[arg(long, env = "WHENLY_NODE_ADVERTISE")]
    pub advertise: Option<SocketAddr>,

    /// Directory of this node's sled database (created when missing).
    #[arg(long, env = "WHENLY_NODE_DATA_DIR")]
    pub data_dir: PathBuf,

    /// The server's control-plane address (membership, manifests, outcome reports).
    #[arg(long, env = "WHENLY_SERVER_CONTROL")]
    pub server: SocketAddr,

    /// Directory with the cluster's `ca.crt` and this node's `node-<id>.crt` and
    /// `node-<id>.key` (made by `whenly cluster issue <id>`).
    #[arg(long, env = "WHENLY_NODE_CREDENTIALS")]
    pub credentials: PathBuf,

    /// Log filter in tracing's `EnvFilter` syntax.
    #[arg(long, env = "WHENLY_LOG", default_value = "info")]
    pub log: String,
}

fn parse_node_id(id: &str) -> Result<NodeId, String> {
    if valid_node_id(id) {
        Ok(id.to_owned())
    } else {
        Err(format!("{id:?} is not a node id: 1–32 of a-z 0-9 -, not starting or ending with -"))
    }
}

/// The line printed on stdout once the node accepts connections; supervisors and tests read
/// the bound address from it (useful with port 0).
pub const READY_LINE_PREFIX: &str = "event-node listening on ";

/// How long a node that got SIGTERM waits to be retired before it exits anyway (the server
/// may be down; nothing is lost, the database holds every answer).
const DRAIN_GIVE_UP: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum NodeRunError {
    #[error("cannot open the node store: {0}")]
    Store(NodeError),
    #[error("cannot load the cluster credentials: {0}")]
    Credentials(#[from] CredentialError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("cannot advertise {0}: peers need a concrete address and port (set --advertise)")]
    Advertise(SocketAddr),
}

/// The RPC face of a node, for one authenticated caller.
#[derive(Clone)]
struct NodeServer {
    node: Arc<Node>,
    caller: Peer,
}

impl NodeServer {
    /// Writes, assignments and membership changes come from the server only.
    fn from_server(&self) -> Result<(), NodeError> {
        if self.caller == Peer::Server { Ok(()) } else { Err(NodeError::Forbidden) }
    }

    /// New work is refused while draining: it would only have to move again.
    fn taking_work(&self) -> Result<(), NodeError> {
        self.from_server()?;
        if self.node.is_draining() { Err(NodeError::Draining) } else { Ok(()) }
    }
}

impl EventNode for NodeServer {
    async fn health(self, _: context::Context) -> NodeHealth {
        let uptime_ms = u64::try_from(self.node.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        NodeHealth { node_id: self.node.id.clone(), uptime_ms, draining: self.node.is_draining() }
    }

    async fn status(self, _: context::Context) -> NodeStatus {
        let (coordinating, answers, sealed) = self.node.store.counts();
        NodeStatus { node_id: self.node.id.clone(), coordinating, answers, sealed }
    }

    async fn assign_event(self, _: context::Context, event: EventId, spec: EventSpec) -> Result<(), NodeError> {
        self.taking_work()?;
        if self.node.store.coordinate(event, &spec).await? {
            tracing::info!(%event, deadline = %spec.deadline(), "coordinating");
        }
        arm(&self.node, event, spec);
        Ok(())
    }

    async fn put_answers(self, _: context::Context, answers: Vec<(EventId, Answer)>) -> Result<Vec<Result<(), NodeError>>, NodeError> {
        self.taking_work()?;
        Ok(self.node.store.put_answers(answers).await)
    }

    async fn withdraw(self, _: context::Context, event: EventId, participant: ParticipantId, version: u64) -> Result<(), NodeError> {
        self.from_server()?;
        self.node.store.withdraw(event, participant, version).await
    }

    async fn fetch_partial(self, _: context::Context, event: EventId) -> Result<Partial, NodeError> {
        self.node.store.partial(event)
    }

    async fn seal(self, _: context::Context, event: EventId, outcome: Outcome) -> Result<(), NodeError> {
        self.node.store.seal(event, &outcome).await
    }

    async fn sealed_outcome(self, _: context::Context, event: EventId) -> Result<Option<Outcome>, NodeError> {
        self.node.store.sealed_outcome(event)
    }

    async fn drain(self, _: context::Context) -> Result<(), NodeError> {
        self.from_server()?;
        self.node.start_draining();
        Ok(())
    }

    async fn retire(self, _: context::Context) -> Result<(), NodeError> {
        self.from_server()?;
        tracing::info!(node_id = %self.node.id, "retired by the server: its work has moved");
        self.node.retire();
        Ok(())
    }
}

/// Starts the coordinator task for `event` unless one runs already; an assignment that
/// arrives while it runs makes it run once more when it ends.
fn arm(node: &Arc<Node>, event: EventId, spec: EventSpec) {
    if let Some(mut spec) = node.begin_coordinating(event, spec) {
        let node = Arc::clone(node);
        tokio::spawn(async move {
            loop {
                coordinator::run(&node, event, &mut spec).await;
                if !node.end_coordinating(event) {
                    break;
                }
            }
        });
    }
}

/// A node bound to its port, with its credentials loaded and its store open: ready to serve.
pub struct BoundNode {
    node: Arc<Node>,
    tls: Arc<ClusterTls>,
    listener: TcpListener,
}

/// Loads the credentials, opens the store and binds the listener (port 0 picks a free port:
/// see [`BoundNode::address`]). The binary and the server's embedded nodes both start here.
pub async fn bind(config: NodeConfig) -> Result<BoundNode, NodeRunError> {
    let tls = CredentialDir::new(&config.credentials).load(Peer::Node(config.node_id.clone()))?;
    let listener = TcpListener::bind(config.listen).await.map_err(|e| NodeRunError::Bind(config.listen, e))?;
    let bound = listener.local_addr().map_err(|e| NodeRunError::Bind(config.listen, e))?;
    let advertise = config.advertise.unwrap_or(bound);
    if advertise.ip().is_unspecified() || advertise.port() == 0 {
        return Err(NodeRunError::Advertise(advertise));
    }
    let store = NodeStore::open(&config.data_dir).map_err(NodeRunError::Store)?;
    let node = Arc::new(Node::new(config.node_id, advertise, store, Arc::clone(&tls), config.server));
    Ok(BoundNode { node, tls, listener })
}

impl BoundNode {
    /// Where the listener is bound.
    pub fn address(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.node.advertise)
    }

    /// Re-arms the deadlines this node coordinates, says hello to the server, and serves
    /// until the server retires the node.
    pub async fn serve(self) -> Result<(), NodeRunError> {
        let node = self.node;
        let rearmed = node.store.coordinated().map_err(NodeRunError::Store)?;
        tracing::info!(node_id = %node.id, address = %node.advertise, rearmed = rearmed.len(), "event node ready");
        for (event, spec) in rearmed {
            arm(&node, event, spec);
        }
        tokio::spawn(say_hello(Arc::clone(&node)));
        let served = Arc::clone(&node);
        let accept = link::serve(self.listener, self.tls, move |caller, channel| {
            let server = NodeServer { node: Arc::clone(&served), caller };
            channel.execute(server.serve()).for_each(|response| async {
                tokio::spawn(response);
            })
        });
        tokio::select! {
            () = accept => {}
            () = node.retired() => {}
        }
        Ok(())
    }
}

/// Runs the node process: bind, print the ready line, serve until retired. SIGTERM asks the
/// server to drain this node first; a second SIGTERM, or no retirement within
/// [`DRAIN_GIVE_UP`], ends it at once.
pub async fn run(config: NodeConfig) -> Result<(), NodeRunError> {
    let bound = bind(config).await?;
    println!("{READY_LINE_PREFIX}{}", bound.address());
    let node = Arc::clone(&bound.node);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| NodeRunError::Bind(node.advertise, e))?;
    let serve = bound.serve();
    tokio::pin!(serve);
    tokio::select! {
        served = &mut serve => return served,
        _ = terminate.recv() => {}
    }
    tracing::info!(node_id = %node.id, "SIGTERM: asking the server to drain this node");
    node.start_draining();
    tokio::spawn(ask_to_drain(Arc::clone(&node)));
    tokio::select! {
        served = serve => served,
        _ = terminate.recv() => {
            tracing::warn!(node_id = %node.id, "second SIGTERM: exiting before the drain completed");
            Ok(())
        }
        () = tokio::time::sleep(DRAIN_GIVE_UP) => {
            tracing::warn!(node_id = %node.id, "not retired within {DRAIN_GIVE_UP:?}: exiting; the server moves the work of a node it cannot reach");
            Ok(())
        }
    }
}

/// Tells the server that this node leaves, retrying until it has heard.
async fn ask_to_drain(node: Arc<Node>) {
    retry_until_ok("drain request", || async {
        match node.control.call(async |control| control.drain(rpc_context(DEFAULT_RPC_TIMEOUT)).await).await {
            Ok(answer) => answer.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        }
    })
    .await;
}

/// Announces the node and its address to the server, retrying until the server answers.
async fn say_hello(node: Arc<Node>) {
    retry_until_ok("hello to the server", || async {
        match node.control.call(async |control| control.hello(rpc_context(DEFAULT_RPC_TIMEOUT), node.advertise).await).await {
            Ok(answer) => answer.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        }
    })
    .await;
}

async fn retry_until_ok<F, Fut>(what: &str, mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut backoff = Duration::from_millis(100);
    loop {
        match attempt().await {
            Ok(()) => return,
            Err(error) => tracing::debug!(%error, "{what} failed; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}
