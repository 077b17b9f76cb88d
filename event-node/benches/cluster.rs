//! `cargo bench -p event-node`: three real node processes (release build) on loopback and the
//! test control plane.
//! - 1,000 events sharing one deadline: time from the deadline to each stored outcome;
//! - health RPC round trip, one call at a time;
//! - answer-put throughput with 64 calls in flight (every put flushed to sled).
//! Figures go to docs/BENCHMARKS.md.

#[allow(dead_code)]
#[path = "../tests/cluster/util.rs"]
mod util;

use std::time::{Duration, Instant};

use event_node::protocol::{rpc_context, EventId, DEFAULT_RPC_TIMEOUT};
use futures::StreamExt;
use scheduling::EventSpec;
use util::{answer_for, deadline_in, three_nodes, NodeProcess, TestControl};

const EVENTS: u64 = 1_000;
const ANSWERS_PER_EVENT: u64 = 3;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{label}: n={} p50={:?} p99={:?} max={:?}",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    );
}

#[tokio::main]
async fn main() {
    let control = TestControl::start().await;
    let nodes = three_nodes(&control);
    let clients = futures::future::join_all(nodes.iter().map(NodeProcess::client)).await;

    // Health round trip.
    let mut round_trips = Vec::new();
    for _ in 0..2_000 {
        let started = Instant::now();
        clients[0].health(rpc_context(DEFAULT_RPC_TIMEOUT)).await.unwrap();
        round_trips.push(started.elapsed());
    }
    summary("health round trip", round_trips);

    // Put throughput: 10,000 answers over 100 events, 64 calls of one answer in flight.
    let started = Instant::now();
    let total = 10_000u64;
    futures::stream::iter(0..total)
        .for_each_concurrent(64, |index| {
            let client = &clients[(index % 3) as usize];
            async move {
                let answer = answer_for(index, 1, deadline_in(3600));
                let put = client.put_answers(rpc_context(DEFAULT_RPC_TIMEOUT), vec![(EventId(1_000_000 + index % 100), answer)]).await;
                assert_eq!(put.unwrap(), Ok(vec![Ok(())]));
            }
        })
        .await;
    let elapsed = started.elapsed();
    println!("answer puts: {total} in {elapsed:?} = {:.0}/s (64 in flight, flushed)", total as f64 / elapsed.as_secs_f64());

    // 1,000 events, one deadline, coordinators round-robin, answers spread over the nodes.
    let deadline = deadline_in(20);
    let spec = EventSpec::new(deadline, 60, None).unwrap();
    for event in 0..EVENTS {
        control.create_event(EventId(event), spec.clone(), &nodes[(event % 3) as usize]).await;
        for participant in 0..ANSWERS_PER_EVENT {
            let answer = answer_for(participant, 1, deadline);
            control.accept_answer(EventId(event), &answer, &nodes[((event + participant) % 3) as usize]).await;
        }
    }
    assert!(chrono::Utc::now() < deadline, "set-up took longer than the deadline allows");
    for event in 0..EVENTS {
        control.wait_for_outcome(EventId(event), Duration::from_secs(60)).await;
    }
    let delays = (0..EVENTS)
        .map(|event| (control.stored_at(EventId(event)).unwrap() - deadline).to_std().unwrap_or_default())
        .collect();
    summary("deadline -> stored outcome, 1,000 events on 3 nodes", delays);
}
