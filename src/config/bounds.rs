//! The allowed range of every number and duration in the config. A value
//! outside it is a problem naming the key and the range, so that nothing
//! absurd (`hello_timeout = "18446744073709551615s"`) reaches a deadline
//! computation or the kernel. Pure.

use std::time::Duration;

use super::checker::Checker;
use super::types::format_duration;

/// An inclusive range of durations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub min: Duration,
    pub max: Duration,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const DAY: u64 = 86_400;

/// `listener[].hello_timeout`.
pub(crate) const HELLO_TIMEOUT: Span = Span {
    min: ms(100),
    max: secs(600),
};
/// `listener[].idle_timeout`.
pub(crate) const IDLE_TIMEOUT: Span = Span {
    min: secs(1),
    max: secs(7 * DAY),
};
/// `limits.ban` when not `"0s"` (off).
pub(crate) const BAN: Span = Span {
    min: secs(1),
    max: secs(30 * DAY),
};
/// `backend.*.health.interval`.
pub(crate) const HEALTH_INTERVAL: Span = Span {
    min: ms(100),
    max: secs(3600),
};
/// Connection counts: `appliance.max_connections`,
/// `listener[].max_connections`, `limits.conn_max`, `limits.conn_rate`'s
/// count and `limits.conn_burst`.
pub(crate) const MAX_CONNECTIONS: u32 = 1_000_000;
/// `health.fall` and `health.rise`.
pub(crate) const MAX_FALL_RISE: u32 = 100;

/// Records a problem at `path` unless `d` is within `span`.
pub(crate) fn duration(c: &mut Checker, path: &str, d: Duration, span: Span) {
    if d < span.min || d > span.max {
        c.err(
            path,
            format!(
                "{} is outside the allowed range {} to {}",
                format_duration(d),
                format_duration(span.min),
                format_duration(span.max)
            ),
        );
    }
}

/// Records a problem at `path` unless `n` is within `min..=max`.
pub(crate) fn number(c: &mut Checker, path: &str, n: u32, min: u32, max: u32) {
    if n < min || n > max {
        c.err(
            path,
            format!("{n} is outside the allowed range {min} to {max}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    fn problems(text: &str) -> String {
        match parse(text) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    const BASE: &str = "[[listener]]\nname = \"h\"\nbind = \"0.0.0.0:443\"\nprotocol = \"tls\"\ndefault_backend = \"b\"\n";
    const BACKEND: &str = "[backend.b]\nservers = [\"10.0.0.11:443\"]\n";

    #[test]
    fn absurd_durations_are_refused_with_the_range() {
        let text = format!(
            "{BASE}hello_timeout = \"18446744073709551615s\"\nidle_timeout = \"9999d\"\n{BACKEND}"
        );
        let p = problems(&text);
        assert!(
            p.contains("listener[0].hello_timeout") && p.contains("allowed range 100ms to 10m"),
            "{p}"
        );
        assert!(p.contains("listener[0].idle_timeout"), "{p}");
        let ms = format!("{BASE}hello_timeout = \"18446744073709551615ms\"\n{BACKEND}");
        assert!(problems(&ms).contains("hello_timeout"), "{}", problems(&ms));
    }

    #[test]
    fn absurd_numbers_are_refused_with_the_range() {
        let text = format!(
            "[appliance]\nmax_connections = 4294967295\n[limits]\nconn_rate = \"4294967295/second\"\nconn_burst = 4294967295\nconn_max = 4294967295\nban = \"999999d\"\n{BASE}max_connections = 4000000000\n{BACKEND}health = {{ interval = \"99999h\", timeout = \"1s\", fall = 4000000000, rise = 0 }}\n"
        );
        let p = problems(&text);
        for key in [
            "appliance.max_connections",
            "limits.conn_rate",
            "limits.conn_burst",
            "limits.conn_max",
            "limits.ban",
            "listener[0].max_connections",
            "backend.b.health.interval",
            "backend.b.health.fall",
            "backend.b.health.rise",
        ] {
            assert!(p.contains(key), "{key} not refused: {p}");
        }
    }

    #[test]
    fn the_ordinary_values_pass() {
        let text = format!(
            "[limits]\nconn_rate = \"50/second\"\nconn_burst = 100\nconn_max = 200\nban = \"10m\"\n{BASE}hello_timeout = \"5s\"\nidle_timeout = \"10m\"\n{BACKEND}health = {{ interval = \"2s\", timeout = \"1s\", fall = 3, rise = 2 }}\n"
        );
        assert_eq!(problems(&text), "");
    }
}
