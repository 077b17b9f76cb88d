//! DESIGN.md's invariant under faults: every stored outcome equals `outcome()` over the answers
//! the API accepted before the deadline (the latest of each participant still in the event),
//! each is stored once, no accepted answer is lost and no healthy node is struck, while
//! participants answer, leave, rejoin and answer again, and event nodes are SIGKILLed,
//! SIGSTOPped and restarted, and across a server restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;

use crate::harness::{Deployment, Rng};
use crate::helpers::{on_both_databases, Backend};
use crate::scenario::{assert_no_strikes, assert_stored_once, Scenario};

on_both_databases!(outcomes_stay_right_while_nodes_are_killed, outcomes_stay_right_across_a_server_restart);

async fn outcomes_stay_right_while_nodes_are_killed(backend: Backend) {
    let Some(deployment) = Deployment::start(backend).await else { return };
    let mut rng = Rng::from_time();
    const EVENTS: usize = 20;
    let deadline = Utc::now() + chrono::Duration::seconds(35);
    let scenario = Scenario::set_up(&deployment, 4, EVENTS, deadline).await;
    scenario.leave_rejoin_answer(&mut rng).await;

    // A random node is SIGKILLed (or SIGSTOPped) every ~2 s and started (or continued) again
    // ~0.7 s later, from well before the deadline until well after it (coordinators die and
    // hang mid-finalization too).
    let deployment = Arc::new(Mutex::new(deployment));
    let stop = Arc::new(AtomicBool::new(false));
    let chaos = {
        let (deployment, stop) = (Arc::clone(&deployment), Arc::clone(&stop));
        let mut rng = Rng::seeded(rng.below(u64::MAX));
        std::thread::spawn(move || {
            let mut kills = 0;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1500 + rng.below(1000)));
                let victim = rng.below(3) as usize;
                let stop = rng.below(3) == 0;
                if stop {
                    deployment.lock().unwrap().nodes[victim].signal("STOP").expect("SIGSTOP a node");
                } else {
                    deployment.lock().unwrap().nodes[victim].kill();
                }
                std::thread::sleep(Duration::from_millis(400 + rng.below(600)));
                if stop {
                    deployment.lock().unwrap().nodes[victim].signal("CONT").expect("SIGCONT a node");
                } else {
                    deployment.lock().unwrap().nodes[victim].restart().expect("restart a killed node");
                }
                kills += 1;
            }
            kills
        })
    };

    let accepted = scenario.stream_answers(deadline, &mut rng).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, Ordering::Relaxed);
    let kills = chaos.join().expect("chaos thread");
    eprintln!("{accepted} answers accepted, {kills} node kills");
    assert!(kills >= 5, "the nodes were killed repeatedly ({kills})");
    assert!(accepted >= EVENTS, "answers flowed ({accepted})");

    scenario.assert_outcomes_match_the_oracle().await;
    let deployment = deployment.lock().unwrap();
    assert_stored_once(&deployment, EVENTS).await;
    assert_no_strikes(&deployment).await;
}

async fn outcomes_stay_right_across_a_server_restart(backend: Backend) {
    let Some(mut deployment) = Deployment::start(backend).await else { return };
    let mut rng = Rng::from_time();
    const EVENTS: usize = 4;
    let deadline = Utc::now() + chrono::Duration::seconds(12);
    let scenario = Scenario::set_up(&deployment, 2, EVENTS, deadline).await;
    scenario.leave_rejoin_answer(&mut rng).await;
    let until = Utc::now() + chrono::Duration::seconds(3);
    assert!(scenario.stream_answers(until, &mut rng).await > 0);

    // Killed between the answers and the deadline, back only after it.
    deployment.kill_server();
    tokio::time::sleep((deadline - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(2)).await;
    deployment.start_server().await;

    scenario.assert_outcomes_match_the_oracle().await;
    assert_stored_once(&deployment, EVENTS).await;
    assert_no_strikes(&deployment).await;
}
