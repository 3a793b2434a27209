//! The lab topology and the demo ingress, end to end (needs root).
//!
//! Does I/O: builds network namespaces and runs real clients in them.

mod support;

use std::net::SocketAddr;
use std::process::Command;

use parvis::demo::ProxyMode;
use parvis::lab::{self, Options};
use ppp::v2::{Builder, Command as PpCommand, Protocol, Version};
use support::*;

/// A socat in the appliance that answers each connection with the peer
/// address it saw, reached from the client through the floating IP.
#[test]
fn floating_ip_nat_keeps_the_client_address() {
    let topo = topology();
    let listen = format!(
        "TCP-LISTEN:7000,bind={},reuseaddr,fork",
        lab::APPLIANCE_PUBLIC
    );
    let _echo = topo
        .appliance()
        .spawn(&["socat", &listen, "SYSTEM:echo $SOCAT_PEERADDR"])
        .expect("start socat");
    wait_tcp(topo.appliance(), lab::APPLIANCE_PUBLIC, 7000);

    let fip = format!("TCP:{}:7000", lab::FLOATING_IP);
    let seen = run_with_input(topo.client(), &["socat", "-T5", "-", &fip], b"");
    assert_eq!(seen.trim(), lab::CLIENT.to_string());

    let from_second = format!("{fip},bind={}", lab::CLIENT_2);
    let seen = run_with_input(topo.client(), &["socat", "-T5", "-", &from_second], b"");
    assert_eq!(seen.trim(), lab::CLIENT_2.to_string());

    let ping = topo
        .client()
        .run(&["ping", "-c1", "-W3", &lab::FLOATING_IP.to_string()]);
    assert!(ping.is_ok(), "floating IP does not answer ping: {ping:?}");
}

#[test]
fn appliance_reaches_both_ingresses_over_tls_and_http() {
    let topo = topology();
    let _ingresses = start_ingresses(&topo, ProxyMode::Optional);
    for (i, addr) in lab::INGRESS.iter().enumerate() {
        let name = format!("ingress{}", i + 1);
        let resolve = format!("paroisse-a.example.org:443:{addr}");
        let body = curl(
            topo.appliance(),
            &[
                "-k",
                "--resolve",
                &resolve,
                "https://paroisse-a.example.org/",
            ],
        );
        let expect = format!("ingress={name} client={}:", lab::APPLIANCE_INTERNAL);
        assert!(body.starts_with(&expect), "{body}");
        assert!(
            body.ends_with(
                "proxy=none sni=paroisse-a.example.org authority=- host=paroisse-a.example.org\n"
            ),
            "{body}"
        );

        let body = curl(topo.appliance(), &[&format!("http://{addr}/")]);
        assert!(body.starts_with(&expect), "{body}");
        assert!(
            body.ends_with(&format!("sni=- authority=- host={addr}\n")),
            "{body}"
        );
    }
    let stream = curl(
        topo.appliance(),
        &[&format!("http://{}/stream?bytes=300000", lab::INGRESS[1])],
    );
    assert_eq!(stream.len(), 300_000);
    // A broken handshake closes that connection only.
    let tls_port = format!("TCP:{}:443", lab::INGRESS[0]);
    let junk = b"\x16\x03\x01\x00\x05hello\r\n\r\n";
    let _ = topo
        .appliance()
        .run_with_input(&["socat", "-t2", "-T5", "-", &tls_port], junk);
    let resolve = format!("paroisse-a.example.org:443:{}", lab::INGRESS[0]);
    let body = curl(
        topo.appliance(),
        &[
            "-k",
            "--resolve",
            &resolve,
            "https://paroisse-a.example.org/",
        ],
    );
    assert!(body.starts_with("ingress=ingress1 "), "{body}");
    let started = std::time::Instant::now();
    let held = curl(
        topo.appliance(),
        &[&format!("http://{}/hold?secs=1", lab::INGRESS[0])],
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert!(held.starts_with("ingress=ingress1 "), "{held}");
}

fn v2_header(src: SocketAddr, dst: SocketAddr, authority: &str) -> Vec<u8> {
    Builder::with_addresses(
        Version::Two | PpCommand::Proxy,
        Protocol::Stream,
        (src, dst),
    )
    .write_tlv(0x02, authority.as_bytes())
    .and_then(Builder::build)
    .expect("v2 header")
}

#[test]
fn demo_ingress_reports_what_a_proxy_header_said() {
    let topo = topology();
    let _ingresses = start_ingresses(&topo, ProxyMode::Required);
    let src: SocketAddr = (lab::CLIENT, 40000).into();
    let host = "paroisse-a.example.org";

    // v2 + HTTP, sent by hand.
    let mut input = v2_header(src, (lab::FLOATING_IP, 80).into(), host);
    input.extend_from_slice(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
    let target = format!("TCP:{}:80", lab::INGRESS[0]);
    let out = run_with_input(
        topo.appliance(),
        &["socat", "-t5", "-T10", "-", &target],
        &input,
    );
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("Connection: close\r\n"), "{out}");
    let want_http =
        format!("ingress=ingress1 client={src} proxy=v2 sni=- authority={host} host={host}\n");
    assert!(out.ends_with(&want_http), "{out}");

    // v2 + TLS: the header reader must not eat the ClientHello.
    let header = v2_header(
        src,
        (lab::FLOATING_IP, 443).into(),
        "paroisse-b.example.org",
    );
    let out = tls_after_header(&topo, lab::INGRESS[1], &header, "paroisse-b.example.org");
    let want = format!(
        "ingress=ingress2 client={src} proxy=v2 sni=paroisse-b.example.org \
         authority=paroisse-b.example.org host=paroisse-b.example.org\n"
    );
    assert!(out.ends_with(&want), "{out}");

    // v1 from curl itself.
    let body = curl(
        topo.appliance(),
        &[
            "--haproxy-protocol",
            &format!("http://{}/", lab::INGRESS[1]),
        ],
    );
    assert!(body.contains(" proxy=v1 "), "{body}");

    // `required`: no header, no answer; the server keeps serving.
    let bare = topo.appliance().run(&[
        "curl",
        "-sS",
        "--max-time",
        "5",
        &format!("http://{}/", lab::INGRESS[0]),
    ]);
    assert!(bare.is_err(), "answered without a PROXY header: {bare:?}");
    let again = run_with_input(
        topo.appliance(),
        &["socat", "-t5", "-T10", "-", &target],
        &input,
    );
    assert!(again.ends_with(&want_http), "{again}");
}

/// Python's ssl over a socket that first sent `header`; returns the body.
fn tls_after_header(
    topo: &lab::Topology,
    addr: std::net::Ipv4Addr,
    header: &[u8],
    sni: &str,
) -> String {
    let script = format!(
        "import socket, ssl, sys\n\
         s = socket.create_connection(('{addr}', 443), timeout=10)\n\
         s.sendall(sys.stdin.buffer.read())\n\
         ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
         t = ctx.wrap_socket(s, server_hostname='{sni}')\n\
         t.sendall(b'GET / HTTP/1.1\\r\\nHost: {sni}\\r\\n\\r\\n')\n\
         data = b''\n\
         while True:\n\
         \x20   chunk = t.recv(4096)\n\
         \x20   if not chunk: break\n\
         \x20   data += chunk\n\
         sys.stdout.write(data.decode())\n"
    );
    run_with_input(
        topo.appliance(),
        &["/usr/bin/python3", "-c", &script],
        header,
    )
}

#[test]
fn two_topologies_exist_at_once() {
    let builders: Vec<_> = (0..2).map(|_| std::thread::spawn(topology)).collect();
    let topos: Vec<_> = builders
        .into_iter()
        .map(|b| b.join().expect("build thread"))
        .collect();
    assert_ne!(topos[0].client().name(), topos[1].client().name());
    assert_ne!(topos[0].public_port().mac, topos[1].public_port().mac);
    for topo in &topos {
        let ping = topo
            .client()
            .run(&["ping", "-c1", "-W3", &lab::FLOATING_IP.to_string()]);
        assert!(ping.is_ok(), "{}: {ping:?}", topo.client().name());
    }
}

#[test]
fn drop_and_panic_remove_every_namespace_and_process() {
    let topo = topology();
    let names: Vec<String> = topo
        .namespaces()
        .iter()
        .map(|n| n.name().to_owned())
        .collect();
    assert!(names
        .iter()
        .all(|n| n.starts_with(&format!("pv-{}-", std::process::id()))));
    let mut stray = topo.server().command("sleep");
    let mut stray = stray.arg("300").spawn().expect("spawn sleep");
    drop(topo);
    let left = namespaces();
    assert!(
        names.iter().all(|n| !left.contains(n)),
        "left behind: {left:?}"
    );
    // Killed by the namespace's removal, not by us.
    let status = stray.wait().expect("wait sleep");
    assert!(!status.success());

    let built = std::panic::catch_unwind(|| {
        let topo = topology();
        let names: Vec<String> = topo
            .namespaces()
            .iter()
            .map(|n| n.name().to_owned())
            .collect();
        std::panic::resume_unwind(Box::new(names));
    });
    let names = built
        .err()
        .and_then(|p| p.downcast::<Vec<String>>().ok())
        .expect("panic payload");
    let left = namespaces();
    assert!(
        names.iter().all(|n| !left.contains(n)),
        "left behind after panic: {left:?}"
    );
}

#[test]
fn leftover_of_a_dead_process_is_swept() {
    let mut gone = Command::new("true").spawn().expect("spawn true");
    let dead = gone.id();
    gone.wait().expect("wait true");
    let name = format!("pv-{dead}-0-client");
    let made = Command::new("ip").args(["netns", "add", &name]).status();
    assert!(made.is_ok_and(|s| s.success()), "cannot add {name}");
    let _topo = topology();
    assert!(!namespaces().contains(&name), "{name} survived the sweep");
}

#[test]
fn options_swap_ports_and_leave_the_appliance_bare() {
    let topo = topology_with(Options {
        swap_ports: true,
        configure_appliance: false,
        ..Options::default()
    });
    let (public, internal) = (topo.public_port(), topo.internal_port());
    assert_eq!((public.name, internal.name), ("ens4", "ens3"));
    let out = topo.appliance().ip(&["-br", "link"]).expect("ip link");
    let links = String::from_utf8_lossy(&out.stdout);
    assert!(links.contains(&public.mac.to_string()), "{links}");
    assert!(links
        .lines()
        .any(|l| l.starts_with("ens4") && l.contains(&public.mac.to_string())));
    let out = topo.appliance().ip(&["-4", "-o", "addr"]).expect("ip addr");
    let addrs = String::from_utf8_lossy(&out.stdout);
    assert!(addrs.lines().all(|l| l.contains(" lo ")), "{addrs}");
}
