//! Whenly behind nginx terminating TLS, as `docs/DEPLOY.md` says to run it: the repository's
//! own `deploy/nginx-whenly.conf` (ports and certificate paths swapped) with a throw-away
//! certificate, and `curl` as the client, from addresses other than the proxy's. Through it:
//! sign-up and log-in set a `Secure` cookie, the throttles count the client's address (not the
//! proxy's, nor one the client wrote into `X-Forwarded-For`), and a live page's stream passes
//! each change at once (no proxy buffering).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::harness::Deployment;
use crate::helpers::{event_input, intervals_tomorrow, Backend, TempDir};

const NGINX: &str = "/usr/sbin/nginx";
const SITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/nginx-whenly.conf");
/// The client's addresses (loopback, but not the proxy's 127.0.0.1).
const CLIENT: &str = "127.0.0.2";
const ANOTHER_CLIENT: &str = "127.0.0.3";

/// nginx and curl, or `None` (a failure under `CI=true`).
fn tools_present() -> bool {
    let present = Path::new(NGINX).exists() && Command::new("curl").arg("--version").output().is_ok_and(|out| out.status.success());
    if !present {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "nginx and curl are needed: run scripts/setup.sh test");
        eprintln!("skipped: nginx or curl missing (scripts/setup.sh test installs them)");
    }
    present
}

struct Nginx {
    child: Child,
    dir: TempDir,
    https: SocketAddr,
    http: SocketAddr,
}

impl Drop for Nginx {
    /// SIGTERM, so the master stops its workers too (a SIGKILLed master leaves them serving).
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    /// Starts nginx with the repository's site file in front of `upstream`.
    async fn start(upstream: SocketAddr) -> Self {
        let dir = TempDir::new();
        let (certificate, key) = throw_away_certificate(&dir.path);
        let https = event_node::process::restartable_port().unwrap();
        let http = event_node::process::restartable_port().unwrap();
        let mut site = std::fs::read_to_string(SITE).unwrap();
        for (from, to) in [
            ("server 127.0.0.1:3000;", format!("server {upstream};")),
            ("listen 443 ssl http2;", format!("listen {https} ssl http2;")),
            ("listen [::]:443 ssl http2;", String::new()),
            ("listen 80;", format!("listen {http};")),
            ("listen [::]:80;", String::new()),
            ("/etc/ssl/whenly/fullchain.pem", certificate.display().to_string()),
            ("/etc/ssl/whenly/privkey.pem", key.display().to_string()),
        ] {
            assert!(site.contains(from), "deploy/nginx-whenly.conf no longer has {from:?}: keep the test's rewrites in step");
            site = site.replace(from, &to);
        }
        let site_path = dir.path.join("whenly.conf");
        std::fs::write(&site_path, site).unwrap();
        let d = dir.path.display();
        let main = format!(
            "worker_processes 1;\nerror_log {d}/error.log warn;\npid {d}/nginx.pid;\n{user}events {{ worker_connections 256; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {site};\n}}\n",
            user = if is_root() { "user root;\n" } else { "" },
            site = site_path.display(),
        );
        let conf = dir.path.join("nginx.conf");
        std::fs::write(&conf, main).unwrap();
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(&dir.path)
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let nginx = Self { child, dir, https, http };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(https).await.is_ok() {
                return nginx;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nginx did not listen on {https}: {}", std::fs::read_to_string(nginx.dir.path.join("error.log")).unwrap_or_default());
    }

    fn origin(&self) -> String {
        format!("https://localhost:{}", self.https.port())
    }

    /// `curl` from `client` through the proxy, with `jar` for cookies: (status, headers, body).
    fn curl(&self, client: &str, jar: &Path, method: &str, path: &str, extra: &[&str]) -> (u16, String, String) {
        let output = self
            .curl_command(client, jar)
            .args(["-sS", "-i", "-X", method])
            .args(extra)
            .arg(format!("{}{path}", self.origin()))
            .output()
            .expect("run curl");
        assert!(output.status.success(), "curl {method} {path}: {}", String::from_utf8_lossy(&output.stderr));
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
        (status, head.to_owned(), body.to_owned())
    }

    fn curl_command(&self, client: &str, jar: &Path) -> Command {
        let mut command = Command::new("curl");
        command
            .args(["--interface", client, "--cacert"])
            .arg(self.dir.path.join("ca.pem"))
            .args(["--resolve", &format!("localhost:{}:127.0.0.1", self.https.port())])
            .args(["--resolve", &format!("localhost:{}:127.0.0.1", self.http.port())])
            .arg("-c")
            .arg(jar)
            .arg("-b")
            .arg(jar);
        command
    }

    /// A JSON POST as a browser on the site sends it (with its `Origin`).
    fn post_json(&self, client: &str, jar: &Path, path: &str, body: &serde_json::Value, extra: &[&str]) -> (u16, String, String) {
        let origin = format!("Origin: {}", self.origin());
        let body = body.to_string();
        let mut args = vec!["-H", "Content-Type: application/json", "-H", &origin, "--data", &body];
        args.extend_from_slice(extra);
        self.curl(client, jar, "POST", path, &args)
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// A CA and a certificate for `localhost` it signed, as PEM files in `dir` (`ca.pem`, and the
/// returned certificate and key paths).
fn throw_away_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Whenly test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let certificate = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let (certificate_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&certificate_path, certificate.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (certificate_path, key_path)
}

fn set_cookie(head: &str) -> Option<&str> {
    head.lines().find(|line| line.to_ascii_lowercase().starts_with("set-cookie: whenly_session="))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nginx_with_tls() {
    if !tools_present() {
        return;
    }
    let env = [("WHENLY_COOKIE_SECURE", "true"), ("WHENLY_TRUSTED_PROXIES", "127.0.0.1"), ("WHENLY_SIGN_UPS_PER_CLIENT", "3")];
    let deployment = Deployment::start_with_env(Backend::Sqlite, &["n1"], &env).await.expect("SQLite needs no service");
    let upstream: SocketAddr = deployment.browser().url("").trim_start_matches("http://").trim_end_matches('/').parse().unwrap();
    let nginx = Nginx::start(upstream).await;
    let jars = TempDir::new();
    let (alice, bob) = (jars.path.join("alice"), jars.path.join("bob"));

    // Plain HTTP is sent to HTTPS.
    let http = format!("http://localhost:{}/", nginx.http.port());
    let redirect = nginx.curl_command(CLIENT, &alice).args(["-sS", "-i", &http]).output().unwrap();
    let redirect = String::from_utf8_lossy(&redirect.stdout).into_owned();
    assert!(redirect.starts_with("HTTP/1.1 301") && redirect.contains("Location: https://localhost/"), "{redirect}");

    // Sign-up and log-in over TLS set a Secure, HttpOnly session cookie.
    let credentials = serde_json::json!({ "username": "alice", "password": "password123" });
    let (status, head, _) = nginx.post_json(CLIENT, &alice, "/api/v1/users/signup", &credentials, &[]);
    assert_eq!(status, 201, "{head}");
    let cookie = set_cookie(&head).expect("a session cookie");
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly"), "{cookie}");
    let (status, head, _) = nginx.post_json(CLIENT, &alice, "/api/v1/users/logout", &serde_json::json!({}), &[]);
    assert_eq!(status, 204, "{head}");
    let (status, head, _) = nginx.post_json(CLIENT, &alice, "/api/v1/users/login", &credentials, &[]);
    assert_eq!(status, 200, "{head}");
    assert!(set_cookie(&head).is_some_and(|cookie| cookie.contains("Secure")), "{head}");
    let (status, _, body) = nginx.curl(CLIENT, &alice, "GET", "/api/v1/users/me", &[]);
    assert_eq!((status, body.contains("\"alice\"")), (200, true), "{body}");

    // The throttle counts the client's own address: what it writes into X-Forwarded-For does
    // not make it someone else, and another client is not held back by it.
    for (index, forged) in ["203.0.113.7", "198.51.100.1"].iter().enumerate() {
        let body = serde_json::json!({ "username": format!("spoof{index}"), "password": "password123" });
        let header = format!("X-Forwarded-For: {forged}");
        assert_eq!(nginx.post_json(CLIENT, &bob, "/api/v1/users/signup", &body, &["-H", &header]).0, 201);
    }
    let body = serde_json::json!({ "username": "spoof9", "password": "password123" });
    let (status, head, _) = nginx.post_json(CLIENT, &bob, "/api/v1/users/signup", &body, &["-H", "X-Forwarded-For: 192.0.2.55"]);
    assert_eq!(status, 429, "a fourth sign-up from {CLIENT}: {head}");
    let body = serde_json::json!({ "username": "bob", "password": "password123" });
    assert_eq!(nginx.post_json(ANOTHER_CLIENT, &bob, "/api/v1/users/signup", &body, &[]).0, 201);

    // A live page through the proxy: each change arrives at once.
    let (status, _, created) = nginx.post_json(CLIENT, &alice, "/api/v1/events", &event_input(chrono::Duration::hours(2)), &[]);
    assert_eq!(status, 201, "{created}");
    let code = serde_json::from_str::<serde_json::Value>(&created).unwrap()["code"].as_str().unwrap().to_owned();
    let mut stream = tokio::process::Command::from(nginx.curl_command(CLIENT, &alice))
        .args(["-sS", "-N"])
        .arg(format!("{}/api/v1/events/{code}/live", nginx.origin()))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("curl the live stream");
    let mut lines = BufReader::new(stream.stdout.take().unwrap()).lines();
    let next_update = async |lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>| {
        tokio::time::timeout(Duration::from_secs(3), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line == "event: update" {
                    return;
                }
            }
            panic!("the stream ended");
        })
        .await
        .is_ok()
    };
    assert!(next_update(&mut lines).await, "the state on opening, through the proxy");
    let answer = intervals_tomorrow(&[(9, 12)]).to_string();
    let origin = format!("Origin: {}", nginx.origin());
    let (status, ..) = nginx.curl(CLIENT, &alice, "PUT", &format!("/api/v1/events/{code}/availability"), &["-H", "Content-Type: application/json", "-H", &origin, "--data", &answer]);
    assert_eq!(status, 200);
    assert!(next_update(&mut lines).await, "the change within 3 s, not held in a proxy buffer");

    // A calendar file over the proxy's usual 2 MB goes through to Whenly, which answers one
    // over its 8 MB itself, in JSON.
    let calendar = |bytes: usize| {
        let event = "BEGIN:VEVENT\r\nUID:old@example.com\r\nDTSTART:20100104T090000Z\r\nDTEND:20100104T100000Z\r\nSUMMARY:Long ago\r\nEND:VEVENT\r\n";
        let path = jars.path.join(format!("calendar-{bytes}.ics"));
        std::fs::write(&path, format!("BEGIN:VCALENDAR\r\n{}END:VCALENDAR\r\n", event.repeat(bytes / event.len()))).unwrap();
        format!("@{}", path.display())
    };
    let upload = format!("/api/v1/events/{code}/availability/from-calendar?time_zone=Europe/Berlin");
    let (status, head, body) = nginx.curl(CLIENT, &alice, "POST", &upload, &["-H", "Content-Type: text/calendar", "-H", "Expect:", "-H", &origin, "--data-binary", &calendar(3 << 20)]);
    assert_eq!(status, 200, "{head}{body}");
    let (status, _, body) = nginx.curl(CLIENT, &alice, "POST", &upload, &["-H", "Content-Type: text/calendar", "-H", "Expect:", "-H", &origin, "--data-binary", &calendar(8_500_000)]);
    assert_eq!((status, body.contains("\"too_large\"")), (413, true), "{body}");
    assert_eq!(deployment.health().await["status"], "ok");
    drop(stream);
}
