//! Logs via tracing: the filter comes from `--log` (`EnvFilter` syntax), the format from
//! `--log-format`: lines for a person at a terminal, or one JSON object per line for a log
//! shipper. Either way a line written while serving a request carries the request's span, and
//! with it the request id ([`crate::http::request_id`]).

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(event_node::protocol::link::log_filter(filter)).unwrap_or_else(|error| {
        eprintln!("invalid log filter {filter:?} ({error}); using \"info\"");
        EnvFilter::new("info")
    });
    let lines = tracing_subscriber::fmt().with_env_filter(filter).with_target(true);
    // A second init (tests start several servers in one process) is harmless: keep the first.
    let _ = match format {
        LogFormat::Text => lines.try_init(),
        // Every enclosing span with its fields (the request's id among them), not only the
        // innermost one.
        LogFormat::Json => lines.json().with_current_span(false).with_span_list(true).try_init(),
    };
}
