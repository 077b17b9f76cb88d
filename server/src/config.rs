//! The whole server configuration, from flags or environment variables. Nothing else in the
//! server reads the environment.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Parser, Subcommand};

#[derive(Debug, Clone, Parser)]
#[command(name = "whenly", version, about = "Whenly: find a time that works for everyone.")]
pub struct Config {
    /// With no command, `whenly` serves; a command does one administrative job and exits.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address the web server listens on.
    #[arg(long, env = "WHENLY_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Directory for the embedded SQLite database.
    #[arg(long, env = "WHENLY_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Database URL, `mysql://user:password@host/db` or `sqlite://path`.
    /// Default: `sqlite://<data dir>/whenly.db`, created when missing.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Mark the session cookie `Secure`: set this when Whenly is served over HTTPS.
    #[arg(long, env = "WHENLY_COOKIE_SECURE")]
    pub cookie_secure: bool,

    /// Log filter in tracing's `EnvFilter` syntax, e.g. `info` or `server=debug,sqlx=warn`.
    #[arg(long, env = "WHENLY_LOG", default_value = "info")]
    pub log: String,

    /// `text` (lines for a terminal) or `json` (one object per line, for a log shipper).
    #[arg(long, env = "WHENLY_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: crate::telemetry::LogFormat,

    /// Failed log-ins allowed per account within the throttle window.
    #[arg(long, env = "WHENLY_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 5)]
    pub login_failures_per_account: u32,

    /// Failed log-ins allowed per client IP address within the throttle window.
    #[arg(long, env = "WHENLY_LOGIN_FAILURES_PER_CLIENT", default_value_t = 20)]
    pub login_failures_per_client: u32,

    /// Sign-up attempts allowed per client (an IPv4 address or an IPv6 /64) within the
    /// throttle window.
    #[arg(long, env = "WHENLY_SIGN_UPS_PER_CLIENT", default_value_t = 20)]
    pub sign_ups_per_client: u32,

    /// Reverse proxies whose `X-Forwarded-For` is believed, as addresses or CIDRs separated by
    /// commas (e.g. `127.0.0.1,10.0.0.0/8`). A request from one of them is counted against the
    /// right-most address in `X-Forwarded-For` that is not a trusted proxy. Empty: the TCP peer
    /// is the client and the header is ignored.
    #[arg(long, env = "WHENLY_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Length of the log-in throttle window, in seconds.
    #[arg(long, env = "WHENLY_LOGIN_THROTTLE_WINDOW_SECS", default_value_t = 900)]
    pub login_throttle_window_secs: u64,

    /// Address the server serves the cluster's control plane on (nodes call it). Port 0
    /// picks a free port, enough for embedded nodes.
    #[arg(long, env = "WHENLY_CONTROL_LISTEN", default_value = "127.0.0.1:4000")]
    pub control_listen: SocketAddr,

    /// Directory of the cluster's credentials: the CA and the server's certificate (and the
    /// embedded nodes'). Default: `<data dir>/cluster`, created at first start.
    #[arg(long, env = "WHENLY_CLUSTER_CREDENTIALS")]
    pub cluster_credentials: Option<PathBuf>,

    /// Separately started event nodes known before they say hello, `id=host:port` separated
    /// by commas (nodes also join at run time by saying hello). Empty: the server runs
    /// `--embedded-nodes` nodes inside its own process (the embedded default).
    #[arg(long, env = "WHENLY_NODES", value_delimiter = ',', value_parser = parse_node)]
    pub nodes: Vec<(String, SocketAddr)>,

    /// How many event nodes to run in-process when `--nodes` is empty.
    #[arg(long, env = "WHENLY_EMBEDDED_NODES", default_value_t = 3)]
    pub embedded_nodes: u16,

    /// Live page streams this process holds open at most (past it a page polls instead).
    /// Default: the open-file limit, raised to its maximum at start, less 1,024.
    #[arg(long, env = "WHENLY_MAX_LIVE_STREAMS")]
    pub max_live_streams: Option<usize>,

    /// The SMTP server mail goes through: `smtps://user:pass@host:465` (implicit TLS),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), or `smtp://host:25` (plain, for a
    /// relay on this machine). Unset: no e-mail, notifications are in-app only.
    #[arg(long, env = "WHENLY_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// The sender of Whenly's mail, e.g. `Whenly <whenly@example.org>`.
    #[arg(long, env = "WHENLY_MAIL_FROM", default_value = "Whenly <whenly@localhost>")]
    pub mail_from: String,

    /// The address people reach Whenly at, for links in mails (e.g. `https://whenly.example.org`).
    /// Default: `http://<listen>`.
    #[arg(long, env = "WHENLY_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Address of `GET /metrics` (Prometheus), apart from the public one; `off` for none.
    #[arg(long, env = "WHENLY_METRICS_LISTEN", default_value = "127.0.0.1:9464", value_parser = parse_optional_address)]
    pub metrics_listen: OptionalAddress,

    /// On SIGTERM or SIGINT: how long requests in flight may take to finish, and then the
    /// background work, in seconds (live page streams end at once, with a hint to reconnect).
    #[arg(long, env = "WHENLY_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// How long a sender holds a claimed mail before another may take it (an SMTP exchange
    /// is cut off at half of it: RFC 5321 lets a server take minutes to accept), in seconds.
    #[arg(long, env = "WHENLY_MAIL_CLAIM_SECS", default_value_t = 300, hide = true)]
    pub mail_claim_secs: u64,
}

/// What `whenly <command>` does instead of serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// The cluster's credentials (in `--cluster-credentials`).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// The event nodes the database knows (uses `--database-url`).
    #[command(subcommand)]
    Node(NodeCommand),
    /// The outbox of mails (uses `--database-url`).
    #[command(subcommand)]
    Mail(MailCommand),
    /// Writes a consistent copy of the database to FILE while the server runs (SQLite: `VACUUM
    /// INTO`; MariaDB/MySQL: `mariadb-dump --single-transaction`). The event nodes need no
    /// backup: they are rebuilt from the database.
    Backup {
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Restores a backup into an empty database (`--database-url`, or the data dir's SQLite
    /// file, which must not exist yet); start the server on it afterwards.
    Restore {
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum MailCommand {
    /// The newest 100 mails given up (refused for good, or failing for a day), with why.
    Failed,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ClusterCommand {
    /// Creates the cluster CA and the server's certificate, unless they exist.
    Init,
    /// Issues (or re-issues) a node's certificate: copy `ca.crt`, `node-<id>.crt` and
    /// `node-<id>.key` to the node's host.
    Issue { node_id: String },
}

#[derive(Debug, Clone, Subcommand)]
pub enum NodeCommand {
    /// Every node with its state and address.
    List,
    /// Drains a node: it takes no new work, its answers and events move, then it stops.
    Drain { node_id: String },
    /// Lets a quarantined node back into the ring.
    LiftQuarantine { node_id: String },
}

/// A CIDR, or a single address (a /32 or /128).
fn parse_network(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text:?} is neither an address nor a CIDR like 10.0.0.0/8"))
}

/// An address, or `off` (a plain `Option` would make clap treat the flag as optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionalAddress(pub Option<SocketAddr>);

fn parse_optional_address(text: &str) -> Result<OptionalAddress, String> {
    match text.trim() {
        "off" => Ok(OptionalAddress(None)),
        address => address.parse().map(|address| OptionalAddress(Some(address))).map_err(|e| format!("{address:?} is neither host:port nor off: {e}")),
    }
}

fn parse_node(text: &str) -> Result<(String, SocketAddr), String> {
    let (id, address) = text.split_once('=').ok_or_else(|| format!("expected id=host:port, got {text:?}"))?;
    let address = address.parse().map_err(|e| format!("bad address in {text:?}: {e}"))?;
    let id = id.trim();
    if !event_node::protocol::link::valid_node_id(id) {
        return Err(format!("{id:?} is not a node id: 1–32 of a-z 0-9 -"));
    }
    Ok((id.to_owned(), address))
}

impl Config {
    /// The configured database URL, or the embedded SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}/whenly.db", self.data_dir.display()))
    }

    /// The cluster credentials' directory.
    pub fn cluster_credentials(&self) -> PathBuf {
        self.cluster_credentials.clone().unwrap_or_else(|| self.data_dir.join("cluster"))
    }

    /// Where people reach Whenly, without a trailing slash.
    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen)).trim_end_matches('/').to_owned()
    }

    pub fn login_throttle_window(&self) -> Duration {
        Duration::from_secs(self.login_throttle_window_secs)
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn the_flags_are_consistent_and_the_defaults_parse() {
        Config::command().debug_assert();
        let config = Config::try_parse_from(["whenly"]).expect("the defaults parse");
        assert_eq!(config.metrics_listen, OptionalAddress(Some("127.0.0.1:9464".parse().unwrap())));
        let off = Config::try_parse_from(["whenly", "--metrics-listen", "off"]).unwrap();
        assert_eq!(off.metrics_listen, OptionalAddress(None));
        assert!(Config::try_parse_from(["whenly", "--metrics-listen", "nowhere"]).is_err());
    }
}
