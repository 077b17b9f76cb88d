//! Two `whenly` processes on one database, as behind a load balancer. What one changes the other
//! serves on its very next read (the page cache is keyed on the event's generation, which the
//! database holds), and a log-out on one ends the session on the other within about a second
//! (the session change log), though the other had the session in memory.

use std::time::{Duration, Instant};

use app::events::EventPageData;
use reqwest::StatusCode;

use crate::harness::Deployment;
use crate::helpers::{event_input, intervals_tomorrow, on_both_databases, Backend, Browser};

on_both_databases!(two_servers_serve_each_others_changes_and_log_outs);

/// The `name=value` of the session cookie a log-in set.
fn session_cookie(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    let set_cookie = response.headers()[reqwest::header::SET_COOKIE].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
}

/// A browser on `base_url` that sends `cookie` and keeps no cookies of its own.
fn with_cookie(base_url: String, cookie: &str) -> Browser {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, cookie.parse().unwrap());
    Browser { base_url, client: reqwest::Client::builder().default_headers(headers).build().unwrap() }
}

fn answered(page: &EventPageData) -> Vec<(String, bool)> {
    let participants = page.event.participants.as_ref().expect("a member sees the participants");
    participants.iter().map(|p| (p.username.clone(), p.answered)).collect()
}

fn people(list: &[(&str, bool)]) -> Vec<(String, bool)> {
    list.iter().map(|&(name, answered)| (name.to_owned(), answered)).collect()
}

async fn two_servers_serve_each_others_changes_and_log_outs(backend: Backend) {
    let Some(mut deployment) = Deployment::start(backend).await else { return };
    let other = deployment.start_another_server().await;
    let alice = deployment.browser().signed_up("alice").await;
    let code = alice.create_event(&event_input(chrono::Duration::hours(2))).await;
    let bob = deployment.browser().signed_up("bob").await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    // Alice also has a session that she uses on both servers. It is sent by hand: a cookie jar
    // knows no ports, and the first server's log-out would clear it for the other too.
    let session = session_cookie(&deployment.browser().log_in("alice", "password123").await);
    let alice_here = with_cookie(deployment.browser().base_url, &session);
    let alice_there = with_cookie(other.clone(), &session);
    assert_eq!(answered(&alice_there.event_page(&code).await), people(&[("alice", false), ("bob", false)]));

    // Bob answers on the first server: the other serves it on its next read.
    assert_eq!(bob.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    let seen = alice_there.event_page(&code).await;
    assert_eq!(answered(&seen), people(&[("alice", false), ("bob", true)]));
    assert_eq!(seen.heatmap.expect("a participant sees the heatmap").answered, 1);

    // Bob answers again, then leaves: each shows at once on the other.
    assert_eq!(bob.put_availability(&code, &intervals_tomorrow(&[(13, 15)])).await.status(), StatusCode::OK);
    assert_eq!(alice_there.event_page(&code).await.heatmap.unwrap().answered, 1);
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/leave")).await.status(), StatusCode::NO_CONTENT);
    let seen = alice_there.event_page(&code).await;
    assert_eq!(answered(&seen), people(&[("alice", false)]));
    assert_eq!(seen.heatmap.unwrap().answered, 0);

    // The organizer cancels on the other server; the first shows it.
    let cancel = alice_there.client.delete(alice_there.url(&format!("/api/v1/events/{code}"))).send().await.unwrap();
    assert_eq!(cancel.status(), StatusCode::NO_CONTENT);
    assert_eq!(alice.event(&code).await["status"], "cancelled");

    // Alice logs out on the first server; the other, which holds her session in memory, stops
    // accepting it within about a second (the bound here only stops a broken build hanging).
    assert_eq!(alice_there.whoami().await.as_deref(), Some("alice"));
    assert_eq!(alice_here.log_out().await.status(), StatusCode::NO_CONTENT);
    let logged_out = Instant::now();
    while alice_there.whoami().await.is_some() {
        assert!(logged_out.elapsed() < Duration::from_secs(10), "the other server still accepts a logged-out session");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("the other server refused the logged-out session after {:?}", logged_out.elapsed());
}
