//! `whenly`: parse the config, start logging, then run the server until Ctrl-C, or run one
//! administrative command.

use std::process::ExitCode;

use clap::Parser;
use server::{config::Config, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    telemetry::init(&config.log, config.log_format);
    if let Some(command) = &config.command {
        return match server::admin::run(command, &config).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("whenly: {error}");
                ExitCode::FAILURE
            }
        };
    }
    match server::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "whenly stopped");
            ExitCode::FAILURE
        }
    }
}
