//! A real SMTP server on loopback for the mail tests: `support/smtp_server.py` (aiosmtpd, in
//! the virtualenv `scripts/setup.sh` makes), started per test, writing each accepted message to
//! a directory. The messages are read back with a real MIME parser (mail-parser). When the
//! server cannot be started the test fails under `CI=true` and says it skipped otherwise.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders};

use crate::helpers::TempDir;

pub struct SmtpServer {
    pub port: u16,
    dir: TempDir,
    child: Child,
}

/// One message the SMTP server accepted, parsed.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub message_id: String,
    pub list_unsubscribe: Option<String>,
    pub list_unsubscribe_post: Option<String>,
    /// (file name, contents) of each attachment.
    pub attachments: Vec<(String, Vec<u8>)>,
}

impl SmtpServer {
    pub fn start() -> Option<Self> {
        let venv = std::env::var("WHENLY_VENV").map(PathBuf::from).unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/whenly/venv")
        });
        let python = venv.join("bin/python");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_server.py");
        let usable = Command::new(&python).args(["-c", "import aiosmtpd"]).output().is_ok_and(|out| out.status.success());
        if !usable {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("the test SMTP server needs aiosmtpd in {}: run scripts/setup.sh test", venv.display());
            }
            eprintln!("SKIPPED: no aiosmtpd in {}; run scripts/setup.sh test", venv.display());
            return None;
        }
        let dir = TempDir::new();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .arg(&dir.path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the SMTP server");
        let mut ready = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready).unwrap();
        assert_eq!(ready.trim(), "ready", "the SMTP server did not start");
        Some(Self { port, dir, child })
    }

    /// The `--smtp-url` of this server (plain SMTP on loopback).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn switch(&self, name: &str, on: bool) {
        let path = self.dir.path.join(name);
        match on {
            true => std::fs::write(path, b"").unwrap(),
            false => {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// While on, every recipient is refused with 451 (try again later).
    pub fn refuse(&self, on: bool) {
        self.switch("refuse", on);
    }

    /// While on, every recipient is refused with 550 (no such mailbox): for good.
    #[allow(dead_code)] // the cluster tests' (a mail given up)
    pub fn reject(&self, on: bool) {
        self.switch("reject", on);
    }

    /// While on, new connections are held before their EHLO is answered.
    pub fn stall(&self, on: bool) {
        self.switch("stall", on);
    }

    /// Every message accepted so far, in order.
    pub fn received(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir.path)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
            .collect();
        files.sort();
        files.iter().map(|path| parse(&std::fs::read(path).unwrap())).collect()
    }

    /// The messages to `address`.
    pub fn to(&self, address: &str) -> Vec<Received> {
        self.received().into_iter().filter(|mail| mail.to.eq_ignore_ascii_case(address)).collect()
    }

    /// Waits until `address` has at least `count` messages (30 s at most) and returns them all.
    pub async fn wait_for(&self, address: &str, count: usize) -> Vec<Received> {
        for _ in 0..300 {
            let mails = self.to(address);
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{address} did not get {count} mail(s) within 30 s; the server holds {:?}", self.received().iter().map(|m| (&m.to, &m.subject)).collect::<Vec<_>>());
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse(raw: &[u8]) -> Received {
    let message = MessageParser::default().parse(raw).expect("a parsable message");
    let header = |name: &str| message.header_raw(name).map(|value| value.trim().to_owned());
    Received {
        to: message.to().and_then(|to| to.first()).and_then(|to| to.address()).unwrap_or_default().to_owned(),
        subject: message.subject().unwrap_or_default().to_owned(),
        text: message.body_text(0).map(|text| text.into_owned()).unwrap_or_default(),
        html: message.body_html(0).map(|html| html.into_owned()).unwrap_or_default(),
        message_id: message.message_id().unwrap_or_default().to_owned(),
        list_unsubscribe: header("List-Unsubscribe"),
        list_unsubscribe_post: header("List-Unsubscribe-Post"),
        attachments: message
            .attachments()
            .map(|part| (part.attachment_name().unwrap_or_default().to_owned(), part.contents().to_vec()))
            .collect(),
    }
}

/// The `token` query parameter of the first link in `text` that leads to `path`.
pub fn link_token(text: &str, path: &str) -> String {
    let start = text.find(&format!("{path}?token=")).unwrap_or_else(|| panic!("no {path} link in {text}"));
    let rest = &text[start + path.len() + "?token=".len()..];
    rest.split(|c: char| c.is_whitespace() || c == '>' || c == '"').next().unwrap().to_owned()
}
