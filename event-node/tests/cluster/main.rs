//! Tests with real `event-node` processes on loopback ports, SIGKILLed and SIGSTOPped, and a
//! control plane inside the test that plays the server.

mod test_deadline;
mod test_faults;
mod test_health;
mod test_trust;
mod util;
