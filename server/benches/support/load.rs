//! What the load benches share beyond the test harness: pinning the deployment and the load
//! generator to separate cores, and the CPU each side used.

use crate::harness::{cpu_seconds, Deployment};

/// Pins `whenly` and the event nodes to CPU 0 and this process (the load generator) to CPU 1
/// (`taskset`), so neither side's figures include the other's work.
pub fn pin(deployment: &Deployment) {
    let mut pids: Vec<u32> = deployment.nodes.iter().filter_map(|node| node.pid()).collect();
    pids.extend(deployment.server_pid());
    for pid in pids {
        taskset("0", pid);
    }
    taskset("1", std::process::id());
    println!("pinned: whenly and the event nodes on CPU 0, the load generator on CPU 1 (the database unpinned)");
}

fn taskset(cpu: &str, pid: u32) {
    let status = std::process::Command::new("taskset").args(["-a", "-p", "-c", cpu, &pid.to_string()]).output().expect("taskset runs");
    assert!(status.status.success(), "taskset failed: {}", String::from_utf8_lossy(&status.stderr));
}

/// CPU seconds this process (the load generator) has used.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds("self")
}

/// CPU seconds the event-node processes have used in all.
pub fn nodes_cpu_seconds(deployment: &Deployment) -> f64 {
    deployment.nodes.iter().filter_map(|node| node.pid()).map(|pid| cpu_seconds(&pid.to_string())).sum()
}
