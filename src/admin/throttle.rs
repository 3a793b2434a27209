//! The per-source login throttle: every attempt is counted before its
//! password is checked, and one source has at most one check in flight, so
//! parallel guesses are refused rather than each paying for (and making the
//! daemon pay for) a full argon2 check. Pure: time is passed in.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Sources tracked before old entries are swept.
const MAX_TRACKED: usize = 10_000;

/// Why an attempt is refused before its password is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The same source has a check running (or its failure delay).
    InFlight,
    /// The source used up its attempts within the window.
    TooMany,
}

/// Login attempts per source within a sliding window, and the sources
/// with a check in flight.
#[derive(Debug, Default)]
pub struct Throttle {
    attempts: HashMap<IpAddr, Vec<Instant>>,
    in_flight: HashSet<IpAddr>,
}

impl Throttle {
    /// Attempts of `source` within `window` before `now`.
    pub fn count(&mut self, source: IpAddr, now: Instant, window: Duration) -> usize {
        let list = self.attempts.entry(source).or_default();
        list.retain(|t| now.duration_since(*t) <= window);
        let n = list.len();
        if n == 0 {
            self.attempts.remove(&source);
        }
        n
    }

    /// Starts an attempt: refused while another from `source` is in flight
    /// or once `max` attempts fall within the window; otherwise counted at
    /// once and marked in flight. Returns the count including this one.
    pub fn begin(
        &mut self,
        source: IpAddr,
        now: Instant,
        window: Duration,
        max: usize,
    ) -> Result<usize, Refusal> {
        if self.in_flight.contains(&source) {
            return Err(Refusal::InFlight);
        }
        // Many sources (a spread-out guessing run) must not grow this forever.
        if self.attempts.len() > MAX_TRACKED {
            self.attempts
                .retain(|_, l| l.last().is_some_and(|t| now.duration_since(*t) <= window));
        }
        if self.count(source, now, window) >= max {
            return Err(Refusal::TooMany);
        }
        let list = self.attempts.entry(source).or_default();
        list.push(now);
        self.in_flight.insert(source);
        Ok(list.len())
    }

    /// The attempt of `source` is over (its check and any delay).
    pub fn end(&mut self, source: IpAddr) {
        self.in_flight.remove(&source);
    }

    /// Takes back the last attempt of `source`: its password could not be
    /// checked at all (the daemon's fault, not a wrong guess).
    pub fn uncount(&mut self, source: IpAddr) {
        if let Some(list) = self.attempts.get_mut(&source) {
            list.pop();
            if list.is_empty() {
                self.attempts.remove(&source);
            }
        }
    }

    /// Forgets the attempts of a source (after a good login).
    pub fn clear(&mut self, source: IpAddr) {
        self.attempts.remove(&source);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn attempts_count_before_the_check_and_within_the_window() {
        let mut th = Throttle::default();
        let t0 = Instant::now();
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let w = Duration::from_secs(300);
        assert_eq!(th.begin(ip, t0, w, 3), Ok(1));
        th.end(ip);
        assert_eq!(th.begin(ip, t0 + Duration::from_secs(1), w, 3), Ok(2));
        th.end(ip);
        assert_eq!(th.begin(ip, t0 + Duration::from_secs(2), w, 3), Ok(3));
        th.end(ip);
        assert_eq!(
            th.begin(ip, t0 + Duration::from_secs(3), w, 3),
            Err(Refusal::TooMany)
        );
        assert_eq!(th.count(ip, t0 + Duration::from_secs(303), w), 0);
    }

    #[test]
    fn one_in_flight_per_source() {
        let mut th = Throttle::default();
        let t0 = Instant::now();
        let a: IpAddr = "198.51.100.7".parse().unwrap();
        let b: IpAddr = "198.51.100.8".parse().unwrap();
        let w = Duration::from_secs(300);
        assert_eq!(th.begin(a, t0, w, 10), Ok(1));
        assert_eq!(th.begin(a, t0, w, 10), Err(Refusal::InFlight));
        assert_eq!(th.begin(b, t0, w, 10), Ok(1), "another source is not held");
        th.end(a);
        assert_eq!(th.begin(a, t0, w, 10), Ok(2));
    }

    #[test]
    fn an_attempt_that_could_not_be_checked_is_taken_back() {
        let mut th = Throttle::default();
        let t0 = Instant::now();
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let w = Duration::from_secs(300);
        assert_eq!(th.begin(ip, t0, w, 10), Ok(1));
        th.uncount(ip);
        th.end(ip);
        assert_eq!(th.count(ip, t0, w), 0);
        th.begin(ip, t0, w, 10).unwrap();
        th.clear(ip);
        assert_eq!(th.count(ip, t0, w), 0);
    }
}
