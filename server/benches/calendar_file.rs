//! Reading calendar files (`POST /api/v1/events/{code}/availability/from-calendar`), one
//! request after another: a small real export (Google's, with a DST switch), a generated 5 MB
//! export of years of meetings and series, and two hostile files: rules that never produce an
//! occurrence (each costs the rule engine 100,000 empty turns, stopped by the 5 s limit) and
//! 8 MB of list values (refused before parsing). Reported: time per file, and the server's
//! resident memory after each kind (its peak shows what reading costs).
//!
//! The deployment is the production shape (release `whenly`, three release `event-node`
//! processes) on SQLite: the database plays no part. Run with
//! `cargo build --release -p event-node && cargo bench -p server --bench calendar_file`.

#[path = "../tests/api/helpers.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod helpers;
#[path = "../tests/cluster/harness.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod harness;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::json;

use harness::Deployment;
use helpers::{big_calendar, rfc3339, Backend, Browser};

#[tokio::main]
async fn main() {
    let deployment = Deployment::start(Backend::Sqlite).await.expect("SQLite needs no service");
    let person = deployment.browser();
    assert_eq!(person.sign_up("ana", "password123").await.status(), StatusCode::CREATED);
    let mut input = helpers::event_input(chrono::Duration::hours(1));
    input["window_start"] = json!(rfc3339(Utc.with_ymd_and_hms(2030, 3, 25, 0, 0, 0).unwrap()));
    input["window_end"] = json!(rfc3339(Utc.with_ymd_and_hms(2030, 4, 5, 0, 0, 0).unwrap()));
    let code = person.create_event(&input).await;

    let google = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/calendars/google.ics")).unwrap();
    let never = hostile_rules();
    let commas = format!("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20300326T100000Z\r\nRDATE:{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", ",".repeat(8_000_000)).into_bytes();
    println!("| file | size | requests | answer | p50 | max | server memory after |");
    println!("|---|---|---|---|---|---|---|");
    for (label, file, requests) in [
        ("Google export (fixture)", google, 50),
        ("5 MB export, years of meetings", big_calendar(), 10),
        ("hostile: rules that never occur", never, 3),
        ("hostile: 8 MB of list values", commas, 5),
    ] {
        let mut times = Vec::with_capacity(requests);
        let mut status = StatusCode::OK;
        for _ in 0..requests {
            let started = Instant::now();
            status = upload(&person, &code, file.clone()).await;
            times.push(started.elapsed());
        }
        times.sort();
        let size = format!("{:.1} MB", file.len() as f64 / 1e6);
        println!("| {label} | {size} | {requests} | {status} | {} | {} | {} |", ms(times[times.len() / 2]), ms(times[times.len() - 1]), deployment.server_memory());
    }
}

async fn upload(person: &Browser, code: &str, file: Vec<u8>) -> StatusCode {
    let url = person.url(&format!("/api/v1/events/{code}/availability/from-calendar?time_zone=Europe/Berlin"));
    person.client.post(url).body(file).send().await.unwrap().status()
}

/// Daily series that can never occur (30 February): 50,000, under the line cap.
fn hostile_rules() -> Vec<u8> {
    let mut file = String::from("BEGIN:VCALENDAR\r\n");
    for n in 0..50_000 {
        file.push_str(&format!("BEGIN:VEVENT\r\nUID:{n}\r\nDTSTART:20000101T000000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\r\nEND:VEVENT\r\n"));
    }
    file.push_str("END:VCALENDAR\r\n");
    file.into_bytes()
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
