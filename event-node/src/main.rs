//! `event-node`: parse flags, start logging, serve.

use std::process::ExitCode;

use clap::Parser;
use event_node::protocol::link;
use event_node::runtime::{self, NodeConfig};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let config = NodeConfig::parse();
    let filter = EnvFilter::try_new(link::log_filter(&config.log)).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    match runtime::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "event node stopped");
            ExitCode::FAILURE
        }
    }
}
