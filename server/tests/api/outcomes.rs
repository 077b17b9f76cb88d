//! Deadlines on the embedded cluster: each event's deadline is a few seconds ahead, the nodes
//! finalize it, and the REST API shows the stored outcome.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, codes, event_input, intervals_tomorrow, on_both_databases, rfc3339, spawn_app, Backend};

on_both_databases!(
    scheduled_after_edits_and_a_leave,
    no_solution_names_who_can_come,
    nobody_answered_is_undefined,
    cancelled_stays_cancelled_past_the_deadline,
    wrong_reports_change_nothing_and_quarantine_the_node,
    answers_sent_at_once_each_get_a_version_and_decide,
);

const DEADLINE_IN: Duration = Duration::seconds(3);

fn at_tomorrow(hour: u32) -> String {
    let day = (Utc::now() + Duration::days(1)).date_naive();
    rfc3339(day.and_hms_opt(hour, 0, 0).unwrap().and_utc())
}

fn slot(start: u32, end: u32) -> Value {
    json!({ "start": at_tomorrow(start), "end": at_tomorrow(end) })
}

async fn scheduled_after_edits_and_a_leave(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let dave = app.new_browser().signed_up("dave").await;
    let mut input = event_input(DEADLINE_IN);
    // What a calendar must escape, and a description with a tab and a browser's line break.
    input["name"] = json!("Team lunch, with ;notes; ünïcödé");
    input["description"] = json!("Line one\r\n\tindented");
    let code = alice.create_event(&input).await;
    for guest in [&bob, &dave] {
        assert_eq!(guest.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    }
    assert_eq!(alice.put_availability(&code, &intervals_tomorrow(&[(8, 11)])).await.status(), StatusCode::OK);
    // Bob's first answer would leave no common hour; his edit is what counts.
    assert_eq!(bob.put_availability(&code, &intervals_tomorrow(&[(13, 15)])).await.status(), StatusCode::OK);
    assert_eq!(bob.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    // Dave's answer conflicts with everyone's, but he leaves: it no longer counts.
    assert_eq!(dave.put_availability(&code, &intervals_tomorrow(&[(15, 16)])).await.status(), StatusCode::OK);
    assert_eq!(dave.post(&format!("/api/v1/events/{code}/leave")).await.status(), StatusCode::NO_CONTENT);

    let outcome = bob.decided_outcome(&code).await;
    assert_eq!(outcome, json!({ "status": "scheduled", "slot": slot(9, 10), "common": [slot(9, 11)], "if_need_be": [], "if_need_be_count": 0 }));
    let view = alice.event(&code).await;
    assert_eq!(view["status"], "finished");
    assert_eq!(view["outcome"], outcome);
    assert_eq!(codes(&bob.my_events().await["finished"]), vec![code.as_str()]);
    // Dave left: he sees neither answers nor the outcome.
    assert_error(dave.get(&format!("/api/v1/events/{code}/outcome")).await, StatusCode::FORBIDDEN, "not_a_participant").await;
    assert_eq!(dave.event(&code).await["outcome"], Value::Null);

    // The slot as a calendar file, for participants only.
    let calendar = bob.get(&format!("/api/v1/events/{code}/calendar.ics")).await;
    assert_eq!(calendar.status(), StatusCode::OK);
    assert_eq!(calendar.headers()["content-type"], "text/calendar; charset=utf-8");
    let file = calendar.text().await.unwrap();
    let ics_time = |hour: u32| {
        let day = (Utc::now() + Duration::days(1)).date_naive();
        day.and_hms_opt(hour, 0, 0).unwrap().format("%Y%m%dT%H%M%SZ").to_string()
    };
    assert!(file.contains(&format!("\r\nDTSTART:{}\r\nDTEND:{}\r\n", ics_time(9), ics_time(10))), "{file}");
    assert!(file.contains(&format!("UID:{code}@whenly")), "{file}");
    // A strict iCalendar parser reads it back: one event with the name and the description.
    let calendar = ical::IcalParser::new(std::io::BufReader::new(file.as_bytes()))
        .next()
        .expect("one calendar")
        .unwrap_or_else(|error| panic!("{error}: {file}"));
    let property = |name: &str| {
        calendar.events[0].properties.iter().find(|property| property.name == name).and_then(|property| property.value.clone())
    };
    assert_eq!(calendar.events.len(), 1);
    assert_eq!(property("SUMMARY").as_deref(), Some("Team lunch\\, with \\;notes\\; ünïcödé"));
    assert!(property("DESCRIPTION").unwrap().starts_with("Line one\\n\tindented"), "{file}");
    assert_error(dave.get(&format!("/api/v1/events/{code}/calendar.ics")).await, StatusCode::FORBIDDEN, "not_a_participant").await;
}

async fn no_solution_names_who_can_come(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let carol = app.new_browser().signed_up("carol").await;
    let code = alice.create_event(&event_input(DEADLINE_IN)).await;
    for guest in [&bob, &carol] {
        assert_eq!(guest.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    }
    assert_eq!(alice.put_availability(&code, &intervals_tomorrow(&[(9, 10), (14, 15)])).await.status(), StatusCode::OK);
    assert_eq!(bob.put_availability(&code, &intervals_tomorrow(&[(11, 12), (14, 16)])).await.status(), StatusCode::OK);
    assert_eq!(carol.put_availability(&code, &intervals_tomorrow(&[(9, 10), (17, 18)])).await.status(), StatusCode::OK);

    // 9–10 and 14–15 both suit two of three; the earlier wins.
    let outcome = carol.decided_outcome(&code).await;
    assert_eq!(
        outcome,
        json!({ "status": "no_solution", "best_effort": {
            "slot": slot(9, 10), "available": ["alice", "carol"], "if_need_be": [], "unavailable": ["bob"],
            "available_count": 2, "if_need_be_count": 0, "unavailable_count": 1 } })
    );
    // Nothing is scheduled, so there is no calendar file.
    assert_error(alice.get(&format!("/api/v1/events/{code}/calendar.ics")).await, StatusCode::CONFLICT, "not_scheduled").await;
}

async fn nobody_answered_is_undefined(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let code = alice.create_event(&event_input(DEADLINE_IN)).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    assert_eq!(alice.decided_outcome(&code).await, json!({ "status": "undefined" }));
}

/// One outcome report (always `undefined`) through the batched call.
async fn report_one(control: &event_node::protocol::ControlPlaneClient, event: event_node::protocol::EventId) -> Result<event_node::protocol::ReportAck, event_node::protocol::ControlError> {
    let context = event_node::protocol::rpc_context(std::time::Duration::from_secs(2));
    control.report_outcomes(context, vec![(event, scheduling::Outcome::Undefined)]).await.expect("the call is answered").map(|mut acks| acks.remove(0))?
}

async fn cancelled_stays_cancelled_past_the_deadline(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let code = alice.create_event(&event_input(DEADLINE_IN)).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    assert_eq!(bob.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    let cancel = alice.client.delete(alice.url(&format!("/api/v1/events/{code}"))).send().await.unwrap();
    assert_eq!(cancel.status(), StatusCode::NO_CONTENT);
    assert_eq!(bob.decided_outcome(&code).await, json!({ "status": "cancelled" }));
    // Past the deadline the coordinator's report must not overwrite the cancellation.
    tokio::time::sleep((DEADLINE_IN + Duration::seconds(2)).to_std().unwrap()).await;
    assert_eq!(bob.decided_outcome(&code).await, json!({ "status": "cancelled" }));
    assert_eq!(alice.event(&code).await["status"], "cancelled");
}

/// The coordinator reports wrong outcomes: the stored outcome stays the database's, and the
/// third wrong report in a row takes the node out of the ring. Nobody else can report for an
/// event, and nobody can strike a node but by being that node.
async fn wrong_reports_change_nothing_and_quarantine_the_node(backend: Backend) {
    use event_node::protocol::{rpc_context, ControlError, EventId, Peer, ReportAck};
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let code = alice.create_event(&event_input(DEADLINE_IN)).await;
    assert_eq!(alice.put_availability(&code, &intervals_tomorrow(&[(9, 11)])).await.status(), StatusCode::OK);
    // The first event of a fresh database has id 1; one of the three nodes coordinates it.
    let event = EventId(1);
    let context = || rpc_context(std::time::Duration::from_secs(2));
    let mut coordinator = None;
    for _ in 0..50 {
        for id in ["n1", "n2", "n3"] {
            let client = app.control_as(Peer::Node(id.into())).await;
            // Before the deadline the coordinator is told `BeforeDeadline`, the others that
            // they do not coordinate it.
            let asked = client.manifests(context(), vec![event]).await.unwrap().map(|mut manifests| manifests.remove(0));
            if asked == Ok(Err(ControlError::BeforeDeadline)) {
                coordinator = Some((id, client));
            }
        }
        if coordinator.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (coordinator, control) = coordinator.expect("a node coordinates the event");
    let report = || report_one(&control, event);

    assert_eq!(report().await, Err(ControlError::BeforeDeadline), "nothing is decided before the deadline");
    let decided = alice.decided_outcome(&code).await;
    assert_eq!(decided["status"], "scheduled");

    // Another node, and the server's own identity, may not report for this event at all.
    let other = ["n1", "n2", "n3"].into_iter().find(|id| *id != coordinator).unwrap();
    let intruder = app.control_as(Peer::Node(other.into())).await;
    for _ in 0..3 {
        let refused = report_one(&intruder, event).await;
        assert!(matches!(refused, Err(ControlError::NotCoordinator { .. })), "{refused:?}");
    }
    let as_server = app.control_as(Peer::Server).await;
    assert_eq!(report_one(&as_server, event).await, Err(ControlError::Forbidden));

    let stored: scheduling::Outcome = {
        let ack = report().await.expect("the coordinator may report after the deadline");
        assert!(!ack.stored_now, "an outcome was stored before");
        ack.outcome
    };
    assert_ne!(stored, scheduling::Outcome::Undefined, "the server answers with what it stored, not what was reported");
    for _ in 0..2 {
        assert_eq!(report().await, Ok(ReportAck { outcome: stored.clone(), stored_now: false }));
    }
    // In a batch each event gets its own answer, and a batch past the limit gets none.
    let mixed = vec![(event, scheduling::Outcome::Undefined), (EventId(u64::MAX), scheduling::Outcome::Undefined), (EventId(424_242), scheduling::Outcome::Undefined)];
    let answers = control.report_outcomes(context(), mixed).await.unwrap().expect("a batch within the limit");
    assert_eq!(answers[0], Ok(ReportAck { outcome: stored.clone(), stored_now: false }));
    assert_eq!(answers[1..], [Err(ControlError::UnknownEvent), Err(ControlError::UnknownEvent)]);
    let too_many = vec![event; event_node::protocol::MAX_BATCH + 1];
    assert_eq!(control.manifests(context(), too_many).await.unwrap(), Err(ControlError::BatchTooLarge { max: event_node::protocol::MAX_BATCH as u32 }));
    let manifests = control.manifests(context(), vec![event, event]).await.unwrap().expect("a batch within the limit");
    for manifest in manifests {
        assert_eq!(manifest.expect("the coordinator's manifest").stored_outcome, Some(stored.clone()));
    }
    assert_eq!(alice.decided_outcome(&code).await, decided, "a wrong report changes nothing");

    let mut nodes = Value::Null;
    for _ in 0..50 {
        nodes = alice.get("/healthz").await.json::<Value>().await.unwrap()["nodes"].clone();
        if nodes[coordinator] == "quarantined" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut expected = json!({ "n1": "live", "n2": "live", "n3": "live" });
    expected[coordinator] = json!("quarantined");
    assert_eq!(nodes, expected, "only the node that reported wrongly is out");
}

/// Many answers to one event at once, several from the same participant and one from someone
/// who did not join, as a crowd saving together sends them: each is stored as its own version,
/// the outsider alone is refused, the page shows the latest answers (the same as read afresh
/// from the database), and the nodes decide on the latest versions.
async fn answers_sent_at_once_each_get_a_version_and_decide(backend: Backend) {
    const PEOPLE: usize = 12;
    const CHOICES: [(u32, u32); 3] = [(9, 12), (10, 13), (11, 14)];
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let outsider = app.new_browser().signed_up("outsider").await;
    let latecomer = app.new_browser().signed_up("latecomer").await;
    let mut people = Vec::new();
    for index in 0..PEOPLE {
        people.push(app.new_browser().signed_up(&format!("person{index}")).await);
    }
    let code = alice.create_event(&event_input(Duration::seconds(6))).await;
    for person in &people {
        assert_eq!(person.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    }
    // A page read before the burst: the snapshot later answers are applied to.
    assert_eq!(people[0].event_page(&code).await.heatmap.unwrap().answered, 0);

    let code = code.as_str();
    let saves = people.iter().flat_map(|person| CHOICES.iter().map(move |&choice| (person, choice))).map(|(person, choice)| async move {
        let response = person.put_availability(code, &intervals_tomorrow(&[choice])).await;
        assert_eq!(response.status(), StatusCode::OK);
        (response.json::<Value>().await.unwrap()["version"].as_u64().unwrap(), choice)
    });
    let outsider_answer = intervals_tomorrow(&[(9, 12)]);
    let outsider_save = outsider.put_availability(code, &outsider_answer);
    let (saved, refused) = futures::join!(futures::future::join_all(saves), outsider_save);
    assert_error(refused, StatusCode::FORBIDDEN, "not_a_participant").await;

    let mut latest = Vec::new();
    for answers in saved.chunks(CHOICES.len()) {
        let mut versions: Vec<u64> = answers.iter().map(|(version, _)| *version).collect();
        versions.sort_unstable();
        assert_eq!(versions, [1, 2, 3], "each answer of one person is its own version");
        latest.push(answers.iter().max_by_key(|(version, _)| *version).unwrap().1);
    }
    for (person, &(start, end)) in people.iter().zip(&latest) {
        let mine = person.event_page(code).await.my_answer.unwrap();
        assert_eq!(serde_json::to_value(&mine.free).unwrap(), intervals_tomorrow(&[(start, end)])["intervals"]);
        assert!(mine.if_need_be.is_empty());
    }
    let page = people[0].event_page(code).await;
    let heatmap = page.heatmap.unwrap();
    assert_eq!(heatmap.answered, PEOPLE as u32);
    assert!(page.event.participants.unwrap().iter().filter(|p| p.username != "alice").all(|p| p.answered));
    // A join moves the generation without deriving: the page is read afresh from the database.
    assert_eq!(latecomer.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    assert_eq!(people[0].event_page(code).await.heatmap.unwrap(), heatmap, "the applied answers match the stored ones");

    let start = latest.iter().map(|&(start, _)| start).max().unwrap();
    let end = latest.iter().map(|&(_, end)| end).min().unwrap();
    let outcome = alice.decided_outcome(code).await;
    assert_eq!(outcome, json!({ "status": "scheduled", "slot": slot(start, start + 1), "common": [slot(start, end)], "if_need_be": [], "if_need_be_count": 0 }));
}
