//! The last hop, end to end (needs root): a client on the "internet" goes
//! through the floating IP and parvis to real Apache httpd, nginx and
//! HAProxy, configured from the templates in `docs/ingress/`, and each
//! server's own access log shows the client's address (PROXY v1 and v2);
//! another host on the internal network that sends a forged PROXY header is
//! refused or not believed. A receiver whose Debian package is missing is
//! skipped with a printed reason.
//!
//! Does I/O: namespaces, the daemon, the servers, curl and python clients.

mod e2e_support;
mod ingress_support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use e2e_support::*;
use ingress_support::*;
use parvis::lab::receiver::{self, Kind, Params, Receiver};
use parvis::lab::{self, Ns, CLIENT, CLIENT_2, FLOATING_IP, INGRESS};

/// Only parvis's internal address may claim a client address.
const TRUSTED: &str = "10.0.0.1/32";

#[test]
fn apache_httpd_logs_the_client_and_refuses_other_peers() {
    last_hop(Kind::Apache);
}

#[test]
fn nginx_logs_the_client_and_ignores_other_peers_claims() {
    last_hop(Kind::Nginx);
}

#[test]
fn haproxy_logs_the_client_and_refuses_other_peers() {
    last_hop(Kind::Haproxy);
}

/// Where each receiver listens for parvis.
fn listen(kind: Kind) -> SocketAddr {
    match kind {
        Kind::Apache => (INGRESS[0], 8443).into(),
        Kind::Nginx => (INGRESS[1], 8443).into(),
        Kind::Haproxy => (INGRESS[0], 9443).into(),
        Kind::Traefik => unreachable!("tests/ingress_traefik.rs"),
    }
}

/// `apache-v1.example.org`: the route that reaches `kind` with PROXY `ver`.
fn host(kind: Kind, ver: &str) -> String {
    format!("{}-{ver}.example.org", kind.name())
}

/// Routes and backends appended to the lab's sample config: one host name
/// per receiver and PROXY version.
fn routes(kind: Kind) -> String {
    ["v1", "v2"]
        .iter()
        .map(|ver| {
            format!(
                "\n[[route]]\nlistener = \"https\"\nhosts = [\"{h}\"]\nbackend = \"{b}\"\n\
                 \n[backend.{b}]\nservers = [\"{addr}\"]\nproxy_protocol = \"{ver}\"\n",
                h = host(kind, ver),
                b = format_args!("{}-{ver}", kind.name()),
                addr = listen(kind),
            )
        })
        .collect()
}

fn last_hop(kind: Kind) {
    if kind.installed().is_none() {
        println!(
            "SKIPPED: {} is not installed (Debian package {}; `scripts/deps.sh test` installs it)",
            kind.program(),
            kind.package()
        );
        return;
    }
    let lab = lab_with(|text| text + &routes(kind));
    let ns = match kind {
        Kind::Nginx => lab.topo.ingress(1),
        _ => lab.topo.ingress(0),
    };
    let params = Params {
        listen: listen(kind),
        name: format!("{}.example.org", kind.name()),
        parvis: TRUSTED.into(),
        dir: lab.dir.join(kind.name()),
        upstream: None,
    };
    let server = receiver::start(kind, ns, &params).unwrap_or_else(|e| panic!("{e}"));
    through_parvis(&lab, &server, "v1", CLIENT);
    through_parvis(&lab, &server, "v2", CLIENT_2);
    let intruder = lab
        .topo
        .attach_internal("intruder", INTRUDER)
        .unwrap_or_else(|e| panic!("intruder: {e}"));
    for ver in ["v1", "v2"] {
        forged(&intruder, &server, ver);
    }
    without_header(&intruder, &server);
}

/// A connection without a PROXY header is refused: the port is for parvis.
fn without_header(intruder: &Ns, server: &Receiver) {
    let kind = server.kind();
    let sni = format!("{}-bare.example.org", kind.name());
    let out = tls_get(intruder, listen(kind), b"", &sni);
    println!("{} without a header: intruder got {out:?}", kind.program());
    assert!(out.starts_with("ERROR"), "{out}");
}

/// A client at `from` reaches the receiver through the floating IP; the
/// answer and the server's access log carry `from`, the SNI and (HAProxy,
/// v2) the AUTHORITY TLV parvis sent.
fn through_parvis(lab: &Lab, server: &Receiver, ver: &str, from: Ipv4Addr) {
    let kind = server.kind();
    let name = host(kind, ver);
    let resolve = format!("{name}:443:{FLOATING_IP}");
    let body = client_curl(
        &lab.topo,
        &[
            "-k",
            "--interface",
            &from.to_string(),
            "--resolve",
            &resolve,
            &format!("https://{name}/"),
        ],
    );
    assert!(
        body.ends_with(&format!("client={from}\n")),
        "{kind:?} {ver}: answered {body:?}"
    );
    let line = log_line(server, &format!("client={from} "));
    println!("{} {ver} access log: {line}", kind.program());
    assert!(line.contains(&format!(" sni={name} ")), "{line}");
    assert!(line.contains(&format!(" host={name} ")), "{line}");
    assert!(line.ends_with(" 200"), "{line}");
    match kind {
        Kind::Apache | Kind::Nginx => {
            let peer = format!(" peer={} ", lab::APPLIANCE_INTERNAL);
            assert!(line.contains(&peer), "{line}");
        }
        Kind::Haproxy if ver == "v2" => {
            assert!(line.contains(&format!(" authority={name} ")), "{line}")
        }
        Kind::Haproxy => assert!(!line.contains(&format!("authority={name}")), "{line}"),
        Kind::Traefik => unreachable!("tests/ingress_traefik.rs"),
    }
}

/// The intruder connects straight to the receiver and claims [`CLAIM`] in
/// a `ver` header: Apache answers 403 and logs the real peer, nginx serves
/// it as itself, HAProxy refuses the connection.
fn forged(intruder: &Ns, server: &Receiver, ver: &str) {
    let kind = server.kind();
    let addr = listen(kind);
    let header = forged_header(ver, addr);
    let sni = format!("{}-forged-{ver}.example.org", kind.name());
    let out = tls_get(intruder, addr, &header, &sni);
    println!("{} forged {ver}: intruder got {out:?}", kind.program());
    match kind {
        Kind::Apache => {
            assert!(out.starts_with("HTTP/1.1 403 "), "{out}");
            let line = log_line(server, &format!(" sni={sni} "));
            println!("{} forged {ver} access log: {line}", kind.program());
            assert!(line.contains(&format!(" peer={INTRUDER} ")), "{line}");
            assert!(line.ends_with(" 403"), "{line}");
        }
        Kind::Nginx => {
            assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
            assert!(out.ends_with(&format!("client={INTRUDER}\n")), "{out}");
            let line = log_line(server, &format!(" sni={sni} "));
            println!("{} forged {ver} access log: {line}", kind.program());
            assert!(line.starts_with(&format!("client={INTRUDER} ")), "{line}");
            assert!(line.contains(&format!(" claimed={CLAIM} ")), "{line}");
        }
        Kind::Haproxy => {
            assert!(out.starts_with("ERROR"), "{out}");
            std::thread::sleep(Duration::from_millis(300));
            let log = server.access_log();
            assert!(!log.contains(&CLAIM.to_string()), "{log}");
            assert!(!log.contains(&sni), "{log}");
        }
        Kind::Traefik => unreachable!("tests/ingress_traefik.rs"),
    }
}

/// `parvis lab`'s Apache behind `civi.example.org`: the same template, the
/// same route, reached from the client through the floating IP.
#[test]
fn the_labs_apache_answers_for_civi_with_the_client_address() {
    if Kind::Apache.installed().is_none() {
        println!("SKIPPED: apache2 is not installed (Debian package apache2)");
        return;
    }
    let lab = lab_with(|text| text + &lab::civi_config());
    let apache =
        lab::start_civi(&lab.topo, &lab.dir.join("apache")).unwrap_or_else(|e| panic!("{e}"));
    let body = lab.https(lab::CIVI_HOST, "/");
    assert_eq!(body, format!("Apache httpd: client={CLIENT}\n"));
    let line = log_line(&apache, &format!("client={CLIENT} "));
    println!("lab apache access log: {line}");
    let want = format!(
        "client={CLIENT} peer={} sni={h} host={h} \"GET / HTTP/1.1\" 200",
        lab::APPLIANCE_INTERNAL,
        h = lab::CIVI_HOST
    );
    assert_eq!(line, want);
}
