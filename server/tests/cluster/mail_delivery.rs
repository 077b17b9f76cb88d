//! Mail across server processes, with the real `whenly` binary and a real SMTP server: a server
//! SIGKILLed after claiming a mail and before sending it sends it after its restart, once; two
//! servers sending from one outbox send each mail once.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::Deployment;
use crate::helpers::{on_both_databases, Backend, Browser};
use crate::mail::SmtpServer;

on_both_databases!(
    a_server_killed_between_claim_and_send_sends_the_mail_after_its_restart,
    two_servers_send_each_mail_once,
    a_mail_refused_for_good_is_given_up_and_listed_for_the_operator,
);

/// A claim lasts this long (the SMTP exchange is cut off at half of it).
const CLAIM_SECS: &str = "4";

async fn deployment(backend: Backend, smtp: &SmtpServer) -> Option<Deployment> {
    let env = [("WHENLY_SMTP_URL", smtp.url()), ("WHENLY_MAIL_CLAIM_SECS", CLAIM_SECS.to_owned()), ("WHENLY_PUBLIC_URL", "http://whenly.test".to_owned())];
    let env: Vec<(&str, &str)> = env.iter().map(|(key, value)| (*key, value.as_str())).collect();
    Deployment::start_with_env(backend, &["n1"], &env).await
}

async fn sign_up_with_address(browser: &Browser, name: &str) {
    let body = json!({ "username": name, "password": "password123", "email": format!("{name}@example.org") });
    assert_eq!(browser.post_json("/api/v1/users/signup", &body).await.status(), StatusCode::CREATED);
}

/// (attempts, state) of the one mail row for `user`.
async fn mail_row(deployment: &Deployment, username: &str) -> Option<(i32, String)> {
    let db = server::db::Db::connect(&deployment.database_url()).await.unwrap();
    const SQL: &str = "SELECT n.mail_attempts, n.mail_state FROM notification n JOIN user u ON u.user_id = n.user_id WHERE u.username = ?";
    match &db {
        server::db::Db::MySql(pool) => sqlx::query_as(SQL).bind(username).fetch_optional(pool).await.unwrap(),
        server::db::Db::Sqlite(pool) => sqlx::query_as(SQL).bind(username).fetch_optional(pool).await.unwrap(),
    }
}

async fn a_server_killed_between_claim_and_send_sends_the_mail_after_its_restart(backend: Backend) {
    let Some(smtp) = SmtpServer::start() else { return };
    let Some(mut deployment) = deployment(backend, &smtp).await else { return };
    // The SMTP server holds every connection before EHLO: the sender claims and waits.
    smtp.stall(true);
    sign_up_with_address(&deployment.browser(), "alice").await;
    let mut claimed = false;
    for _ in 0..100 {
        if mail_row(&deployment, "alice").await.is_some_and(|(attempts, state)| attempts == 1 && state == "pending") {
            claimed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(claimed, "the sender claimed the verification mail");
    deployment.kill_server();
    smtp.stall(false);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(smtp.received().is_empty(), "nothing was sent before the kill");
    deployment.start_server().await;
    // Due again when the dead process's claim ends; then sent, once.
    let mails = smtp.wait_for("alice@example.org", 1).await;
    assert_eq!(mails[0].subject, "Confirm your e-mail address for Whenly");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(mail_row(&deployment, "alice").await, Some((2, "sent".to_owned())));
}

async fn two_servers_send_each_mail_once(backend: Backend) {
    let Some(smtp) = SmtpServer::start() else { return };
    let Some(mut deployment) = deployment(backend, &smtp).await else { return };
    let other = Browser::new(deployment.start_another_server().await);
    const PEOPLE: usize = 24;
    for index in 0..PEOPLE {
        let browser = match index % 2 {
            0 => deployment.browser(),
            _ => Browser::new(other.base_url.clone()),
        };
        sign_up_with_address(&browser, &format!("person{index}")).await;
    }
    for index in 0..PEOPLE {
        smtp.wait_for(&format!("person{index}@example.org"), 1).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let received = smtp.received();
    assert_eq!(received.len(), PEOPLE, "one mail each: {:?}", received.iter().map(|mail| &mail.to).collect::<Vec<_>>());
}

async fn a_mail_refused_for_good_is_given_up_and_listed_for_the_operator(backend: Backend) {
    let Some(smtp) = SmtpServer::start() else { return };
    let Some(deployment) = deployment(backend, &smtp).await else { return };
    smtp.reject(true);
    sign_up_with_address(&deployment.browser(), "alice").await;
    let mut failed = false;
    for _ in 0..100 {
        if mail_row(&deployment, "alice").await.is_some_and(|(_, state)| state == "failed") {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(failed, "a 550 is not retried");
    assert_eq!(mail_row(&deployment, "alice").await, Some((1, "failed".to_owned())));
    let listed = deployment.admin(&["mail", "failed"]).await;
    assert!(listed.contains("verify_email") && listed.contains("550"), "{listed}");
    smtp.reject(false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(smtp.received().is_empty(), "given up is given up");
}
