//! The server with separately started `event-node` processes (production mode), killed and
//! restarted while users answer. Each test body runs on SQLite and on MariaDB.

// The HTTP helpers of the API tests; this binary uses only some of them.
#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

// The tests' SMTP server.
#[path = "../api/mail.rs"]
#[allow(dead_code)]
mod mail;

mod backup;
mod faults;
mod harness;
mod lifecycle;
mod logs;
mod proxy;
mod release;
mod mail_delivery;
mod membership;
mod scenario;
mod servers;
