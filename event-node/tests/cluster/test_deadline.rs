use std::time::Duration;

use event_node::protocol::{rpc_context, EventId, NodeError, DEFAULT_RPC_TIMEOUT};
use scheduling::{outcome, EventSpec, Outcome, ParticipantId};

use crate::util::{answer_for, deadline_in, put_answer, spread_answers, three_nodes, TestControl};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_report_the_outcome_of_all_answers() {
    let control = TestControl::start().await;
    let nodes = three_nodes(&control);
    let deadline = deadline_in(2);
    let spec = EventSpec::new(deadline, 60, None).unwrap();
    let event = EventId(1);
    control.create_event(event, spec.clone(), &nodes[0]).await;

    let answers = spread_answers(&control, event, &nodes, 9, deadline).await;

    let stored = control.wait_for_outcome(event, Duration::from_secs(15)).await;
    assert_eq!(stored, outcome(&spec, &answers));
    assert!(matches!(stored, Outcome::Scheduled { .. }), "{stored:?}");
    assert_eq!(control.report_count(event), 1);
    assert!(control.stored_at(event).unwrap() >= deadline, "decided before the deadline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_assigned_after_its_deadline_is_finalized_at_once() {
    let control = TestControl::start().await;
    let nodes = three_nodes(&control);
    let spec = EventSpec::new(deadline_in(-5), 30, None).unwrap();
    let event = EventId(2);
    // Nobody answered: the outcome is Undefined, and it is still reported.
    control.create_event(event, spec, &nodes[1]).await;
    assert_eq!(control.wait_for_outcome(event, Duration::from_secs(10)).await, Outcome::Undefined);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_reordered_writes_are_harmless_and_sealed_events_refuse_writes() {
    let control = TestControl::start().await;
    let nodes = three_nodes(&control);
    let deadline = deadline_in(2);
    let spec = EventSpec::new(deadline, 30, None).unwrap();
    let event = EventId(3);
    control.create_event(event, spec.clone(), &nodes[0]).await;
    let holder = nodes[1].client().await;
    let ctx = || rpc_context(DEFAULT_RPC_TIMEOUT);

    let (v1, v2) = (answer_for(7, 1, deadline), answer_for(8, 2, deadline));
    let v2 = scheduling::Answer { participant: ParticipantId(7), ..v2 };
    control.accept_answer(event, &v2, &nodes[1]).await;
    // The same version again: accepted, nothing changes. An older one: refused.
    put_answer(&holder, event, v2.clone()).await.unwrap();
    assert_eq!(put_answer(&holder, event, v1.clone()).await, Err(NodeError::StaleVersion { held: 2 }));
    // In one call, each answer gets its own result.
    let other = answer_for(10, 1, deadline);
    let batch = vec![(event, v1.clone()), (event, other.clone()), (event, v2.clone())];
    assert_eq!(holder.put_answers(ctx(), batch).await.unwrap(), Ok(vec![Err(NodeError::StaleVersion { held: 2 }), Ok(()), Ok(())]));
    holder.withdraw(ctx(), event, other.participant, 2).await.unwrap().unwrap();
    let partial = holder.fetch_partial(ctx(), event).await.unwrap().unwrap();
    assert_eq!(partial.answers().cloned().collect::<Vec<_>>(), vec![v2.clone()]);

    // A participant who left: withdrawn at version 3, an older put cannot bring them back.
    let leaver = answer_for(9, 1, deadline);
    put_answer(&holder, event, leaver.clone()).await.unwrap();
    holder.withdraw(ctx(), event, leaver.participant, 2).await.unwrap().unwrap();
    assert_eq!(put_answer(&holder, event, leaver).await, Err(NodeError::StaleVersion { held: 2 }));

    let stored = control.wait_for_outcome(event, Duration::from_secs(15)).await;
    assert_eq!(stored, outcome(&spec, [&v2]));

    // Sealed on the holder and on the coordinator: after reporting, the coordinator seals the
    // other nodes and then itself, so each is waited for.
    let coordinator = nodes[0].client().await;
    for (name, node) in [("holder", &holder), ("coordinator", &coordinator)] {
        let sealed = async {
            loop {
                if node.fetch_partial(ctx(), event).await.unwrap() == Err(NodeError::Sealed) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), sealed).await.unwrap_or_else(|_| panic!("{name} sealed"));
    }
    assert_eq!(holder.sealed_outcome(ctx(), event).await.unwrap(), Ok(Some(stored.clone())), "sealed with the outcome");
    let late = answer_for(7, 5, deadline);
    assert_eq!(put_answer(&holder, event, late.clone()).await, Err(NodeError::Sealed));
    assert_eq!(put_answer(&coordinator, event, late).await, Err(NodeError::Sealed));
    assert_eq!(control.report_count(event), 1);
}

/// The organizer moves the deadline: the server assigns the event again with the new spec, and
/// the coordinator's timer follows it, sooner and later, also across a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_deadline_moves_the_finalization() {
    let control = TestControl::start().await;
    let mut nodes = three_nodes(&control);
    // An hour away, then closed in a second.
    let sooner = EventId(21);
    let far = EventSpec::new(deadline_in(3600), 60, None).unwrap();
    control.create_event(sooner, far, &nodes[0]).await;
    let answers = spread_answers(&control, sooner, &nodes, 4, deadline_in(3600)).await;
    let now_spec = EventSpec::new(deadline_in(1), 90, None).unwrap();
    control.create_event(sooner, now_spec.clone(), &nodes[0]).await;
    assert_eq!(control.wait_for_outcome(sooner, Duration::from_secs(10)).await, outcome(&now_spec, &answers));

    // A second away, then moved four seconds on, and the node restarted meanwhile: it keeps
    // the new deadline, not the first one.
    let later = EventId(22);
    control.create_event(later, EventSpec::new(deadline_in(1), 30, None).unwrap(), &nodes[1]).await;
    let extended = EventSpec::new(deadline_in(5), 30, None).unwrap();
    control.create_event(later, extended.clone(), &nodes[1]).await;
    nodes[1].kill();
    nodes[1].restart();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(control.stored(later), None, "decided at the first deadline");
    control.wait_for_outcome(later, Duration::from_secs(15)).await;
    assert!(control.stored_at(later).unwrap() >= extended.deadline(), "decided before the moved deadline");
}
