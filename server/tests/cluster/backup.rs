//! `whenly backup` while people answer, leave and rejoin, then `whenly restore` into a fresh
//! database with a fresh cluster (new credentials, event nodes with empty stores): the backup is
//! a consistent moment of every answer, and each event open at backup time is decided, by nodes
//! that never saw its answers, with the outcome `outcome()` gives over the restored answers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::StatusCode;
use scheduling::Availability;
use server::db::Db;

use crate::harness::{Deployment, Rng};
use crate::helpers::{on_both_databases, Backend, TempDir};
use crate::scenario::{assert_no_strikes, assert_stored_once, random_availability, Scenario};

on_both_databases!(a_backup_under_answers_restores_into_a_fresh_cluster_that_decides_right);

/// One accepted request of one person in one event: when it was sent and answered, and the
/// person's answer after it (`None`: none, after a leave or a rejoin).
struct Step {
    sent: Instant,
    done: Instant,
    answer: Option<Availability>,
}

/// Each (event, person)'s accepted requests, in order.
type History = Arc<Mutex<BTreeMap<(String, usize), Vec<Step>>>>;

async fn a_backup_under_answers_restores_into_a_fresh_cluster_that_decides_right(backend: Backend) {
    let Some(original) = Deployment::start(backend).await else { return };
    let mut rng = Rng::from_time();
    const EVENTS: usize = 5;
    let deadline = Utc::now() + chrono::Duration::seconds(32);
    let scenario = Scenario::set_up(&original, 3, EVENTS, deadline).await;
    let history: History = Arc::default();

    // Answers flow for 6 s; the backup is taken 2 s in, under them.
    let until = Instant::now() + Duration::from_secs(6);
    let streams: Vec<_> = (0..scenario.users.len())
        .map(|user| tokio::spawn(answer_until(scenario.users[user].1.clone(), user, codes(&scenario), until, Rng::seeded(rng.below(u64::MAX)), Arc::clone(&history))))
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let kept = TempDir::new();
    let backup = kept.path.join("whenly.backup");
    let taken_from = Instant::now();
    original.admin(&["backup", "--to", backup.to_str().unwrap()]).await;
    let taken_by = Instant::now();
    let mut accepted = 0;
    for stream in streams {
        accepted += stream.await.expect("answer stream");
    }
    assert!(accepted > 20, "answers flowed during the backup ({accepted})");
    drop(original);

    // The backup is its owner's only; a restore refuses a database that is not empty, and a
    // file that is not a backup.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o600);
    let restored = Deployment::start_restored(backend, &backup).await.expect("the backend is there");
    let again = restored.whenly_output(&["restore", "--from", backup.to_str().unwrap()]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("restore goes into"), "{again:?}");
    let not_a_backup = kept.path.join("notes.txt");
    std::fs::write(&not_a_backup, "-- MariaDB dump, or so it says\nDROP TABLE user;\n").unwrap();
    let refused = restored.whenly_output(&["restore", "--from", not_a_backup.to_str().unwrap()]);
    assert!(!refused.status.success(), "{refused:?}");

    // Every person's restored answer is one they had at some moment of the backup.
    let answers = restored_answers(&restored.database_url()).await;
    let history = history.lock().unwrap();
    for (index, (code, record)) in scenario.events.iter().enumerate() {
        let mut record = record.lock().unwrap();
        record.answers.clear();
        for user in 0..scenario.users.len() {
            let name = &scenario.users[user].0;
            let restored_answer = answers.get(&(code.clone(), name.clone())).cloned().flatten();
            let steps = history.get(&(code.clone(), user)).map(Vec::as_slice).unwrap_or_default();
            let possible = possible_answers(steps, taken_from, taken_by);
            assert!(possible.contains(&restored_answer), "event {index}, {name}: restored {restored_answer:?}, possible {possible:?}");
            if let Some(answer) = restored_answer {
                record.answers.insert(user, answer);
            }
        }
    }
    drop(history);

    // The fresh nodes hold nothing; the cluster still decides each event right, once.
    let organizer = restored.browser();
    assert_eq!(organizer.log_in("organizer", "password123").await.status(), StatusCode::OK);
    scenario.assert_outcomes_match_the_oracle_as(&organizer).await;
    assert_stored_once(&restored, EVENTS).await;
    assert_no_strikes(&restored).await;
}

fn codes(scenario: &Scenario) -> Vec<String> {
    scenario.events.iter().map(|(code, _)| code.clone()).collect()
}

/// The answers a backup taken between `from` and `by` may hold for one person: the one after
/// the last request answered before `from`, or the one after any request sent before `by`.
fn possible_answers(steps: &[Step], from: Instant, by: Instant) -> Vec<Option<Availability>> {
    let before = steps.iter().rev().find(|step| step.done < from).and_then(|step| step.answer.clone());
    let mut possible = vec![before];
    possible.extend(steps.iter().filter(|step| step.sent < by && step.done >= from).map(|step| step.answer.clone()));
    possible
}

/// One person (`user` 0 is the organizer, who only answers) answering random events until
/// `until`; guests also leave and rejoin now and then. Returns how many answers were accepted.
async fn answer_until(browser: crate::helpers::Browser, user: usize, codes: Vec<String>, until: Instant, mut rng: Rng, history: History) -> usize {
    let mut accepted = 0;
    let record = |code: &str, sent: Instant, answer: Option<Availability>| {
        history.lock().unwrap().entry((code.to_owned(), user)).or_default().push(Step { sent, done: Instant::now(), answer });
    };
    while Instant::now() < until {
        let code = &codes[rng.below(codes.len() as u64) as usize];
        let sent = Instant::now();
        if user > 0 && rng.below(6) == 0 {
            assert_eq!(browser.post(&format!("/api/v1/events/{code}/leave")).await.status(), StatusCode::NO_CONTENT);
            record(code, sent, None);
            let sent = Instant::now();
            assert_eq!(browser.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
            record(code, sent, None);
            continue;
        }
        let (body, availability) = random_availability(&mut rng);
        assert_eq!(browser.put_availability(code, &body).await.status(), StatusCode::OK);
        record(code, sent, Some(availability));
        accepted += 1;
    }
    accepted
}

/// (event code, username) → the participant's live answer in the restored database.
async fn restored_answers(database_url: &str) -> BTreeMap<(String, String), Option<Availability>> {
    const SQL: &str = "SELECT CAST(e.code AS CHAR) AS code, u.username, \
         CASE WHEN a.withdrawn_at IS NULL THEN a.intervals END AS intervals \
         FROM participant p JOIN event e ON e.event_id = p.event_id JOIN user u ON u.user_id = p.user_id \
         LEFT JOIN answer a ON a.participant_id = p.participant_id WHERE p.left_at IS NULL";
    let rows: Vec<(String, String, Option<String>)> = match Db::connect(database_url).await.unwrap() {
        Db::MySql(pool) => sqlx::query_as(SQL).fetch_all(&pool).await.unwrap(),
        Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(&pool).await.unwrap(),
    };
    rows.into_iter()
        .map(|(code, username, intervals)| ((code, username), intervals.map(|json| serde_json::from_str(&json).expect("stored intervals"))))
        .collect()
}
