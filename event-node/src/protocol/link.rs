//! The cluster's links: every connection between the server and a node, or between two nodes,
//! is TLS with client certificates from one cluster CA (see [`crate::credentials`]), so both
//! ends are authenticated before tarpc reads a byte. Why mutual TLS and not a pre-shared key:
//! a certificate names *one* identity, so a node can prove it is `n2` without being able to
//! pose as `n3` or as the server (with one shared key every holder could claim any id), and
//! rustls gives us a reviewed handshake instead of a home-made one.
//!
//! After the handshake the client names the identity it connects as ([`Peer`]) and the
//! acceptor checks that the verified certificate is issued for exactly that name; handlers
//! then see that [`Peer`], never an identity taken from a message.
//!
//! Everything both sides share lives here: the frame limit ([`MAX_FRAME`]), the connect and
//! handshake timeouts, the bound on connections per listener and on requests in flight per
//! connection, the accept loop ([`serve`]) and the reconnecting client ([`Link`]), which
//! never holds a lock across I/O, so one unreachable host cannot stall calls to others.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, DnsName, ServerName};
use futures::future::{BoxFuture, Shared};
use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tarpc::client::{self, RpcError};
use tarpc::serde_transport::{self, Transport};
use tarpc::server::limits::requests_per_channel::MaxRequests;
use tarpc::server::{BaseChannel, Channel};
use tarpc::tokio_serde::formats::Bincode;
use tarpc::tokio_util::codec::length_delimited::LengthDelimitedCodec;
use tarpc::{ClientMessage, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::{ControlPlaneClient, EventNodeClient, NodeId};

/// The largest frame either side sends or accepts (a partial of a very large event fits).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;
/// TCP connect plus TLS handshake, from the caller's side: a host that drops SYNs or stops
/// mid-handshake costs a caller at most this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long an acceptor waits for a new connection to authenticate before dropping it.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);
/// Connections one listener lets authenticate at once; more are closed at accept. Kept apart
/// from [`MAX_CONNECTIONS`] so strangers holding handshakes open cannot take the slots of
/// authenticated links (they can only delay new ones).
pub const MAX_HANDSHAKES: usize = 64;
/// Handshakes one source address may have under way at once on one listener: one stranger
/// cannot take all of [`MAX_HANDSHAKES`].
pub const MAX_HANDSHAKES_PER_ADDRESS: usize = 8;
/// Authenticated connections one listener serves at once; more are closed after the handshake.
pub const MAX_CONNECTIONS: usize = 256;
/// Requests in flight on one connection: the server refuses more, the client queues them.
pub const MAX_IN_FLIGHT: usize = 512;

/// Who is at the other end of an authenticated link.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Peer {
    /// The `whenly` server (its control plane, or its calls to nodes).
    Server,
    /// An event node, by id.
    Node(NodeId),
}

impl Peer {
    /// The DNS name the peer's certificate is issued for.
    pub fn dns_name(&self) -> String {
        match self {
            Peer::Server => "server.whenly.cluster".to_owned(),
            Peer::Node(id) => format!("{id}.node.whenly.cluster"),
        }
    }

    /// A short label for file names and the connection preamble: `server` or `node-<id>`.
    pub fn label(&self) -> String {
        match self {
            Peer::Server => "server".to_owned(),
            Peer::Node(id) => format!("node-{id}"),
        }
    }

    fn from_label(label: &str) -> Option<Self> {
        match label {
            "server" => Some(Peer::Server),
            _ => label.strip_prefix("node-").filter(|id| valid_node_id(id)).map(|id| Peer::Node(id.to_owned())),
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Server => f.write_str("the server"),
            Peer::Node(id) => f.write_str(id),
        }
    }
}

/// Node ids are DNS labels: 1–32 of `a-z 0-9 -`, not starting or ending with `-`.
pub fn valid_node_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

/// This process's side of the cluster's TLS: its own identity and certificate, and the
/// cluster CA it requires of everyone it talks to. Built by [`crate::credentials`].
pub struct ClusterTls {
    pub identity: Peer,
    pub(crate) connector: TlsConnector,
    pub(crate) acceptor: TlsAcceptor,
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("connect timed out after {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the peer is not who it claims to be: {0}")]
    Identity(String),
}

/// A failed call through a [`Link`]: no connection, or the RPC itself failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("cannot connect: {0}")]
    Connect(#[from] Arc<LinkError>),
    #[error("{0}")]
    Rpc(#[from] RpcError),
}

/// `filter` (tracing's `EnvFilter` syntax) with tarpc silenced unless it names tarpc: tarpc
/// logs every connection that ends without a TLS close at WARN and every request past its
/// deadline at ERROR, and in a cluster a killed node, a dropped client or a missed ping is
/// routine. Our own code logs what those mean (a node dead, a stall) at the level they deserve.
pub fn log_filter(filter: &str) -> String {
    if filter.contains("tarpc") { filter.to_owned() } else { format!("{filter},tarpc=off") }
}

fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder().max_frame_length(MAX_FRAME).new_codec()
}

type TlsServerStream = tokio_rustls::server::TlsStream<TcpStream>;
type TlsClientStream = tokio_rustls::client::TlsStream<TcpStream>;

/// The server end of one authenticated connection, ready for `execute`.
pub type ServerChannel<Req, Resp> =
    MaxRequests<BaseChannel<Req, Resp, Transport<TlsServerStream, ClientMessage<Req>, Response<Resp>, Bincode<ClientMessage<Req>, Response<Resp>>>>>;

type ClientTransport<Req, Resp> =
    Transport<TlsClientStream, Response<Resp>, ClientMessage<Req>, Bincode<Response<Resp>, ClientMessage<Req>>>;

/// Accepts connections on `listener` for as long as the returned future runs: each one must
/// complete the TLS handshake with a cluster certificate and name its identity within
/// [`HANDSHAKE_TIMEOUT`]; then `serve_one(peer, channel)` serves it. Handshakes beyond
/// [`MAX_HANDSHAKES`] and connections beyond [`MAX_CONNECTIONS`] are closed at once; a failed
/// handshake is dropped, never fatal.
pub async fn serve<Req, Resp, F, Fut>(listener: TcpListener, tls: Arc<ClusterTls>, serve_one: F)
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
    F: Fn(Peer, ServerChannel<Req, Resp>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let serve_one = Arc::new(serve_one);
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    let per_address: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(from_address) = HandshakeSlot::take(&per_address, remote.ip()) else {
            tracing::debug!(%remote, "connection refused: {MAX_HANDSHAKES_PER_ADDRESS} handshakes from this address under way");
            continue;
        };
        let Ok(handshake) = Arc::clone(&handshakes).try_acquire_owned() else {
            tracing::debug!(%remote, "connection refused: {MAX_HANDSHAKES} handshakes already under way");
            continue;
        };
        let (tls, serve_one, slots) = (Arc::clone(&tls), Arc::clone(&serve_one), Arc::clone(&slots));
        tokio::spawn(async move {
            let authenticated = tokio::time::timeout(HANDSHAKE_TIMEOUT, authenticate(&tls, stream)).await;
            drop((handshake, from_address));
            let (peer, stream) = match authenticated {
                Ok(Ok(authenticated)) => authenticated,
                Ok(Err(error)) => return tracing::debug!(%remote, %error, "connection refused"),
                Err(_) => return tracing::debug!(%remote, "connection refused: no handshake in time"),
            };
            let Ok(_slot) = slots.try_acquire_owned() else {
                return tracing::warn!(%remote, %peer, "connection refused: {MAX_CONNECTIONS} connections already open");
            };
            let transport = serde_transport::new(tarpc::tokio_util::codec::Framed::new(stream, codec()), Bincode::default());
            let channel = BaseChannel::with_defaults(transport).max_concurrent_requests(MAX_IN_FLIGHT);
            serve_one(peer, channel).await;
        });
    }
}

/// One handshake counted against its source address until dropped.
struct HandshakeSlot {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    address: IpAddr,
}

impl HandshakeSlot {
    fn take(counts: &Arc<Mutex<HashMap<IpAddr, usize>>>, address: IpAddr) -> Option<Self> {
        let mut held = counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = held.entry(address).or_insert(0);
        if *count >= MAX_HANDSHAKES_PER_ADDRESS {
            return None;
        }
        *count += 1;
        Some(Self { counts: Arc::clone(counts), address })
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let mut held = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = held.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.address);
            }
        }
    }
}

/// The acceptor's half of the handshake: TLS (rustls checks the client certificate against
/// the cluster CA), then the one-line preamble naming the client's identity, which must be a
/// name the certificate is valid for.
async fn authenticate(tls: &ClusterTls, stream: TcpStream) -> Result<(Peer, TlsServerStream), LinkError> {
    let _ = stream.set_nodelay(true);
    let mut stream = tls.acceptor.accept(stream).await?;
    let length = usize::from(stream.read_u8().await?);
    let mut label = vec![0; length];
    stream.read_exact(&mut label).await?;
    let label = String::from_utf8(label).map_err(|_| LinkError::Identity("unreadable preamble".into()))?;
    let peer = Peer::from_label(&label).ok_or_else(|| LinkError::Identity(format!("unknown identity {label:?}")))?;
    let certificate =
        stream.get_ref().1.peer_certificates().and_then(|chain| chain.first()).ok_or_else(|| LinkError::Identity("no certificate".into()))?;
    certificate_names(certificate, &peer)?;
    Ok((peer, stream))
}

/// Checks that `certificate` (already verified against the CA) is issued for `peer`.
fn certificate_names(certificate: &CertificateDer<'_>, peer: &Peer) -> Result<(), LinkError> {
    let name = DnsName::try_from(peer.dns_name()).map_err(|e| LinkError::Identity(e.to_string()))?;
    webpki::EndEntityCert::try_from(certificate)
        .and_then(|cert| cert.verify_is_valid_for_subject_name(&ServerName::DnsName(name)))
        .map_err(|e| LinkError::Identity(format!("the certificate is not {peer}'s: {e}")))
}

/// Connects to `address`, requires that it is `remote`, and names ourselves; all within
/// [`CONNECT_TIMEOUT`].
async fn connect_transport<Req, Resp>(tls: &ClusterTls, address: SocketAddr, remote: &Peer) -> Result<ClientTransport<Req, Resp>, LinkError>
where
    Req: Serialize,
    Resp: DeserializeOwned,
{
    let handshake = async {
        let stream = TcpStream::connect(address).await?;
        let _ = stream.set_nodelay(true);
        let name = ServerName::try_from(remote.dns_name()).map_err(|e| LinkError::Identity(e.to_string()))?;
        let mut stream = tls.connector.connect(name, stream).await?;
        let label = tls.identity.label();
        let length = u8::try_from(label.len()).map_err(|_| LinkError::Identity("identity too long".into()))?;
        stream.write_u8(length).await?;
        stream.write_all(label.as_bytes()).await?;
        stream.flush().await?;
        Ok::<_, LinkError>(stream)
    };
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, handshake).await.map_err(|_| LinkError::Timeout(CONNECT_TIMEOUT))??;
    Ok(serde_transport::new(tarpc::tokio_util::codec::Framed::new(stream, codec()), Bincode::default()))
}

fn client_config() -> client::Config {
    let mut config = client::Config::default();
    config.max_in_flight_requests = MAX_IN_FLIGHT;
    config
}

/// A tarpc client that [`Link`] can (re)connect.
pub trait Connect: Clone + Send + Sync + 'static {
    fn connect(tls: &ClusterTls, address: SocketAddr, remote: &Peer) -> impl Future<Output = Result<Self, LinkError>> + Send;
}

impl Connect for EventNodeClient {
    async fn connect(tls: &ClusterTls, address: SocketAddr, remote: &Peer) -> Result<Self, LinkError> {
        Ok(EventNodeClient::new(client_config(), connect_transport(tls, address, remote).await?).spawn())
    }
}

impl Connect for ControlPlaneClient {
    async fn connect(tls: &ClusterTls, address: SocketAddr, remote: &Peer) -> Result<Self, LinkError> {
        Ok(ControlPlaneClient::new(client_config(), connect_transport(tls, address, remote).await?).spawn())
    }
}

/// A connect in progress that every caller waiting for the link shares.
type PendingConnect<C> = Shared<BoxFuture<'static, Result<C, Arc<LinkError>>>>;

enum LinkState<C> {
    Idle,
    Connecting(PendingConnect<C>),
    Connected(C),
}

/// A client to one peer at one address, connected on first use and again after a transport
/// error (tarpc clients never reconnect). The lock guards only the state, never I/O: callers
/// that find no client share one connect attempt (bounded by [`CONNECT_TIMEOUT`]) instead of
/// each opening a connection, and calls to other peers never wait for it.
pub struct Link<C> {
    remote: Peer,
    address: SocketAddr,
    tls: Arc<ClusterTls>,
    state: Mutex<LinkState<C>>,
}

impl<C: Connect> Link<C> {
    pub fn new(tls: Arc<ClusterTls>, remote: Peer, address: SocketAddr) -> Self {
        Self { remote, address, tls, state: Mutex::new(LinkState::Idle) }
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LinkState<C>> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The connected client, connecting first if there is none.
    pub async fn client(&self) -> Result<C, Arc<LinkError>> {
        let pending = {
            let mut state = self.state();
            match &*state {
                LinkState::Connected(client) => return Ok(client.clone()),
                LinkState::Connecting(pending) => pending.clone(),
                LinkState::Idle => {
                    let (tls, address, remote) = (Arc::clone(&self.tls), self.address, self.remote.clone());
                    let pending = async move { C::connect(&tls, address, &remote).await.map_err(Arc::new) }.boxed().shared();
                    *state = LinkState::Connecting(pending.clone());
                    pending
                }
            }
        };
        let connected = pending.clone().await;
        let mut state = self.state();
        // Whoever sees the attempt end first records it (unless the state moved on meanwhile).
        if matches!(&*state, LinkState::Connecting(current) if current.ptr_eq(&pending)) {
            *state = match &connected {
                Ok(client) => LinkState::Connected(client.clone()),
                Err(_) => LinkState::Idle,
            };
        }
        connected
    }

    /// Runs one call on the client; a transport failure forgets the client so the next call
    /// reconnects.
    pub async fn call<T>(&self, call: impl AsyncFnOnce(&C) -> Result<T, RpcError>) -> Result<T, CallError> {
        let client = self.client().await?;
        call(&client).await.map_err(|error| {
            if matches!(error, RpcError::Shutdown | RpcError::Send(_) | RpcError::Channel(_)) {
                let mut state = self.state();
                if matches!(&*state, LinkState::Connected(_)) {
                    *state = LinkState::Idle;
                }
            }
            CallError::Rpc(error)
        })
    }
}
