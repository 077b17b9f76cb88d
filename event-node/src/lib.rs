//! A Whenly event node. Nodes hold working copies of answers in sled, coordinate events at
//! their deadlines and compute outcomes; the server talks to them over tarpc.
//!
//! - [`protocol`]: the tarpc services (`EventNode`, served here; `ControlPlane`, served by the
//!   server) and their messages — the only part the server links;
//! - `store`: sled trees for answers, coordinated events and seal markers;
//! - `coordinator`: how a deadline flows (see its module doc);
//! - [`runtime`]: configuration and start-up. The `event-node` binary only parses flags and
//!   calls [`runtime::run`];
//! - [`process`]: supervising a node process (start, SIGKILL, restart), for fault tests.

mod coordinator;
pub mod process;
pub mod protocol;
pub mod runtime;
mod store;
