use std::time::Duration;

use event_node::protocol::{rpc_context, EventId, NodeError, DEFAULT_RPC_TIMEOUT};
use scheduling::{outcome, EventSpec};

use crate::util::{deadline_in, spread_answers, three_nodes, TestControl};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_answer_holder_blocks_finalization_until_its_answers_move() {
    let control = TestControl::start().await;
    let mut nodes = three_nodes(&control);
    let deadline = deadline_in(2);
    let spec = EventSpec::new(deadline, 60, None).unwrap();
    let event = EventId(10);
    control.create_event(event, spec.clone(), &nodes[0]).await;
    let answers = spread_answers(&control, event, &nodes, 6, deadline).await;

    nodes[2].kill();
    // Well past the deadline the coordinator is still waiting for n3's answers, and says so
    // at WARN once the event is 5 s late: a stall is never silent.
    tokio::time::sleep((deadline - chrono::Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(6000)).await;
    assert_eq!(control.stored(event), None, "finalized on incomplete data");
    let warned = nodes[0].logged("event still undecided after its deadline");
    assert!(warned.iter().any(|line| line.contains("WARN") && line.contains("event 10") && line.contains("n3")), "no stall warning: {warned:?}");

    // The "server" moves n3's answers to n2; now the coordinator can finish.
    for answer in answers.iter().skip(2).step_by(3) {
        control.accept_answer(event, answer, &nodes[1]).await;
    }
    let stored = control.wait_for_outcome(event, Duration::from_secs(15)).await;
    assert_eq!(stored, outcome(&spec, &answers));
    assert_eq!(control.report_count(event), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_killed_before_its_deadline_rearms_from_sled_and_reports_once() {
    let control = TestControl::start().await;
    let mut nodes = three_nodes(&control);
    let deadline = deadline_in(2);
    let spec = EventSpec::new(deadline, 60, None).unwrap();
    let event = EventId(11);
    control.create_event(event, spec.clone(), &nodes[0]).await;
    // Answers on the coordinator itself too: they must survive the kill (flushed before ack).
    let answers = spread_answers(&control, event, &nodes, 6, deadline).await;

    nodes[0].kill();
    tokio::time::sleep((deadline - chrono::Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(500)).await;
    assert_eq!(control.stored(event), None);
    nodes[0].restart();

    let stored = control.wait_for_outcome(event, Duration::from_secs(15)).await;
    assert_eq!(stored, outcome(&spec, &answers));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(control.report_count(event), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_killed_after_reporting_does_not_report_again() {
    let control = TestControl::start().await;
    let mut nodes = three_nodes(&control);
    let deadline = deadline_in(2);
    let spec = EventSpec::new(deadline, 60, None).unwrap();
    let event = EventId(12);
    control.create_event(event, spec.clone(), &nodes[0]).await;
    let answers = spread_answers(&control, event, &nodes, 3, deadline).await;

    // The report is stored but its reply never comes: the coordinator dies before sealing.
    control.swallow_report_replies(true);
    let stored = control.wait_for_outcome(event, Duration::from_secs(15)).await;
    nodes[0].kill();
    control.swallow_report_replies(false);
    nodes[0].restart();

    // After the restart it learns from the manifest that an outcome exists, and only seals.
    let coordinator = nodes[0].client().await;
    let sealed = async {
        loop {
            let answer = coordinator.fetch_partial(rpc_context(DEFAULT_RPC_TIMEOUT), event).await.unwrap();
            if answer == Err(NodeError::Sealed) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), sealed).await.expect("coordinator sealed after restart");
    assert_eq!(control.report_count(event), 1, "reported again after restart");
    let sealed_with = coordinator.sealed_outcome(rpc_context(DEFAULT_RPC_TIMEOUT), event).await.unwrap().unwrap();
    assert_eq!(sealed_with.as_ref(), Some(&stored), "sealed with the stored outcome");
    assert_eq!(control.stored(event), Some(stored));
    assert_eq!(control.stored(event), Some(outcome(&spec, &answers)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_that_lost_its_data_is_reported_and_its_answers_sent_again() {
    let control = TestControl::start().await;
    let mut nodes = three_nodes(&control);
    let deadline = deadline_in(2);
    let spec = EventSpec::new(deadline, 60, None).unwrap();
    let event = EventId(11);
    control.create_event(event, spec.clone(), &nodes[0]).await;
    let answers = spread_answers(&control, event, &nodes, 6, deadline).await;

    // n2 comes back on the same address with an empty store (a redeployed host, a lost disk).
    nodes[1].kill();
    nodes[1].wipe_data();
    nodes[1].restart();
    let lost: Vec<_> = answers.iter().skip(1).step_by(3).map(|answer| answer.participant).collect();
    let mut reported = Vec::new();
    for _ in 0..200 {
        reported = control.reported_missing(event);
        if lost.iter().all(|participant| reported.contains(participant)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(lost.iter().all(|participant| reported.contains(participant)), "lost {lost:?}, reported {reported:?}");
    assert!(reported.iter().all(|participant| lost.contains(participant)), "only the lost ones: {reported:?}");
    assert_eq!(control.stored(event), None, "decided without n2's answers");

    // The "server" sends them again, to the same node; the coordinator finishes.
    for answer in answers.iter().skip(1).step_by(3) {
        control.accept_answer(event, answer, &nodes[1]).await;
    }
    assert_eq!(control.wait_for_outcome(event, Duration::from_secs(15)).await, outcome(&spec, &answers));
}
