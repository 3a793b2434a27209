//! Prometheus text exposition (`parvis_` prefix) rendered from the
//! [`Control`] views: listeners, ports, backends, bans, rule counters and
//! the daemon's extra figures ([`MetricsView`]), the process start time and
//! the conntrack table's use. I/O: the `Control` calls it makes and two
//! reads of `/proc/sys/net/netfilter` (the calling process's namespace).
//!
//! [`MetricsView`]: crate::api::MetricsView

use std::fmt::Write;

use crate::api::{Control, HistogramView, MetricsView};

use super::prom::{head, label};

/// The whole `/metrics` text.
pub fn render(c: &dyn Control) -> String {
    let mut out = String::new();
    let status = c.status();
    head(&mut out, "info", "gauge", "The appliance name and version.");
    let _ = writeln!(
        out,
        "parvis_info{{name=\"{}\",version=\"{}\"}} 1",
        label(&status.name),
        label(&status.version)
    );
    head(
        &mut out,
        "uptime_seconds",
        "gauge",
        "Seconds since the daemon started.",
    );
    let _ = writeln!(out, "parvis_uptime_seconds {}", status.uptime_secs);
    process_start(&mut out, status.uptime_secs);
    conntrack(&mut out, std::path::Path::new("/proc/sys/net/netfilter"));
    head(
        &mut out,
        "config_version",
        "gauge",
        "The running config version.",
    );
    let _ = writeln!(out, "parvis_config_version {}", status.config_version);
    if let Some(ha) = &status.ha {
        pair(&mut out, ha);
    }
    listeners(&mut out, &status.listeners);
    links(&mut out, &status.interfaces);
    backends(&mut out, c);
    firewall(&mut out, c);
    let m = c.metrics();
    extra(&mut out, &m);
    super::metrics_routes::render(&mut out, &m);
    if let Some(v) = c.ha() {
        out.push_str(&crate::api::ha::metrics(&v));
    }
    out
}

fn pair(out: &mut String, ha: &crate::api::HaView) {
    let peer = label(&ha.peer.name);
    head(
        out,
        "ha_peer_version",
        "gauge",
        "The HA peer's config version in force, as last seen.",
    );
    let _ = writeln!(
        out,
        "parvis_ha_peer_version{{peer=\"{peer}\"}} {}",
        ha.peer.config_version
    );
    head(
        out,
        "ha_peer_reachable",
        "gauge",
        "1 if the HA peer answered the last heartbeat of the config sync.",
    );
    let _ = writeln!(
        out,
        "parvis_ha_peer_reachable{{peer=\"{peer}\"}} {}",
        u8::from(ha.peer.reachable)
    );
    head(
        out,
        "ha_config_diverged",
        "gauge",
        "1 if the two nodes ran different configs when last compared.",
    );
    let _ = writeln!(out, "parvis_ha_config_diverged {}", u8::from(ha.diverged));
}

/// `process_start_time_seconds`, the name every Prometheus client library
/// uses (no `parvis_` prefix), from the daemon's uptime.
fn process_start(out: &mut String, uptime_secs: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let _ = writeln!(
        out,
        "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds."
    );
    let _ = writeln!(out, "# TYPE process_start_time_seconds gauge");
    let _ = writeln!(
        out,
        "process_start_time_seconds {}",
        now.saturating_sub(uptime_secs)
    );
}

/// Conntrack table entries and size from `dir` (`nf_conntrack_count`,
/// `nf_conntrack_max`); nothing when the module is not loaded.
fn conntrack(out: &mut String, dir: &std::path::Path) {
    let read = |name: &str| -> Option<u64> {
        std::fs::read_to_string(dir.join(name))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    let (Some(count), Some(max)) = (read("nf_conntrack_count"), read("nf_conntrack_max")) else {
        return;
    };
    head(
        out,
        "conntrack_entries",
        "gauge",
        "Entries in the conntrack table of the daemon's network namespace.",
    );
    let _ = writeln!(out, "parvis_conntrack_entries {count}");
    head(
        out,
        "conntrack_max",
        "gauge",
        "Size of the conntrack table (nf_conntrack_max).",
    );
    let _ = writeln!(out, "parvis_conntrack_max {max}");
}

fn listeners(out: &mut String, ls: &[crate::api::ListenerView]) {
    head(
        out,
        "listener_active_connections",
        "gauge",
        "Connections open now, by listener.",
    );
    for l in ls {
        let _ = writeln!(
            out,
            "parvis_listener_active_connections{{listener=\"{}\"}} {}",
            label(&l.name),
            l.active
        );
    }
    head(
        out,
        "listener_connections_total",
        "counter",
        "Connections accepted, by listener.",
    );
    for l in ls {
        let _ = writeln!(
            out,
            "parvis_listener_connections_total{{listener=\"{}\"}} {}",
            label(&l.name),
            l.total
        );
    }
}

fn links(out: &mut String, ls: &[crate::api::LinkView]) {
    head(out, "link_up", "gauge", "1 when the port is up.");
    for l in ls {
        let up = u8::from(l.state == "up");
        let _ = writeln!(
            out,
            "parvis_link_up{{role=\"{}\",name=\"{}\"}} {up}",
            label(&l.role),
            label(&l.name)
        );
    }
    for (name, help, get) in [
        (
            "link_rx_bytes_total",
            "Bytes received by the port.",
            (|l: &crate::api::LinkView| l.rx_bytes) as fn(&crate::api::LinkView) -> u64,
        ),
        ("link_tx_bytes_total", "Bytes sent by the port.", |l| {
            l.tx_bytes
        }),
        ("link_errors_total", "Port errors.", |l| l.errors),
        ("link_drops_total", "Port drops.", |l| l.drops),
    ] {
        head(out, name, "counter", help);
        for l in ls {
            let _ = writeln!(
                out,
                "parvis_{name}{{role=\"{}\"}} {}",
                label(&l.role),
                get(l)
            );
        }
    }
}

fn backends(out: &mut String, c: &dyn Control) {
    let bs = c.backends();
    let rows: Vec<(String, String, &crate::api::ServerView)> = bs
        .iter()
        .flat_map(|b| {
            b.servers
                .iter()
                .map(move |s| (label(&b.name), s.addr.to_string(), s))
        })
        .collect();
    head(
        out,
        "backend_up",
        "gauge",
        "1 when the health check passes, by server.",
    );
    for (b, a, s) in &rows {
        let _ = writeln!(
            out,
            "parvis_backend_up{{backend=\"{b}\",server=\"{a}\"}} {}",
            u8::from(s.up)
        );
    }
    head(
        out,
        "backend_server_drained",
        "gauge",
        "1 when the operator drained the server (no new connection).",
    );
    for (b, a, s) in &rows {
        let _ = writeln!(
            out,
            "parvis_backend_server_drained{{backend=\"{b}\",server=\"{a}\"}} {}",
            u8::from(s.drained)
        );
    }
    head(
        out,
        "backend_active_connections",
        "gauge",
        "Connections open now, by server.",
    );
    for (b, a, s) in &rows {
        let _ = writeln!(
            out,
            "parvis_backend_active_connections{{backend=\"{b}\",server=\"{a}\"}} {}",
            s.active
        );
    }
    head(
        out,
        "backend_connections_total",
        "counter",
        "Connections forwarded, by server.",
    );
    for (b, a, s) in &rows {
        let _ = writeln!(
            out,
            "parvis_backend_connections_total{{backend=\"{b}\",server=\"{a}\"}} {}",
            s.total
        );
    }
    head(
        out,
        "backend_bytes_total",
        "counter",
        "Bytes relayed, by server and direction.",
    );
    for (b, a, s) in &rows {
        let _ = writeln!(
            out,
            "parvis_backend_bytes_total{{backend=\"{b}\",server=\"{a}\",direction=\"in\"}} {}",
            s.bytes_in
        );
        let _ = writeln!(
            out,
            "parvis_backend_bytes_total{{backend=\"{b}\",server=\"{a}\",direction=\"out\"}} {}",
            s.bytes_out
        );
    }
    let active: u64 = c.connections().len() as u64;
    head(
        out,
        "active_connections",
        "gauge",
        "Forwarded connections open now.",
    );
    let _ = writeln!(out, "parvis_active_connections {active}");
}

fn firewall(out: &mut String, c: &dyn Control) {
    if let Ok(bans) = c.bans() {
        head(out, "bans", "gauge", "Sources banned now.");
        let _ = writeln!(out, "parvis_bans {}", bans.len());
    }
    if let Ok(r) = c.ruleset() {
        head(
            out,
            "rule_packets_total",
            "counter",
            "Packets matched, by rule.",
        );
        for rc in &r.counters {
            let _ = writeln!(
                out,
                "parvis_rule_packets_total{{chain=\"{}\",rule=\"{}\"}} {}",
                label(&rc.chain),
                label(&rc.comment),
                rc.packets
            );
        }
        head(
            out,
            "rule_bytes_total",
            "counter",
            "Bytes matched, by rule.",
        );
        for rc in &r.counters {
            let _ = writeln!(
                out,
                "parvis_rule_bytes_total{{chain=\"{}\",rule=\"{}\"}} {}",
                label(&rc.chain),
                label(&rc.comment),
                rc.bytes
            );
        }
    }
}

fn extra(out: &mut String, m: &MetricsView) {
    if let Some(dropped) = m.log_dropped {
        head(
            out,
            "log_dropped_total",
            "counter",
            "Connection log lines dropped because the queue was full.",
        );
        let _ = writeln!(out, "parvis_log_dropped_total {dropped}");
    }
    if !m.connections.is_empty() {
        head(
            out,
            "connections_total",
            "counter",
            "Finished connections, by listener, backend and result.",
        );
        for cc in &m.connections {
            let _ = writeln!(
                out,
                "parvis_connections_total{{listener=\"{}\",backend=\"{}\",result=\"{}\"}} {}",
                label(&cc.listener),
                label(&cc.backend),
                label(&cc.result),
                cc.count
            );
        }
    }
    if let Some(h) = &m.hello_seconds {
        histogram(
            out,
            "hello_read_seconds",
            "Time to read the ClientHello or request head.",
            h,
        );
    }
    if let Some(n) = &m.nft_apply {
        head(
            out,
            "nft_apply_duration_seconds",
            "gauge",
            "Duration of the last nftables apply.",
        );
        let _ = writeln!(
            out,
            "parvis_nft_apply_duration_seconds {}",
            n.last_duration_secs
        );
        head(
            out,
            "nft_apply_total",
            "counter",
            "nftables applies, by result.",
        );
        let _ = writeln!(
            out,
            "parvis_nft_apply_total{{result=\"ok\"}} {}",
            n.ok_total
        );
        let _ = writeln!(
            out,
            "parvis_nft_apply_total{{result=\"failed\"}} {}",
            n.failed_total
        );
        head(
            out,
            "nft_apply_last_ok",
            "gauge",
            "1 when the last nftables apply succeeded.",
        );
        let _ = writeln!(out, "parvis_nft_apply_last_ok {}", u8::from(n.last_ok));
    }
    limit_sets(out, &m.limit_sets);
}

/// How full the meter and ban sets are: a full meter refuses new sources.
fn limit_sets(out: &mut String, sets: &[crate::api::SetFillView]) {
    if sets.is_empty() {
        return;
    }
    head(
        out,
        "limits_set_elements",
        "gauge",
        "Sources in each meter and ban set; when a meter is full, new sources are refused.",
    );
    for s in sets {
        let _ = writeln!(
            out,
            "parvis_limits_set_elements{{set=\"{}\"}} {}",
            label(&s.set),
            s.elements
        );
    }
    head(
        out,
        "limits_set_size",
        "gauge",
        "Sources each meter and ban set can hold (limits.meter_size).",
    );
    for s in sets {
        let _ = writeln!(
            out,
            "parvis_limits_set_size{{set=\"{}\"}} {}",
            label(&s.set),
            s.size
        );
    }
}

fn histogram(out: &mut String, name: &str, help: &str, h: &HistogramView) {
    head(out, name, "histogram", help);
    for (b, c) in h.bounds.iter().zip(&h.counts) {
        let _ = writeln!(out, "parvis_{name}_bucket{{le=\"{b}\"}} {c}");
    }
    let _ = writeln!(out, "parvis_{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "parvis_{name}_sum {}", h.sum);
    let _ = writeln!(out, "parvis_{name}_count {}", h.count);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn conntrack_usage_is_read_from_the_files() {
        let dir = std::env::temp_dir().join(format!("pv-ct-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut out = String::new();
        conntrack(&mut out, &dir);
        assert_eq!(out, "", "no files, no figures");
        std::fs::write(dir.join("nf_conntrack_count"), "17\n").unwrap();
        std::fs::write(dir.join("nf_conntrack_max"), "262144\n").unwrap();
        conntrack(&mut out, &dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(out.contains("\nparvis_conntrack_entries 17\n"), "{out}");
        assert!(out.contains("\nparvis_conntrack_max 262144\n"), "{out}");
    }

    #[test]
    fn labels_are_escaped_and_histograms_end_with_inf() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut out = String::new();
        let h = HistogramView {
            bounds: vec![0.01, 0.1],
            counts: vec![3, 5],
            sum: 0.2,
            count: 6,
        };
        histogram(&mut out, "x_seconds", "help", &h);
        assert!(
            out.contains("parvis_x_seconds_bucket{le=\"0.1\"} 5"),
            "{out}"
        );
        assert!(
            out.contains("parvis_x_seconds_bucket{le=\"+Inf\"} 6"),
            "{out}"
        );
        assert!(out.contains("parvis_x_seconds_count 6"), "{out}");
    }
}
