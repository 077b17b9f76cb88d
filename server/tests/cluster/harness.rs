//! A whole production-shaped deployment made of real processes: the `whenly` binary with no
//! embedded nodes, `event-node` binaries that join it by saying hello (three at first, more
//! at run time), cluster credentials made with the `whenly cluster` commands, and SQLite or a
//! fresh MariaDB database. Any process can be SIGKILLed, SIGSTOPped, SIGTERMed and started
//! again on the same ports and data.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use event_node::process::{NodeProcess, NodeSetup};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, Browser, TempDir, TestDatabase};

/// The `event-node` binary `cargo test --workspace` builds next to this test.
fn event_node_binary() -> PathBuf {
    let test_exe = std::env::current_exe().expect("test executable path");
    let target_profile_dir = test_exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps/<test>");
    let binary = target_profile_dir.join("event-node");
    assert!(
        binary.exists(),
        "{} is missing: build it first (`cargo test --workspace` or `cargo build -p event-node`)",
        binary.display()
    );
    binary
}

/// The server is killed and started again on its ports: see `restartable_port`.
fn free_loopback_port() -> SocketAddr {
    event_node::process::restartable_port().expect("a free port")
}

pub struct Deployment {
    pub nodes: Vec<NodeProcess>,
    server: Option<Child>,
    /// More servers on the same database, cluster and nodes ([`Deployment::start_another_server`]).
    others: Vec<Child>,
    listen: SocketAddr,
    control: SocketAddr,
    pub database: TestDatabase,
    pub data_dir: TempDir,
    /// More environment for every `whenly` process (e.g. `WHENLY_SMTP_URL`).
    env: Vec<(String, String)>,
    /// Where the server's stdout and stderr go (default: the test's).
    server_output: Option<PathBuf>,
}

impl Deployment {
    /// Starts three nodes and the server; `None` when MariaDB is wanted but absent outside CI.
    pub async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, &["n1", "n2", "n3"]).await
    }

    /// Starts the named nodes and the server, and waits until every node is live.
    pub async fn start_with(backend: Backend, node_ids: &[&str]) -> Option<Self> {
        Self::start_with_env(backend, node_ids, &[]).await
    }

    /// [`Deployment::start_with`], every `whenly` process also given `env`.
    pub async fn start_with_env(backend: Backend, node_ids: &[&str], env: &[(&str, &str)]) -> Option<Self> {
        Self::start_from(backend, node_ids, env, None).await
    }

    /// A fresh deployment (new database, credentials and nodes) whose database is first
    /// restored from `backup` with `whenly restore`.
    #[allow(dead_code)]
    pub async fn start_restored(backend: Backend, backup: &std::path::Path) -> Option<Self> {
        Self::start_from(backend, &["n1", "n2", "n3"], &[], Some(backup)).await
    }

    async fn start_from(backend: Backend, node_ids: &[&str], env: &[(&str, &str)], restore: Option<&std::path::Path>) -> Option<Self> {
        let database = match backend {
            Backend::Sqlite => TestDatabase::Sqlite,
            Backend::MariaDb => TestDatabase::create_mariadb().await?,
        };
        let data_dir = TempDir::new();
        let env = env.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect();
        let mut deployment = Self {
            nodes: Vec::new(),
            server: None,
            others: Vec::new(),
            listen: free_loopback_port(),
            control: free_loopback_port(),
            database,
            data_dir,
            env,
            server_output: None,
        };
        if let Some(backup) = restore {
            deployment.admin(&["restore", "--from", backup.to_str().expect("a UTF-8 path")]).await;
        }
        deployment.admin(&["cluster", "init"]).await;
        for id in node_ids {
            deployment.add_node(id, None).await;
        }
        deployment.start_server().await;
        for id in node_ids {
            deployment.wait_for_node(id, "live").await;
        }
        Some(deployment)
    }

    fn credentials(&self) -> PathBuf {
        self.data_dir.path.join("credentials")
    }

    /// The cluster credentials `whenly cluster init` made for this deployment.
    #[allow(dead_code)]
    pub fn credentials_path(&self) -> PathBuf {
        self.credentials()
    }

    /// Where the server's control plane listens.
    #[allow(dead_code)]
    pub fn control_address(&self) -> SocketAddr {
        self.control
    }

    /// Issues node `id`'s certificate (`whenly cluster issue`) and starts it; it joins the
    /// ring by itself. `advertise` overrides the address it tells the server and its peers.
    pub async fn add_node(&mut self, id: &str, advertise: Option<SocketAddr>) -> usize {
        self.admin(&["cluster", "issue", id]).await;
        let binary = event_node_binary();
        let data_dir = self.data_dir.path.join(id);
        let credentials = self.credentials();
        let setup = NodeSetup { binary: &binary, control: self.control, data_dir: &data_dir, credentials: &credentials, advertise };
        self.nodes.push(NodeProcess::start(id, &setup).expect("start event-node"));
        self.nodes.len() - 1
    }

    /// Runs `whenly <args>` (an administrative command) against this deployment's database
    /// and credentials, and returns its stdout; it must succeed.
    pub async fn admin(&self, args: &[&str]) -> String {
        let output = self.whenly_command().args(args).output().expect("run whenly");
        assert!(output.status.success(), "whenly {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs `whenly <args>` and returns what it did, success or not.
    #[allow(dead_code)]
    pub fn whenly_output(&self, args: &[&str]) -> std::process::Output {
        self.whenly_command().args(args).output().expect("run whenly")
    }

    fn whenly_command(&self) -> Command {
        self.whenly_command_on(self.listen, self.control, "server")
    }

    /// `whenly` listening on `listen` and `control`, with `data_dir` under the deployment's.
    fn whenly_command_on(&self, listen: SocketAddr, control: SocketAddr, data_dir: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_whenly"));
        command
            // The workspace root, where the Leptos site configuration (Cargo.toml) is.
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            // What cargo-leptos would set; the rest of the site configuration has defaults.
            .env("LEPTOS_OUTPUT_NAME", "whenly")
            // No site package: these servers are driven through the API, and a package built
            // for another profile (hashed names, its hash.txt beside another binary) would
            // rightly be refused at start.
            .env("LEPTOS_SITE_ROOT", self.data_dir.path.join("no-site"))
            .env("WHENLY_LISTEN", listen.to_string())
            .env("WHENLY_CONTROL_LISTEN", control.to_string())
            .env("WHENLY_EMBEDDED_NODES", "0")
            // Many servers run side by side: each its own metrics port.
            .env("WHENLY_METRICS_LISTEN", "127.0.0.1:0")
            .env_remove("WHENLY_NODES")
            .env("WHENLY_CLUSTER_CREDENTIALS", self.credentials())
            .env("WHENLY_DATA_DIR", self.data_dir.path.join(data_dir))
            // Every simulated person signs up from 127.0.0.1.
            .env("WHENLY_SIGN_UPS_PER_CLIENT", "1000000")
            // Warnings and errors only, shown with the test's output (a bench profiling the
            // server may ask for more with `WHENLY_BENCH_SERVER_LOG`).
            .env("WHENLY_LOG", std::env::var("WHENLY_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".to_owned()));
        match self.database.url() {
            Some(url) => command.env("DATABASE_URL", url),
            None => command.env_remove("DATABASE_URL"),
        };
        command.envs(self.env.iter().map(|(key, value)| (key, value)));
        command
    }

    /// `/healthz` as JSON.
    pub async fn health(&self) -> Value {
        let response = reqwest::get(format!("http://{}/healthz", self.listen)).await.expect("GET /healthz");
        response.json().await.expect("health JSON")
    }

    /// Waits (up to 30 s) until `/healthz` shows node `id` in `state`.
    pub async fn wait_for_node(&self, id: &str, state: &str) {
        let mut health = Value::Null;
        for _ in 0..300 {
            health = self.health().await;
            if health["nodes"][id] == state {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{id} did not become {state} within 30 s: {health}");
    }

    pub fn browser(&self) -> Browser {
        Browser::new(format!("http://{}", self.listen))
    }

    /// The URL the server's database has (for checks the API does not expose).
    pub fn database_url(&self) -> String {
        self.database
            .url()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.path.join("server").join("whenly.db").display()))
    }

    /// Starts the `whenly` binary (again) on the same ports, data dir and database, and waits
    /// until `/healthz` answers.
    pub async fn start_server(&mut self) {
        let mut command = self.whenly_command();
        if let Some(path) = &self.server_output {
            let file = std::fs::File::create(path).expect("the server's log file");
            command.stdout(file.try_clone().expect("clone a file handle")).stderr(file);
        }
        self.server = Some(command.spawn().expect("start whenly"));
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(response) = client.get(format!("http://{}/healthz", self.listen)).send().await {
                if response.status() == StatusCode::OK {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("whenly did not become healthy within 30 s");
    }

    /// Starts another `whenly` process on the same database, cluster credentials and nodes, with
    /// its own ports and data dir, as a second server behind a load balancer runs; returns its
    /// base URL once it is healthy. It is killed with the deployment.
    #[allow(dead_code)]
    pub async fn start_another_server(&mut self) -> String {
        let listen = free_loopback_port();
        let mut command = self.whenly_command_on(listen, free_loopback_port(), &format!("server{}", self.others.len() + 2));
        command.env("DATABASE_URL", self.database_url());
        self.others.push(command.spawn().expect("start another whenly"));
        let base_url = format!("http://{listen}");
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(response) = client.get(format!("{base_url}/healthz")).send().await {
                if response.status() == StatusCode::OK {
                    return base_url;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("another whenly did not become healthy within 30 s");
    }

    /// The server process's id while it runs.
    #[allow(dead_code)]
    pub fn server_pid(&self) -> Option<u32> {
        self.server.as_ref().map(Child::id)
    }

    /// The server's resident memory now and at its peak (VmRSS, VmHWM), for the benches.
    #[allow(dead_code)]
    pub fn server_memory(&self) -> String {
        let pid = self.server_pid().expect("whenly runs");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| status.lines().find_map(|line| line.strip_prefix(name)).map_or_else(|| "?".to_owned(), |value| value.trim().to_owned());
        format!("RSS {} (peak {})", field("VmRSS:"), field("VmHWM:"))
    }

    /// CPU time the server process has used so far, user and system, in seconds (for the
    /// benches; `/proc/<pid>/stat` counts in ticks of 1/100 s on Linux).
    #[allow(dead_code)]
    pub fn server_cpu_seconds(&self) -> f64 {
        cpu_seconds(&self.server_pid().expect("whenly runs").to_string())
    }

    /// Sends the server SIGTERM; [`Deployment::wait_for_server_exit`] then waits for it.
    #[allow(dead_code)]
    pub fn terminate_server(&mut self) {
        let pid = self.server_pid().expect("whenly runs");
        let status = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to 30 s for the server to exit by itself; returns its exit status.
    #[allow(dead_code)]
    pub async fn wait_for_server_exit(&mut self) -> std::process::ExitStatus {
        let mut server = self.server.take().expect("whenly runs");
        for _ in 0..1500 {
            if let Some(status) = server.try_wait().expect("wait for whenly") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = server.kill();
        panic!("whenly did not exit within 30 s");
    }

    /// From the next [`Deployment::start_server`] on, the server's output goes to `path`.
    #[allow(dead_code)]
    pub fn log_server_to(&mut self, path: PathBuf) {
        self.server_output = Some(path);
    }

    /// SIGKILLs the server process.
    pub fn kill_server(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for mut other in self.others.drain(..) {
            let _ = other.kill();
            let _ = other.wait();
        }
        self.kill_server();
    }
}

/// A small deterministic generator (xorshift64*): the tests print their seed so a failing
/// schedule of kills and answers can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn from_time() -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
        let seed = std::env::var("WHENLY_TEST_SEED").ok().and_then(|seed| seed.parse().ok()).unwrap_or(nanos | 1);
        eprintln!("random seed: WHENLY_TEST_SEED={seed}");
        Self(seed)
    }

    pub fn seeded(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }
}

/// CPU seconds (user and system) process `pid` has used, from `/proc/{pid}/stat`.
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesized command name: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |index: usize| fields.get(index - 3).and_then(|value| value.parse::<f64>().ok()).unwrap_or_default();
    (ticks(14) + ticks(15)) / 100.0
}
