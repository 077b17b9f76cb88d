//! The real `whenly` process stopped with SIGTERM while people use it: sign-ups in flight are
//! finished (none is answered with an error), an open event page's stream is told to come back
//! and ends, the process exits 0 within its grace period, and after a restart nothing is lost:
//! every account it said it created logs in, and every event is decided right, once.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::StatusCode;

use crate::harness::{Deployment, Rng};
use crate::helpers::{on_both_databases, Backend};
use crate::scenario::{assert_no_strikes, assert_stored_once, Scenario};

on_both_databases!(sigterm_finishes_what_is_in_flight_and_a_restart_loses_nothing);

async fn sigterm_finishes_what_is_in_flight_and_a_restart_loses_nothing(backend: Backend) {
    let Some(mut deployment) = Deployment::start(backend).await else { return };
    let mut rng = Rng::from_time();
    const EVENTS: usize = 3;
    let deadline = Utc::now() + chrono::Duration::seconds(20);
    let scenario = Scenario::set_up(&deployment, 2, EVENTS, deadline).await;
    scenario.leave_rejoin_answer(&mut rng).await;

    // The organizer's page follows the first event.
    let (code, _) = &scenario.events[0];
    let mut page = scenario.users[0].1.get(&format!("/api/v1/events/{code}/live")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let mut received = String::new();
    while !received.contains("event: update") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), page.chunk()).await.expect("the state").unwrap().expect("open");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }

    // Sign-ups (each a password hash: tens of milliseconds) from new connections, some of them
    // in flight when SIGTERM arrives.
    let sign_ups: Vec<_> = (0..16)
        .map(|index| {
            let browser = deployment.browser();
            tokio::spawn(async move {
                let name = format!("late{index}");
                let result = browser.client.post(browser.url("/api/v1/users/signup")).json(&serde_json::json!({ "username": name, "password": "password123" })).send().await;
                (name, result.map(|response| response.status()), Instant::now())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(60)).await;
    let signalled = Instant::now();
    deployment.terminate_server();

    // The page is told to come back later, and its stream ends.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = page.chunk().await.expect("the stream ends cleanly") {
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream ended: {received:?}");
    let hint = received.rsplit("\n\n").find(|block| !block.is_empty()).unwrap_or_default();
    assert!(hint.starts_with("retry: "), "the last block is a reconnection hint: {received:?}");

    let mut created = Vec::new();
    let mut not_taken = Vec::new();
    let mut finished_after_the_signal = 0;
    for sign_up in sign_ups {
        match sign_up.await.unwrap() {
            (name, Ok(status), at) => {
                assert_eq!(status, StatusCode::CREATED, "{name}: a request the server took is finished, not failed");
                finished_after_the_signal += usize::from(at > signalled);
                created.push(name);
            }
            // Never taken: refused (the listener was closed), or reset while still in the
            // listen backlog. The client's to retry; checked below that it did nothing.
            (name, Err(error), _) => {
                assert!(error.is_connect() || error.is_request(), "{name}: {error:?}");
                not_taken.push(name);
            }
        }
    }
    let status = deployment.wait_for_server_exit().await;
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(11), "stopped within the 10 s grace: {took:?}");
    assert!(finished_after_the_signal > 0, "some sign-ups were in flight at SIGTERM and finished");
    eprintln!("SIGTERM → exited in {took:?}; {} of 16 sign-ups finished, {finished_after_the_signal} after the signal", created.len());

    deployment.start_server().await;
    for name in &created {
        assert_eq!(deployment.browser().log_in(name, "password123").await.status(), StatusCode::OK, "{name} was kept");
    }
    for name in &not_taken {
        assert_eq!(deployment.browser().log_in(name, "password123").await.status(), StatusCode::UNAUTHORIZED, "{name} got no answer: nothing was done");
    }
    scenario.assert_outcomes_match_the_oracle().await;
    assert_stored_once(&deployment, EVENTS).await;
    assert_no_strikes(&deployment).await;
}
