//! The figures of one contender, and the side-by-side table with ratios.
//!
//! No I/O: builds strings.

use std::fmt::Write;

/// What was measured for one contender; `None` where the run failed or
/// the figure does not apply.
#[derive(Debug, Default, Clone)]
pub struct Figures {
    /// Column heading.
    pub name: String,
    /// Completed exchanges per second with `workers` closed-loop workers.
    pub conn_rate: Option<f64>,
    /// Exchanges that failed during the rate run.
    pub conn_errors: u64,
    /// p50 of connect → answer during the rate run (`workers` in flight), ms.
    pub rate_p50: Option<f64>,
    /// p99 of connect → answer during the rate run, ms.
    pub rate_p99: Option<f64>,
    /// MB/s (10^6 bytes) over one connection.
    pub bulk1: Option<f64>,
    /// MB/s over 64 connections.
    pub bulk64: Option<f64>,
    /// Bulk connections that failed.
    pub bulk_failed: u64,
    /// Forwarder CPU time per 1,000 exchanges of the rate run, ms.
    pub cpu_kconn: Option<f64>,
    /// Forwarder CPU time per GB relayed over one connection, s.
    pub cpu_gb1: Option<f64>,
    /// Forwarder CPU time per GB relayed over 64 connections, s.
    pub cpu_gb64: Option<f64>,
    /// Latency percentiles, ms.
    pub p50: Option<f64>,
    /// Latency percentiles, ms.
    pub p99: Option<f64>,
    /// Exchanges that failed during the latency run.
    pub lat_errors: u64,
    /// Resident memory (MiB) after the other runs, before the idle run.
    pub rss_before: Option<f64>,
    /// Resident memory (MiB) with the idle connections open.
    pub rss_idle: Option<f64>,
    /// Idle connections actually established.
    pub idle: u64,
    /// Why something is missing.
    pub notes: Vec<String>,
}

/// What the table header needs to know about the run.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Closed-loop workers of the rate run.
    pub workers: u64,
    /// Idle connections asked for.
    pub idle: u64,
    /// Target rate of the latency run.
    pub latency_rate: u64,
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

fn pair(a: Option<f64>, b: Option<f64>, decimals: usize) -> String {
    format!("{} / {}", num(a, decimals), num(b, decimals))
}

/// The median of the `Some` values, `None` when there are none.
fn median(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let mut v: Vec<f64> = values.flatten().collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => v.get(n / 2).copied(),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Several rounds of one contender as one column: the median of each
/// figure, the sum of the failure counts, memory from the round that
/// measured it, every distinct note.
pub fn combine(rounds: &[Figures]) -> Figures {
    let m = |get: fn(&Figures) -> Option<f64>| median(rounds.iter().map(get));
    let sum = |get: fn(&Figures) -> u64| rounds.iter().map(get).sum();
    let memory = rounds.iter().find(|f| f.rss_idle.is_some());
    let mut notes: Vec<String> = Vec::new();
    for n in rounds.iter().flat_map(|f| &f.notes) {
        if !notes.contains(n) {
            notes.push(n.clone());
        }
    }
    Figures {
        name: rounds.first().map(|f| f.name.clone()).unwrap_or_default(),
        conn_rate: m(|f| f.conn_rate),
        conn_errors: sum(|f| f.conn_errors),
        rate_p50: m(|f| f.rate_p50),
        rate_p99: m(|f| f.rate_p99),
        bulk1: m(|f| f.bulk1),
        bulk64: m(|f| f.bulk64),
        bulk_failed: sum(|f| f.bulk_failed),
        cpu_kconn: m(|f| f.cpu_kconn),
        cpu_gb1: m(|f| f.cpu_gb1),
        cpu_gb64: m(|f| f.cpu_gb64),
        p50: m(|f| f.p50),
        p99: m(|f| f.p99),
        lat_errors: sum(|f| f.lat_errors),
        rss_before: memory.and_then(|f| f.rss_before),
        rss_idle: memory.and_then(|f| f.rss_idle),
        idle: memory.map_or(0, |f| f.idle),
        notes,
    }
}

/// RSS extrapolated linearly to 10,000 idle connections.
pub fn rss_10k(f: &Figures) -> Option<f64> {
    let (before, idle) = (f.rss_before?, f.rss_idle?);
    if f.idle == 0 {
        return None;
    }
    Some(before + (idle - before) * 10_000.0 / f.idle as f64)
}

/// The side-by-side table.
pub fn table(cols: &[Figures], p: Params) -> String {
    let direct = cols.iter().find(|f| f.name == "direct");
    let added = |f: &Figures, v: fn(&Figures) -> Option<f64>| match direct {
        Some(d) if f.name != "direct" => Some(v(f)? - v(d)?),
        _ => None,
    };
    type Row<'a> = (String, Box<dyn Fn(&Figures) -> String + 'a>);
    let rows: Vec<Row> = vec![
        (
            format!("conn/s ({} workers)", p.workers),
            Box::new(|f| num(f.conn_rate, 0)),
        ),
        (
            "  failed exchanges".into(),
            Box::new(|f| f.conn_errors.to_string()),
        ),
        (
            format!("  p50 / p99 ms @{} in flight", p.workers),
            Box::new(|f| pair(f.rate_p50, f.rate_p99, 2)),
        ),
        ("bulk 1 conn MB/s".into(), Box::new(|f| num(f.bulk1, 0))),
        ("bulk 64 conns MB/s".into(), Box::new(|f| num(f.bulk64, 0))),
        (
            "  failed bulk conns".into(),
            Box::new(|f| f.bulk_failed.to_string()),
        ),
        (
            "CPU ms per 1k conns".into(),
            Box::new(|f| num(f.cpu_kconn, 0)),
        ),
        (
            "CPU s per GB, 1 / 64 conns".into(),
            Box::new(|f| pair(f.cpu_gb1, f.cpu_gb64, 2)),
        ),
        (
            format!("latency p50 / p99 ms @{}/s", p.latency_rate),
            Box::new(|f| pair(f.p50, f.p99, 2)),
        ),
        (
            "  added over direct ms".into(),
            Box::new(move |f| pair(added(f, |x| x.p50), added(f, |x| x.p99), 2)),
        ),
        (
            "  failed exchanges".into(),
            Box::new(|f| f.lat_errors.to_string()),
        ),
        (
            "RSS before idle MiB".into(),
            Box::new(|f| num(f.rss_before, 1)),
        ),
        (
            format!("RSS {} idle MiB", p.idle),
            Box::new(|f| format!("{} ({})", num(f.rss_idle, 1), f.idle)),
        ),
        (
            "RSS 10k idle MiB (extrap.)".into(),
            Box::new(|f| num(rss_10k(f), 1)),
        ),
    ];
    let mut out = format!("{:<30}", "");
    for f in cols {
        let _ = write!(out, "{:>16}", f.name);
    }
    out.push('\n');
    for (label, cell) in &rows {
        let _ = write!(out, "{label:<30}");
        for f in cols {
            let _ = write!(out, "{:>16}", cell(f));
        }
        out.push('\n');
    }
    out
}

/// The ratios issue 5 asks for, for `who` (parvis, or a peer when parvis
/// did not run) against HAProxy and the direct path.
pub fn ratios(cols: &[Figures], who: &str) -> String {
    let get = |n: &str| cols.iter().find(|f| f.name == n);
    let (Some(w), h, d) = (get(who), get("haproxy"), get("direct")) else {
        return format!("no figures for {who}\n");
    };
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    };
    type Get = fn(&Figures) -> Option<f64>;
    let specs: [(&str, Option<&Figures>, Get, &str); 8] = [
        ("haproxy conn/s", h, |f| f.conn_rate, "goal >= 1.2x"),
        ("haproxy p99 in flight", h, |f| f.rate_p99, "goal <= 1.0x"),
        ("haproxy bulk 1 conn", h, |f| f.bulk1, "goal >= 1.0x"),
        ("haproxy bulk 64 conns", h, |f| f.bulk64, "goal >= 1.0x"),
        ("direct bulk 1 conn", d, |f| f.bulk1, "goal >= 0.8x"),
        ("direct bulk 64 conns", d, |f| f.bulk64, "goal >= 0.8x"),
        (
            "haproxy CPU per conn",
            h,
            |f| f.cpu_kconn,
            "lower is better",
        ),
        (
            "haproxy CPU per GB (64)",
            h,
            |f| f.cpu_gb64,
            "lower is better",
        ),
    ];
    let mut out = String::new();
    for (what, other, get, goal) in specs {
        let r = ratio(get(w), other.and_then(get));
        let _ = writeln!(out, "{who}/{what:<24} {r:>8}   ({goal})");
    }
    if let Some(rss) = rss_10k(w) {
        let _ = writeln!(
            out,
            "{who} RSS at 10k idle (extrap.)   {rss:>6.1} MiB (goal < 64 MiB)"
        );
    }
    out
}
