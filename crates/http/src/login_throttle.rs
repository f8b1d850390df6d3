//! Slowing down guessing at credentials: per client address, failed logins past a few lock
//! the address out for a time that doubles with each further failure. While locked out, a
//! client's credentials are not even checked, so guessing faster gains nothing.
//!
//! The counts live in this process: each replica counts on its own, and forgets a client a
//! while after its last failure. Behind a proxy every client has the proxy's address, so
//! there the proxy is the one to limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures a client may make before it is locked out.
pub const FREE_FAILURES: u32 = 5;
/// The first lockout; each further failure doubles it.
pub const FIRST_LOCKOUT: Duration = Duration::from_secs(1);
/// The longest lockout.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(300);
/// How long after its last failure a client is forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(900);
/// Most clients remembered at once; past it, the forgettable ones are dropped first.
const MAX_CLIENTS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Client {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

/// Failed logins per client address.
#[derive(Debug)]
pub struct LoginThrottle {
    clients: Mutex<HashMap<IpAddr, Client>>,
    free_failures: u32,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::with_free_failures(FREE_FAILURES)
    }
}

/// IPv6 clients are counted by their /64 network: one host usually holds a whole /64, and
/// counting each address apart would let it guess from 2^64 addresses.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::V6(octets.into())
        }
    }
}

/// The lockout after `failures` failures: none for the free ones, then 1 s, 2 s, 4 s, ...
fn lockout(failures: u32, free_failures: u32) -> Option<Duration> {
    let past_free = failures.checked_sub(free_failures.saturating_add(1))?;
    let doubled = FIRST_LOCKOUT.saturating_mul(1u32 << past_free.min(20));
    Some(doubled.min(MAX_LOCKOUT))
}

impl LoginThrottle {
    /// A throttle that lets each client fail `free_failures` times before locking it out
    /// ([`FREE_FAILURES`] by default).
    pub fn with_free_failures(free_failures: u32) -> Self {
        Self {
            clients: Mutex::default(),
            free_failures,
        }
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Client>> {
        // A panic while holding the lock leaves only counts behind: keep using them.
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err` with the time left when `ip` is locked out at `now`.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        match self.clients().get(&client_key(ip)) {
            Some(Client {
                locked_until: Some(until),
                ..
            }) if *until > now => Err(*until - now),
            _ => Ok(()),
        }
    }

    /// Counts a failed login of `ip` at `now`; answers the lockout it now has, if any.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let mut clients = self.clients();
        if clients.len() >= MAX_CLIENTS {
            clients.retain(|_, c| now.duration_since(c.last_failure) < FORGET_AFTER);
        }
        if clients.len() >= MAX_CLIENTS {
            // Still full: the oldest failures go, which is what forgetting does anyway.
            let mut by_age: Vec<(IpAddr, Instant)> = clients
                .iter()
                .map(|(ip, c)| (*ip, c.last_failure))
                .collect();
            by_age.sort_by_key(|(_, at)| *at);
            for (ip, _) in by_age.into_iter().take(MAX_CLIENTS / 10) {
                clients.remove(&ip);
            }
        }
        let client = clients.entry(client_key(ip)).or_insert(Client {
            failures: 0,
            last_failure: now,
            locked_until: None,
        });
        if now.duration_since(client.last_failure) >= FORGET_AFTER {
            client.failures = 0;
        }
        client.failures = client.failures.saturating_add(1);
        client.last_failure = now;
        let locked = lockout(client.failures, self.free_failures);
        client.locked_until = locked.map(|d| now + d);
        locked
    }

    /// Forgets the failures of `ip` after it logged in.
    pub fn succeeded(&self, ip: IpAddr) {
        let key = client_key(ip);
        let mut clients = self.clients();
        if clients.contains_key(&key) {
            clients.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_few_failures_are_free_then_each_one_doubles_the_lockout_up_to_a_ceiling() {
        let expected: Vec<Option<u64>> =
            vec![None, None, None, None, None, Some(1), Some(2), Some(4)];
        let got: Vec<Option<u64>> = (1..=8)
            .map(|n| lockout(n, FREE_FAILURES).map(|d| d.as_secs()))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(lockout(40, FREE_FAILURES), Some(MAX_LOCKOUT));
    }

    #[test]
    fn a_locked_out_client_is_refused_until_its_lockout_ends_and_others_are_not() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        let guesser = ip("203.0.113.7");
        for _ in 0..FREE_FAILURES {
            assert_eq!(throttle.failed(guesser, t0), None);
            assert!(throttle.check(guesser, t0).is_ok());
        }
        assert_eq!(throttle.failed(guesser, t0), Some(FIRST_LOCKOUT));
        assert!(throttle.check(guesser, t0).is_err());
        assert!(throttle.check(ip("203.0.113.8"), t0).is_ok());
        assert!(throttle.check(guesser, t0 + FIRST_LOCKOUT).is_ok());
    }

    #[test]
    fn a_success_or_a_long_quiet_forgets_the_failures() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        let client = ip("198.51.100.1");
        for _ in 0..=FREE_FAILURES {
            throttle.failed(client, t0);
        }
        throttle.succeeded(client);
        assert!(throttle.check(client, t0).is_ok());
        for _ in 0..FREE_FAILURES {
            throttle.failed(client, t0);
        }
        assert_eq!(throttle.failed(client, t0 + FORGET_AFTER), None);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_slash_64() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for n in 0..=FREE_FAILURES {
            throttle.failed(ip(&format!("2001:db8::{n:x}")), t0);
        }
        assert!(throttle.check(ip("2001:db8::ffff"), t0).is_err());
        assert!(throttle.check(ip("2001:db8:0:1::1"), t0).is_ok());
    }
}
