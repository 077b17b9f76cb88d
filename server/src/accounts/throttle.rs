//! Throttling of log-ins and sign-ups, per client (see [`ClientKey`]).
//!
//! - A log-in attempt is *reserved* before its password is hashed: it counts as a failure
//!   from the start and is taken back only if it succeeds. So N concurrent guesses cannot all
//!   pass a limit of 5: the 6th finds 5 reserved.
//! - The per-account limit is keyed by account *and* client: failures from one client on
//!   `alice` lock out that client for `alice`, never `alice` herself (usernames are visible to
//!   co-participants, so a lockout keyed by the account alone would let anyone lock anyone
//!   out). Each client also has a limit across accounts, so one client cannot spray
//!   guesses over many accounts.
//! - Sign-ups count per client, successful or not: each costs a hash and a row.
//! - The tracker is bounded ([`MAX_TRACKED`] keys): expired windows are swept first, then the
//!   older half is dropped, so a flood of clients costs bounded memory, not unbounded.
//!
//! Rate-limiter crates such as governor meter every call and cannot take a call back, which
//! a successful log-in needs; this is the small counter the rules need.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    /// Failed log-ins per (account, client) within the window.
    pub failures_per_account: u32,
    /// Failed log-ins per client within the window, over all accounts.
    pub failures_per_client: u32,
    /// Sign-up attempts per client within the window.
    pub sign_ups_per_client: u32,
    pub window: Duration,
}

/// Whom a limit counts: an IPv4 address, or an IPv6 /64 (one subscriber's network: a host
/// can pick any address in its /64, so counting single addresses would count nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl From<IpAddr> for ClientKey {
    fn from(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => Self(IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX)))),
            },
        }
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// An account (its case-insensitive key, a valid username) tried from one client.
    AccountClient(String, ClientKey),
    Client(ClientKey),
    SignUps(ClientKey),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

/// The most keys tracked at once (about 100 bytes each).
pub const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
pub struct Throttle {
    limits: ThrottleLimits,
    windows: Mutex<HashMap<Key, Window>>,
}

/// A reserved log-in attempt: a failure unless [`LogInAttempt::succeeded`] is called.
#[must_use]
pub struct LogInAttempt<'t> {
    throttle: &'t Throttle,
    keys: Vec<Key>,
    started: Instant,
}

impl LogInAttempt<'_> {
    /// The password was right: the account's failures from this client are forgotten, and the
    /// attempt no longer counts against the client.
    pub fn succeeded(self) {
        let mut windows = self.throttle.lock();
        for key in &self.keys {
            match key {
                Key::AccountClient(..) => {
                    windows.remove(key);
                }
                _ => self.throttle.take_back(&mut windows, key, self.started),
            }
        }
    }

    /// The attempt was never judged (the server was busy or failed): it counts for nothing.
    pub fn not_judged(self) {
        let mut windows = self.throttle.lock();
        for key in &self.keys {
            self.throttle.take_back(&mut windows, key, self.started);
        }
    }
}

impl Throttle {
    pub fn new(limits: ThrottleLimits) -> Self {
        Self { limits, windows: Mutex::new(HashMap::new()) }
    }

    /// Reserves a log-in attempt for `account` (`None`: not a valid username, so only the
    /// client counts) from `client`, or `Err(wait)` when either limit is reached.
    pub fn begin_log_in(&self, account: Option<&str>, client: ClientKey) -> Result<LogInAttempt<'_>, Duration> {
        let mut keys = vec![Key::Client(client)];
        if let Some(account) = account {
            keys.push(Key::AccountClient(account.to_owned(), client));
        }
        let now = Instant::now();
        self.take(&keys, now)?;
        Ok(LogInAttempt { throttle: self, keys, started: now })
    }

    /// Counts a sign-up attempt from `client`, or `Err(wait)` past the limit.
    pub fn begin_sign_up(&self, client: ClientKey) -> Result<Instant, Duration> {
        let now = Instant::now();
        self.take(&[Key::SignUps(client)], now).map(|()| now)
    }

    /// A sign-up counted at `started` was refused for the server's sake (busy): it does not
    /// count against the client.
    pub fn sign_up_not_served(&self, client: ClientKey, started: Instant) {
        self.take_back(&mut self.lock(), &Key::SignUps(client), started);
    }

    /// Takes back one count from `key`, unless its window started after the count was taken.
    fn take_back(&self, windows: &mut HashMap<Key, Window>, key: &Key, started: Instant) {
        if let Some(window) = windows.get_mut(key).filter(|window| window.start <= started) {
            window.count = window.count.saturating_sub(1);
        }
    }

    fn limit(&self, key: &Key) -> u32 {
        match key {
            Key::AccountClient(..) => self.limits.failures_per_account,
            Key::Client(_) => self.limits.failures_per_client,
            Key::SignUps(_) => self.limits.sign_ups_per_client,
        }
    }

    /// Counts one against every key, all or none: `Err(wait)` if any is at its limit.
    fn take(&self, keys: &[Key], now: Instant) -> Result<(), Duration> {
        let window = self.limits.window;
        let mut windows = self.lock();
        let wait = keys
            .iter()
            .filter_map(|key| {
                let current = windows.get(key)?;
                let end = current.start + window;
                (now < end && current.count >= self.limit(key)).then(|| end - now)
            })
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        if windows.len() + keys.len() > MAX_TRACKED {
            make_room(&mut windows, now, window);
        }
        for key in keys {
            let current = windows.entry(key.clone()).or_insert(Window { start: now, count: 0 });
            if now >= current.start + window {
                *current = Window { start: now, count: 0 };
            }
            current.count += 1;
        }
        Ok(())
    }

    /// How many keys are tracked now.
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Window>> {
        // The map holds only counters: a panic elsewhere cannot leave it inconsistent.
        self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Drops expired windows; if that is not enough, the older half (amortized: this runs once per
/// `MAX_TRACKED / 2` new keys at most).
fn make_room(windows: &mut HashMap<Key, Window>, now: Instant, window: Duration) {
    windows.retain(|_, current| now < current.start + window);
    if windows.len() < MAX_TRACKED / 2 {
        return;
    }
    let mut starts: Vec<Instant> = windows.values().map(|current| current.start).collect();
    let middle = starts.len() / 2;
    let (_, median, _) = starts.select_nth_unstable(middle);
    let median = *median;
    windows.retain(|_, current| current.start > median);
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const OTHER_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

    fn throttle(window: Duration) -> Throttle {
        Throttle::new(ThrottleLimits { failures_per_account: 3, failures_per_client: 5, sign_ups_per_client: 2, window })
    }

    fn fail(throttle: &Throttle, account: &str, client: IpAddr) -> Result<(), Duration> {
        throttle.begin_log_in(Some(account), client.into()).map(drop)
    }

    #[test]
    fn an_account_is_throttled_for_the_client_that_failed_not_for_others() {
        let throttle = throttle(Duration::from_secs(60));
        for _ in 0..3 {
            fail(&throttle, "alice", CLIENT).unwrap();
        }
        let wait = fail(&throttle, "alice", CLIENT).unwrap_err();
        assert!(wait > Duration::from_secs(58) && wait <= Duration::from_secs(60), "{wait:?}");
        assert!(fail(&throttle, "alice", OTHER_CLIENT).is_ok(), "the victim's own client is not locked out");
        assert!(fail(&throttle, "bob", CLIENT).is_ok(), "other accounts are unaffected until the client limit");
    }

    #[test]
    fn reserved_attempts_count_before_they_finish() {
        let throttle = throttle(Duration::from_secs(60));
        // Three attempts in flight at once (none finished): the fourth is refused.
        let in_flight: Vec<_> = (0..3).map(|_| throttle.begin_log_in(Some("alice"), CLIENT.into()).unwrap()).collect();
        assert!(throttle.begin_log_in(Some("alice"), CLIENT.into()).is_err());
        drop(in_flight);
    }

    #[test]
    fn a_success_takes_its_attempt_back_and_clears_the_account() {
        let throttle = throttle(Duration::from_secs(60));
        fail(&throttle, "alice", CLIENT).unwrap();
        fail(&throttle, "alice", CLIENT).unwrap();
        throttle.begin_log_in(Some("alice"), CLIENT.into()).unwrap().succeeded();
        for _ in 0..3 {
            fail(&throttle, "alice", CLIENT).unwrap();
        }
        // The client has 2 + 3 failures: the success did not count.
        assert!(throttle.begin_log_in(Some("carol"), CLIENT.into()).is_err());
    }

    #[test]
    fn a_client_is_throttled_across_accounts_and_invalid_names() {
        let throttle = throttle(Duration::from_secs(60));
        for name in ["a1", "a2", "a3", "a4"] {
            fail(&throttle, name, CLIENT).unwrap();
        }
        throttle.begin_log_in(None, CLIENT.into()).map(drop).unwrap();
        assert!(throttle.begin_log_in(Some("fresh"), CLIENT.into()).is_err());
        assert!(throttle.begin_log_in(Some("fresh"), OTHER_CLIENT.into()).is_ok());
    }

    #[test]
    fn an_attempt_never_judged_counts_for_nothing() {
        let throttle = throttle(Duration::from_secs(60));
        for _ in 0..10 {
            throttle.begin_log_in(Some("alice"), CLIENT.into()).unwrap().not_judged();
            let started = throttle.begin_sign_up(CLIENT.into()).unwrap();
            throttle.sign_up_not_served(CLIENT.into(), started);
        }
        assert!(throttle.begin_log_in(Some("alice"), CLIENT.into()).is_ok());
        assert!(throttle.begin_sign_up(CLIENT.into()).is_ok());
    }

    #[test]
    fn sign_ups_are_counted_per_client() {
        let throttle = throttle(Duration::from_secs(60));
        throttle.begin_sign_up(CLIENT.into()).unwrap();
        throttle.begin_sign_up(CLIENT.into()).unwrap();
        assert!(throttle.begin_sign_up(CLIENT.into()).is_err());
        assert!(throttle.begin_sign_up(OTHER_CLIENT.into()).is_ok());
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_net: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_net: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientKey::from(one), ClientKey::from(same_net));
        assert_ne!(ClientKey::from(one), ClientKey::from(other_net));
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(ClientKey::from(mapped), ClientKey::from(CLIENT));
        assert_eq!(ClientKey::from(one).to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn a_flood_of_clients_stays_bounded() {
        let throttle = throttle(Duration::from_secs(3600));
        for index in 0..(MAX_TRACKED as u32 + 10_000) {
            let client = IpAddr::V4(Ipv4Addr::from(index));
            throttle.begin_log_in(None, client.into()).map(drop).unwrap();
        }
        assert!(throttle.tracked() <= MAX_TRACKED, "{}", throttle.tracked());
        // The newest clients are still counted.
        let newest = IpAddr::V4(Ipv4Addr::from(MAX_TRACKED as u32 + 9_999));
        for _ in 0..4 {
            throttle.begin_log_in(None, newest.into()).map(drop).unwrap();
        }
        assert!(throttle.begin_log_in(None, newest.into()).is_err());
    }

    #[test]
    fn windows_expire() {
        let throttle = throttle(Duration::from_millis(50));
        for _ in 0..3 {
            fail(&throttle, "alice", CLIENT).unwrap();
        }
        assert!(fail(&throttle, "alice", CLIENT).is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert!(fail(&throttle, "alice", CLIENT).is_ok());
    }
}
