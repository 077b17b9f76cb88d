//! Structured logs via tracing. `RUST_LOG`-style filters come from the config's `--log`.

use tracing_subscriber::EnvFilter;

pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(event_node::protocol::link::log_filter(filter)).unwrap_or_else(|error| {
        eprintln!("invalid log filter {filter:?} ({error}); using \"info\"");
        EnvFilter::new("info")
    });
    // A second init (tests start several servers in one process) is harmless: keep the first.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(true).try_init();
}
