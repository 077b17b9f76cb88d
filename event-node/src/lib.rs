//! A Whenly event node. Nodes hold working copies of answers in sled, coordinate events at
//! their deadlines and compute outcomes; the server talks to them over tarpc.
//!
//! - [`protocol`]: the tarpc services (`EventNode`, served here; `ControlPlane`, served by the
//!   server), their messages, and [`protocol::link`], the authenticated transport both use;
//! - [`credentials`]: the cluster CA and the certificates the links require;
//! - `store`: sled trees for answers, coordinated events and seal markers;
//! - `node`: the state the RPC handlers and the coordinator tasks share;
//! - `batch`: coordinators' control-plane calls made together, sent as one;
//! - `coordinator`: how a deadline flows (see its module doc);
//! - [`runtime`]: configuration, start-up and leaving. The `event-node` binary only parses
//!   flags and calls [`runtime::run`];
//! - [`process`]: supervising a node process (start, SIGKILL, SIGTERM, restart), for tests.

mod batch;
mod coordinator;
pub mod credentials;
mod node;
pub mod process;
pub mod protocol;
pub mod runtime;
mod store;
