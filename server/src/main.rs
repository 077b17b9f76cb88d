//! `whenly`: parse the config, start logging, run the server until Ctrl-C.

use std::process::ExitCode;

use clap::Parser;
use server::{config::Config, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    telemetry::init(&config.log);
    match server::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "whenly stopped");
            ExitCode::FAILURE
        }
    }
}
