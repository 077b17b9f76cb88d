//! Log-in throttling: after too many *failed* log-ins for one account, or from one client IP,
//! within a window, further attempts are refused until the window ends. Counting failures
//! (not attempts) means a person who types the right password is never slowed down.
//!
//! Rate-limiter crates such as governor meter every call and cannot look without consuming,
//! which would count successes too; this is the small failure counter the rule needs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    pub failures_per_account: u32,
    pub failures_per_client: u32,
    pub window: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Client(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    window_start: Instant,
    count: u32,
}

#[derive(Debug)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    failures: Mutex<HashMap<Key, Failures>>,
}

/// Past this many tracked keys, expired entries are swept on the next failure.
const SWEEP_THRESHOLD: usize = 10_000;

impl LoginThrottle {
    pub fn new(limits: ThrottleLimits) -> Self {
        Self { limits, failures: Mutex::new(HashMap::new()) }
    }

    /// `Err(wait)` when `account` or `client` is throttled now.
    pub fn check(&self, account: &str, client: IpAddr) -> Result<(), Duration> {
        self.check_at(account, client, Instant::now())
    }

    pub fn record_failure(&self, account: &str, client: IpAddr) {
        self.record_failure_at(account, client, Instant::now())
    }

    /// A successful log-in clears the account's count (not the client's).
    pub fn record_success(&self, account: &str) {
        self.lock().remove(&Key::Account(account.to_owned()));
    }

    fn check_at(&self, account: &str, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let failures = self.lock();
        let waits = [
            (Key::Account(account.to_owned()), self.limits.failures_per_account),
            (Key::Client(client), self.limits.failures_per_client),
        ]
        .into_iter()
        .filter_map(|(key, limit)| {
            let entry = failures.get(&key)?;
            let window_end = entry.window_start + self.limits.window;
            (entry.count >= limit && now < window_end).then(|| window_end - now)
        });
        match waits.max() {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    fn record_failure_at(&self, account: &str, client: IpAddr, now: Instant) {
        let window = self.limits.window;
        let mut failures = self.lock();
        if failures.len() > SWEEP_THRESHOLD {
            failures.retain(|_, entry| now < entry.window_start + window);
        }
        for key in [Key::Account(account.to_owned()), Key::Client(client)] {
            let entry = failures.entry(key).or_insert(Failures { window_start: now, count: 0 });
            if now >= entry.window_start + window {
                *entry = Failures { window_start: now, count: 0 };
            }
            entry.count += 1;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Failures>> {
        // The map holds only counters: a panic elsewhere cannot leave it inconsistent.
        self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER_CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottleLimits {
            failures_per_account: 3,
            failures_per_client: 5,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn account_is_throttled_after_its_limit_until_the_window_ends() {
        let throttle = throttle();
        let start = Instant::now();
        for _ in 0..3 {
            assert!(throttle.check_at("alice", CLIENT, start).is_ok());
            throttle.record_failure_at("alice", CLIENT, start);
        }
        let wait = throttle.check_at("alice", OTHER_CLIENT, start + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(throttle.check_at("bob", OTHER_CLIENT, start).is_ok(), "other accounts are unaffected");
        assert!(throttle.check_at("alice", OTHER_CLIENT, start + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn client_is_throttled_across_accounts() {
        let throttle = throttle();
        let now = Instant::now();
        for name in ["a1", "a2", "a3", "a4", "a5"] {
            throttle.record_failure_at(name, CLIENT, now);
        }
        assert!(throttle.check_at("fresh", CLIENT, now).is_err());
        assert!(throttle.check_at("fresh", OTHER_CLIENT, now).is_ok());
    }

    #[test]
    fn success_clears_the_account_count() {
        let throttle = throttle();
        let now = Instant::now();
        throttle.record_failure_at("alice", CLIENT, now);
        throttle.record_failure_at("alice", CLIENT, now);
        throttle.record_success("alice");
        throttle.record_failure_at("alice", CLIENT, now);
        assert!(throttle.check_at("alice", OTHER_CLIENT, now).is_ok());
    }
}
