//! Supervising a real `event-node` process: start it, learn its address from its ready line,
//! SIGKILL or SIGTERM it, and start it again on the same port and data dir. The fault tests of
//! this crate and of the server drive nodes through it; a supervisor script would do the same
//! by hand.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::protocol::NodeId;
use crate::runtime::READY_LINE_PREFIX;

/// How long a node may take from exec to its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// The most recent log lines kept per process (a long benchmark must not grow without bound).
const LOG_LINES_KEPT: usize = 10_000;

/// A free loopback port below Linux's ephemeral range (32768–60999 by default), for a process
/// that is killed and started again on the same port: the kernel never hands such a port to an
/// outgoing connection, so while the process is down no client's connection can take it (a
/// port picked by binding port 0 is an ephemeral one, and nodes reconnecting in a loop to a
/// killed server did take it).
pub fn restartable_port() -> std::io::Result<SocketAddr> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    // Test processes run side by side: each starts at its own place.
    let start = std::process::id().wrapping_mul(7_919);
    for _ in 0..COUNT {
        let port = FIRST + start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)) % COUNT;
        let address = SocketAddr::from(([127, 0, 0, 1], port as u16));
        if std::net::TcpListener::bind(address).is_ok() {
            return Ok(address);
        }
    }
    Err(std::io::Error::other("no free port between 20000 and 32000"))
}

/// One `event-node` process. Dropping it SIGKILLs the process.
pub struct NodeProcess {
    pub id: NodeId,
    /// Where it serves; fixed after the first start so a restart comes back at the same place.
    pub address: SocketAddr,
    control: SocketAddr,
    data_dir: PathBuf,
    credentials: PathBuf,
    /// `--advertise`, when the node should tell peers another address than its own.
    advertise: Option<SocketAddr>,
    binary: PathBuf,
    child: Option<Child>,
    /// Its log (stderr) so far, across restarts; also copied to this process's stderr.
    log: Arc<Mutex<VecDeque<String>>>,
}

/// Where a node process finds what it needs besides its id.
pub struct NodeSetup<'a> {
    pub binary: &'a Path,
    /// The server's control plane.
    pub control: SocketAddr,
    pub data_dir: &'a Path,
    /// The cluster credentials (`ca.crt`, `node-<id>.crt`, `node-<id>.key`).
    pub credentials: &'a Path,
    pub advertise: Option<SocketAddr>,
}

impl NodeProcess {
    /// Starts node `id` on a free loopback port as `setup` says.
    pub fn start(id: &str, setup: &NodeSetup<'_>) -> std::io::Result<Self> {
        let mut node = Self {
            id: id.to_owned(),
            address: restartable_port()?,
            control: setup.control,
            data_dir: setup.data_dir.to_owned(),
            credentials: setup.credentials.to_owned(),
            advertise: setup.advertise,
            binary: setup.binary.to_owned(),
            child: None,
            log: Arc::default(),
        };
        node.address = node.spawn()?;
        Ok(node)
    }

    /// Starts the process again (after [`Self::kill`]) on the same port and data dir.
    pub fn restart(&mut self) -> std::io::Result<()> {
        let address = self.spawn()?;
        if address != self.address {
            return Err(std::io::Error::other(format!("{} came back on {address}, not {}", self.id, self.address)));
        }
        Ok(())
    }

    fn spawn(&mut self) -> std::io::Result<SocketAddr> {
        let mut child = Command::new(&self.binary)
            .args(["--node-id", &self.id, "--log", "warn"])
            .arg("--listen")
            .arg(self.address.to_string())
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--server")
            .arg(self.control.to_string())
            .arg("--credentials")
            .arg(&self.credentials)
            .args(self.advertise.iter().flat_map(|address| ["--advertise".to_owned(), address.to_string()]))
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(stderr) = child.stderr.take() {
            let log = Arc::clone(&self.log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("{line}");
                    let mut log = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    if log.len() == LOG_LINES_KEPT {
                        log.pop_front();
                    }
                    log.push_back(line);
                }
            });
        }
        let stdout = child.stdout.take().ok_or_else(|| std::io::Error::other("stdout is not piped"))?;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix(READY_LINE_PREFIX) {
                    let _ = ready_tx.send(address.parse::<SocketAddr>());
                }
            }
        });
        let ready = ready_rx.recv_timeout(READY_TIMEOUT);
        let address = match ready {
            Ok(Ok(address)) => address,
            Ok(Err(error)) => return Err(std::io::Error::other(format!("unreadable ready line: {error}"))),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(std::io::Error::other(format!("{} printed no ready line", self.id)));
            }
        };
        self.child = Some(child);
        Ok(address)
    }

    /// The log lines (WARN and above) that contain `needle`.
    pub fn logged(&self, needle: &str) -> Vec<String> {
        let log = self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        log.iter().filter(|line| line.contains(needle)).cloned().collect()
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits up to `timeout` for the process to exit by itself (after SIGTERM, say); returns
    /// whether it did, with its exit status.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let status = self.child.as_mut().and_then(|child| child.try_wait().ok().flatten());
            if let Some(status) = status {
                self.child = None;
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a signal by name (`STOP`, `CONT`, ...) with `kill(1)`.
    pub fn signal(&self, signal: &str) -> std::io::Result<()> {
        let pid = self.pid().ok_or_else(|| std::io::Error::other("not running"))?;
        let status = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status()?;
        if !status.success() {
            return Err(std::io::Error::other(format!("kill -{signal} {pid} failed")));
        }
        if signal == "STOP" {
            // `kill` returns once the signal is queued; a caller testing a hung node must not
            // race the stop itself.
            wait_until_stopped(pid)?;
        }
        Ok(())
    }
}

/// Waits (up to 5 s) until `/proc` shows every thread of `pid` stopped.
fn wait_until_stopped(pid: u32) -> std::io::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut running = None;
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
            let stat = std::fs::read_to_string(task?.path().join("stat")).unwrap_or_default();
            // `tid (comm) state …`: the state follows the last `)`.
            let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
            if !matches!(state, Some('T' | 't' | 'Z' | 'X') | None) {
                running = state;
            }
        }
        let Some(state) = running else { return Ok(()) };
        if std::time::Instant::now() > deadline {
            return Err(std::io::Error::other(format!("{pid} not stopped after SIGSTOP (a thread in state {state})")));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        // A stopped process may ignore SIGKILL until continued: wake it first.
        let _ = self.signal("CONT");
        self.kill();
    }
}
