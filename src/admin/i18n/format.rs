//! Figures and dates as each language writes them: `1,234.5 MiB` /
//! `1 234,5 Mio`, `Dec 1 2026 14:03:05 UTC` / `1 déc. 2026 14:03:05 UTC`,
//! `5m 2s` / `5 min 2 s`. The CLI keeps [`crate::api::text`]. Pure.

use super::Lang;

/// French groups thousands with a narrow no-break space (as
/// `Intl.NumberFormat("fr")` does, so the live tables match).
const FR_GROUP: char = '\u{202f}';

/// A whole number with thousands grouped: `1,234,567` / `1 234 567`.
pub fn count(l: Lang, n: u64) -> String {
    let digits = n.to_string();
    let sep = match l {
        Lang::En => ',',
        Lang::Fr => FR_GROUP,
    };
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// One decimal, grouped, with the language's decimal mark.
fn decimal(l: Lang, v: f64) -> String {
    let tenths = (v * 10.0).round();
    // Byte counts are below 2^64, so the tenths fit in a u64.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let tenths = tenths.max(0.0) as u64;
    let mark = match l {
        Lang::En => '.',
        Lang::Fr => ',',
    };
    format!("{}{mark}{}", count(l, tenths / 10), tenths % 10)
}

/// Byte counts in binary units: `1.5 KiB` / `1,5 Kio`.
pub fn bytes(l: Lang, n: u64) -> String {
    let units: [&str; 5] = match l {
        Lang::En => ["B", "KiB", "MiB", "GiB", "TiB"],
        Lang::Fr => ["o", "Kio", "Mio", "Gio", "Tio"],
    };
    #[allow(clippy::cast_precision_loss)]
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{}\u{a0}{}", count(l, n), units[0])
    } else {
        format!("{}\u{a0}{}", decimal(l, v), units[u])
    }
}

/// Durations: `3d 4h`, `5m 2s` / `3 j 4 h`, `5 min 2 s`.
pub fn duration(l: Lang, secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let [ud, uh, um, us] = match l {
        Lang::En => ["d", "h", "m", "s"],
        Lang::Fr => ["\u{a0}j", "\u{a0}h", "\u{a0}min", "\u{a0}s"],
    };
    match (d, h, m) {
        (0, 0, 0) => format!("{s}{us}"),
        (0, 0, _) if s == 0 => format!("{m}{um}"),
        (0, 0, _) => format!("{m}{um} {s}{us}"),
        (0, _, _) => format!("{h}{uh} {m}{um}"),
        _ => format!("{}{ud} {h}{uh}", count(l, d)),
    }
}

/// Milliseconds: `850 ms`, `12.3 s` / `12,3 s`.
pub fn millis(l: Lang, ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}\u{a0}ms")
    } else if ms < 60_000 {
        #[allow(clippy::cast_precision_loss)]
        let s = ms as f64 / 1000.0;
        format!("{}\u{a0}s", decimal(l, s))
    } else {
        duration(l, ms / 1000)
    }
}

const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MONTHS_FR: [&str; 12] = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
    "déc.",
];

/// Unix seconds in UTC: `Dec 1 2026 14:03:05 UTC` / `1 déc. 2026 14:03:05 UTC`.
pub fn time(l: Lang, unix: u64) -> String {
    let Some(t) = i64::try_from(unix)
        .ok()
        .and_then(|u| time::OffsetDateTime::from_unix_timestamp(u).ok())
    else {
        return unix.to_string();
    };
    let month = usize::from(u8::from(t.month())) - 1;
    let clock = format!("{:02}:{:02}:{:02} UTC", t.hour(), t.minute(), t.second());
    match l {
        Lang::En => format!("{} {} {} {clock}", MONTHS_EN[month], t.day(), t.year()),
        Lang::Fr => format!("{} {} {} {clock}", t.day(), MONTHS_FR[month], t.year()),
    }
}

/// `5m ago` / `il y a 5 min`.
pub fn ago(l: Lang, secs: u64) -> String {
    match l {
        Lang::En => format!("{} ago", duration(l, secs)),
        Lang::Fr => format!("il y a {}", duration(l, secs)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_in_both_languages() {
        assert_eq!(count(Lang::En, 1_234_567), "1,234,567");
        assert_eq!(count(Lang::Fr, 1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(count(Lang::Fr, 999), "999");
        assert_eq!(bytes(Lang::En, 512), "512\u{a0}B");
        assert_eq!(bytes(Lang::En, 1536), "1.5\u{a0}KiB");
        assert_eq!(bytes(Lang::Fr, 1536), "1,5\u{a0}Kio");
        // Grouping and decimal mark together (past the last unit).
        let n = 1_357_347_104_489_472;
        assert_eq!(bytes(Lang::En, n), "1,234.5\u{a0}TiB");
        assert_eq!(bytes(Lang::Fr, n), "1\u{202f}234,5\u{a0}Tio");
        assert_eq!(bytes(Lang::Fr, 1_294_991_360), "1,2\u{a0}Gio");
        assert_eq!(
            bytes(Lang::Fr, u64::MAX),
            "16\u{202f}777\u{202f}216,0\u{a0}Tio"
        );
        assert_eq!(duration(Lang::En, 62), "1m 2s");
        assert_eq!(duration(Lang::Fr, 62), "1\u{a0}min 2\u{a0}s");
        assert_eq!(duration(Lang::Fr, 90061), "1\u{a0}j 1\u{a0}h");
        assert_eq!(millis(Lang::Fr, 12_345), "12,3\u{a0}s");
        assert_eq!(millis(Lang::En, 850), "850\u{a0}ms");
        assert_eq!(ago(Lang::Fr, 600), "il y a 10\u{a0}min");
    }

    #[test]
    fn dates_in_both_languages() {
        // 2026-12-01 14:03:05 UTC
        let t = 1_796_133_785;
        assert_eq!(time(Lang::En, t), "Dec 1 2026 14:03:05 UTC");
        assert_eq!(time(Lang::Fr, t), "1 déc. 2026 14:03:05 UTC");
        assert_eq!(time(Lang::Fr, 0), "1 janv. 1970 00:00:00 UTC");
        assert_eq!(time(Lang::En, u64::MAX), u64::MAX.to_string());
    }
}
