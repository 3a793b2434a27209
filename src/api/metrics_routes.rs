//! The per-route and health-check parts of the Prometheus text:
//! `parvis_route_connections_total`, `parvis_route_bytes_total` and
//! `parvis_health_transitions_total`. Pure.

use std::fmt::Write;

use super::prom::{head, label};
use super::MetricsView;

/// Appends the route and health-transition families of `m` to `out`.
pub(super) fn render(out: &mut String, m: &MetricsView) {
    if !m.routes.is_empty() {
        head(
            out,
            "route_connections_total",
            "counter",
            "Connections routed, by listener, route (its hosts, or default) and backend.",
        );
        for r in &m.routes {
            let _ = writeln!(
                out,
                "parvis_route_connections_total{{{}}} {}",
                labels(r),
                r.connections
            );
        }
        head(
            out,
            "route_bytes_total",
            "counter",
            "Bytes relayed, by listener, route, backend and direction (in: client to backend).",
        );
        for r in &m.routes {
            for (dir, n) in [("in", r.bytes_in), ("out", r.bytes_out)] {
                let _ = writeln!(
                    out,
                    "parvis_route_bytes_total{{{},direction=\"{dir}\"}} {n}",
                    labels(r)
                );
            }
        }
    }
    if !m.health_transitions.is_empty() {
        head(
            out,
            "health_transitions_total",
            "counter",
            "Health-check verdict changes, by backend, server and the state reached.",
        );
        for t in &m.health_transitions {
            let _ = writeln!(
                out,
                "parvis_health_transitions_total{{backend=\"{}\",server=\"{}\",to=\"{}\"}} {}",
                label(&t.backend),
                t.server,
                label(&t.to),
                t.count
            );
        }
    }
}

fn labels(r: &super::RouteCountView) -> String {
    format!(
        "listener=\"{}\",route=\"{}\",backend=\"{}\"",
        label(&r.listener),
        label(&r.route),
        label(&r.backend)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{HealthTransitionView, RouteCountView};

    #[test]
    fn routes_and_transitions_render_with_their_labels() {
        let m = MetricsView {
            routes: vec![RouteCountView {
                listener: "https".into(),
                route: "a.example,*.b.example alpn=h2".into(),
                backend: "web".into(),
                connections: 3,
                bytes_in: 10,
                bytes_out: 20,
            }],
            health_transitions: vec![HealthTransitionView {
                backend: "web".into(),
                server: "10.0.0.2:443".parse().expect("addr"),
                to: "down".into(),
                count: 1,
            }],
            ..MetricsView::default()
        };
        let mut out = String::new();
        render(&mut out, &m);
        let l = "listener=\"https\",route=\"a.example,*.b.example alpn=h2\",backend=\"web\"";
        assert!(
            out.contains(&format!("parvis_route_connections_total{{{l}}} 3\n")),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "parvis_route_bytes_total{{{l},direction=\"out\"}} 20\n"
            )),
            "{out}"
        );
        assert!(out.contains("parvis_health_transitions_total{backend=\"web\",server=\"10.0.0.2:443\",to=\"down\"} 1\n"), "{out}");
        let mut empty = String::new();
        render(&mut empty, &MetricsView::default());
        assert!(empty.is_empty());
    }
}
