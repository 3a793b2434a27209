//! End to end through real namespaces, as root: `parvis serve` in the
//! appliance namespace, HAProxy `accept-proxy` ingress nodes, curl, openssl
//! and Python-crafted ClientHellos as clients.

mod fwd_support;

use std::time::{Duration, Instant};

use fwd_support::Topo;

const CONFIG: &str = r#"
[appliance]
name = "fwd-test"

[[listener]]
name = "https"
bind = "192.168.10.5:443"
protocol = "tls"
default_backend = "dflt"
hello_timeout = "2s"

[[listener]]
name = "strict"
bind = "192.168.10.5:7443"
protocol = "tls"
max_connections = 1

[[listener]]
name = "trusted"
bind = "192.168.10.5:9443"
protocol = "tls"
accept_proxy = ["198.51.100.11"]
default_backend = "dflt"

[[listener]]
name = "http"
bind = "192.168.10.5:80"
protocol = "http"

[[route]]
listener = "https"
hosts = ["a.example.org", "*.deep.example.org"]
backend = "one-v2"

[[route]]
listener = "https"
hosts = ["*.example.org"]
backend = "two-v1"

[[route]]
listener = "strict"
hosts = ["a.example.org"]
backend = "one-v2"

[[route]]
listener = "http"
hosts = ["a.example.org"]
backend = "plain"

[backend.one-v2]
servers = ["10.0.0.11:443"]
proxy_protocol = "v2"

[backend.two-v1]
servers = ["10.0.0.12:443"]
proxy_protocol = "v1"

[backend.dflt]
servers = ["10.0.0.11:443", "10.0.0.12:443"]
proxy_protocol = "v2"
balance = "source-hash"
health = { interval = "200ms", timeout = "200ms", fall = 2, rise = 2 }

[backend.plain]
servers = ["10.0.0.11:80"]
proxy_protocol = "v1"
"#;

fn stdout(out: std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn curl(t: &Topo, name: &str, port: u16, source: &str) -> String {
    let resolve = format!("{name}:{port}:192.168.10.5");
    let url = format!("https://{name}:{port}/");
    let out = t.run(
        &t.client,
        &[
            "curl",
            "-sk",
            "-m",
            "5",
            "--interface",
            source,
            "--resolve",
            &resolve,
            &url,
        ],
    );
    stdout(out)
}

fn support(t: &Topo, file: &str) -> String {
    let _ = t;
    format!("{}/tests/fwd_support/{file}", env!("CARGO_MANIFEST_DIR"))
}

fn py_tls(t: &Topo, port: &str, sni: &str, mode: &str, prefix: &str) -> String {
    let script = support(t, "tls_client.py");
    stdout(t.run(
        &t.client,
        &["python3", &script, "192.168.10.5", port, sni, mode, prefix],
    ))
}

fn raw(t: &Topo, port: &str, hex: &str) -> String {
    let script = support(t, "raw.py");
    stdout(t.run(&t.client, &["python3", &script, "192.168.10.5", port, hex]))
}

/// The test config with this topology's own state folder (config history,
/// admin certificate), so parallel runs never share one.
fn config(t: &Topo) -> String {
    CONFIG.replacen(
        "name = \"fwd-test\"",
        &format!(
            "name = \"fwd-test\"\nstate_dir = \"{}\"",
            t.path("state").display()
        ),
        1,
    )
}

fn start(t: &mut Topo) {
    let text = config(t);
    t.serve(&text);
}

#[test]
fn forwarder_end_to_end() {
    let mut t = Topo::new(); // checks for root
    t.start_ingress();
    start(&mut t);

    eprintln!("== routing_and_proxy_versions");
    routing_and_proxy_versions(&t);
    eprintln!("== crafted_hellos");
    crafted_hellos(&t);
    eprintln!("== bad_inputs_close_only_their_connection");
    bad_inputs_close_only_their_connection(&t);
    eprintln!("== accept_proxy_trusted_and_untrusted");
    accept_proxy_trusted_and_untrusted(&t);
    eprintln!("== overload_and_reload");
    overload_and_reload(&t);
    eprintln!("== source_hash_and_backend_failure");
    source_hash_and_backend_failure(&mut t);
    eprintln!("== graceful_stop");
    graceful_stop(&mut t);
}

fn routing_and_proxy_versions(t: &Topo) {
    // Exact name → v2 with the AUTHORITY TLV, real client address.
    let a = curl(t, "a.example.org", 443, "198.51.100.10");
    assert_eq!(
        a,
        "srv=ingress1 ci=198.51.100.10 sni=a.example.org auth=a.example.org"
    );
    // Wildcard → v1 (no TLV), most specific wildcard wins over the wider one.
    let b = curl(t, "b.example.org", 443, "198.51.100.10");
    assert_eq!(b, "srv=ingress2 ci=198.51.100.10 sni=b.example.org auth=");
    let deep = curl(t, "x.deep.example.org", 443, "198.51.100.10");
    assert!(deep.starts_with("srv=ingress1 ci=198.51.100.10"), "{deep}");
    // Unknown name → default backend; on a listener without default → closed.
    let other = curl(t, "other.test", 443, "198.51.100.10");
    assert!(
        other.contains("ci=198.51.100.10 sni=other.test auth=other.test"),
        "{other}"
    );
    assert_eq!(curl(t, "other.test", 7443, "198.51.100.10"), "");
    std::thread::sleep(Duration::from_millis(100));
    assert!(curl(t, "a.example.org", 7443, "198.51.100.10").starts_with("srv=ingress1"));
    // No SNI → default backend (openssl s_client -noservername).
    let out = t.run(&t.client, &["sh", "-c",
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 5 openssl s_client -quiet -connect 192.168.10.5:443 -noservername 2>/dev/null"]);
    let body = stdout(out);
    assert!(body.contains("ci=198.51.100.10 sni= auth="), "{body}");
    // openssl with SNI, and plain HTTP routed on Host with a port and odd case.
    let out = t.run(&t.client, &["sh", "-c",
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 5 openssl s_client -quiet -connect 192.168.10.5:443 -servername a.example.org 2>/dev/null"]);
    assert!(stdout(out).contains("srv=ingress1 ci=198.51.100.10 sni=a.example.org"));
    let out = t.run(
        &t.client,
        &[
            "curl",
            "-s",
            "-m",
            "5",
            "-H",
            "Host: A.Example.ORG:80",
            "http://192.168.10.5/",
        ],
    );
    assert_eq!(
        stdout(out),
        "srv=ingress1 ci=198.51.100.10 host=A.Example.ORG:80"
    );
    let out = t.run(
        &t.client,
        &[
            "curl",
            "-s",
            "-m",
            "5",
            "-H",
            "Host: nope.example.org",
            "http://192.168.10.5/",
        ],
    );
    assert_eq!(
        stdout(out),
        "",
        "no route and no default on the http listener"
    );
}

fn crafted_hellos(t: &Topo) {
    let want = "srv=ingress1 ci=198.51.100.10 sni=a.example.org auth=a.example.org";
    assert_eq!(py_tls(t, "443", "a.example.org", "whole", ""), want);
    assert_eq!(
        py_tls(t, "443", "a.example.org", "bytes", ""),
        want,
        "one byte per segment"
    );
    assert_eq!(
        py_tls(t, "443", "a.example.org", "records:50", ""),
        want,
        "several records"
    );
    assert_eq!(
        py_tls(t, "443", "a.example.org", "records:1", ""),
        want,
        "one-byte records"
    );
    assert_eq!(
        py_tls(t, "443", "a.example.org", "big", ""),
        want,
        "ClientHello > 1500 bytes"
    );
}

fn bad_inputs_close_only_their_connection(t: &Topo) {
    // Not TLS: closed at once, nothing forwarded.
    let r = raw(
        t,
        "443",
        &hex(b"GET / HTTP/1.1\r\nHost: a.example.org\r\n\r\n"),
    );
    assert!(r.starts_with("eof") && r.ends_with(" 0"), "{r}");
    // Oversized: a record header announcing a 20 KiB handshake.
    let r = raw(t, "443", "160301400001005000");
    assert!(r.starts_with("eof") && r.ends_with(" 0"), "{r}");
    // Silent client: closed at hello_timeout (2s), not before, not much after.
    let start = Instant::now();
    let r = raw(t, "443", "");
    let took = start.elapsed();
    assert!(r.starts_with("eof"), "{r}");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    // Truncated hello then silence: same timeout.
    let r = raw(t, "443", "16030100");
    assert!(r.starts_with("eof 2") || r.starts_with("eof 1.9"), "{r}");
    // The daemon still serves.
    assert!(curl(t, "a.example.org", 443, "198.51.100.10").starts_with("srv=ingress1"));
}

fn accept_proxy_trusted_and_untrusted(t: &Topo) {
    let v1 = hex(b"PROXY TCP4 203.0.113.77 192.168.10.5 5555 443\r\n");
    // Untrusted peer (198.51.100.10) sending a header: closed.
    let r = raw(t, "443", &v1);
    assert!(r.starts_with("eof") && r.ends_with(" 0"), "{r}");
    let r = raw(t, "9443", &v1);
    assert!(r.starts_with("eof") && r.ends_with(" 0"), "{r}");
    // Trusted peer (198.51.100.11): the header's source becomes the client.
    let script = support(t, "tls_client.py");
    let from_trusted = |prefix: &str| {
        let code = format!(
            "import runpy,socket,sys; orig=socket.create_connection; \
             socket.create_connection=lambda a,t=None: orig(a,t,('198.51.100.11',0)); \
             sys.argv=['x','192.168.10.5','9443','a.example.org','whole','{prefix}']; runpy.run_path('{script}')"
        );
        stdout(t.run(&t.client, &["python3", "-c", &code]))
    };
    let got = from_trusted(&v1);
    assert!(
        got.contains("ci=203.0.113.77 sni=a.example.org"),
        "v1 from trusted: {got}"
    );
    let v2 = "0d0a0d0a000d0a515549540a211100".to_string()
        + "0c"
        + "cb00714d"
        + "c0a80a05"
        + "15b3"
        + "01bb";
    let got = from_trusted(&v2);
    assert!(
        got.contains("ci=203.0.113.77 sni=a.example.org"),
        "v2 from trusted: {got}"
    );
    // A malformed header from the trusted peer: closed.
    let got = from_trusted(&hex(b"PROXY TCP4 junk\r\n"));
    assert!(!got.contains("srv="), "{got}");
    // And the trusted listener without a header from an untrusted peer serves.
    let got = py_tls(t, "9443", "a.example.org", "whole", "");
    assert!(got.contains("ci=198.51.100.10"), "{got}");
}

fn overload_and_reload(t: &Topo) {
    // The strict listener takes one connection: a silent client holds it,
    // the next one is closed at once without reaching a backend.
    let script = support(t, "raw.py");
    let mut holder = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &t.client,
            "python3",
            &script,
            "192.168.10.5",
            "7443",
            "",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("holder");
    // Wait until the daemon counts the holder (a fixed sleep is too short
    // on a loaded machine).
    let socket = t.path("control.sock").display().to_string();
    let held = (0..100).any(|_| {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &t.appliance, env!("CARGO_BIN_EXE_parvis")])
            .args(["conns", "--json", "--socket", &socket])
            .output()
            .expect("parvis conns");
        let text = String::from_utf8_lossy(&out.stdout);
        let holds = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .is_some_and(|conns| conns.iter().any(|c| c["listener"] == "strict"));
        if !holds {
            std::thread::sleep(Duration::from_millis(100));
        }
        holds
    });
    assert!(held, "the holder never showed in `parvis conns`");
    let start = Instant::now();
    assert_eq!(
        curl(t, "a.example.org", 7443, "198.51.100.10"),
        "",
        "over the cap"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let _ = std::process::Command::new("kill")
        .arg(holder.id().to_string())
        .status();
    let _ = holder.wait();
    std::thread::sleep(Duration::from_millis(200));
    assert!(curl(t, "a.example.org", 7443, "198.51.100.10").starts_with("srv=ingress1"));

    // SIGHUP with a new route table: a.example.org moves to ingress2 (v1).
    let cfg = t.path("parvis.toml");
    let moved = config(t).replacen(
        "hosts = [\"a.example.org\", \"*.deep.example.org\"]",
        "hosts = [\"*.deep.example.org\"]",
        1,
    );
    std::fs::write(&cfg, &moved).expect("config");
    t.signal("parvis", "-HUP");
    wait_log(t, "reloaded", 1);
    assert_eq!(
        curl(t, "a.example.org", 443, "198.51.100.10"),
        "srv=ingress2 ci=198.51.100.10 sni=a.example.org auth="
    );
    // A bad file is refused and the running config kept.
    std::fs::write(&cfg, "[[listener]]\nname = 1\n").expect("config");
    t.signal("parvis", "-HUP");
    wait_log(t, "reload refused", 1);
    assert!(curl(t, "a.example.org", 443, "198.51.100.10").starts_with("srv=ingress2"));
    std::fs::write(&cfg, config(t)).expect("config");
    t.signal("parvis", "-HUP");
    wait_log(t, "reloaded", 2);
    assert!(curl(t, "a.example.org", 443, "198.51.100.10").starts_with("srv=ingress1"));
}

fn wait_log(t: &Topo, needle: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if t.log("parvis").matches(needle).count() >= count {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no {needle:?} x{count} in the log:\n{}", t.log("parvis"));
}

fn source_hash_and_backend_failure(t: &mut Topo) {
    let first: Vec<String> = ["198.51.100.10", "198.51.100.11"]
        .iter()
        .map(|src| curl(t, "other.test", 443, src))
        .collect();
    for _ in 0..5 {
        for (src, want) in ["198.51.100.10", "198.51.100.11"].iter().zip(&first) {
            assert_eq!(
                &curl(t, "other.test", 443, src),
                want,
                "source-hash sticky for {src}"
            );
        }
    }
    // Kill ingress2: within fall × interval (400ms) it is down; no client errors.
    t.kill("ingress2", "-KILL");
    let killed = Instant::now();
    for i in 0..20 {
        for src in ["198.51.100.10", "198.51.100.11"] {
            let got = curl(t, "other.test", 443, src);
            assert!(
                got.starts_with("srv=ingress1"),
                "request {i} from {src} after kill: {got:?}"
            );
        }
    }
    std::thread::sleep(Duration::from_millis(500).saturating_sub(killed.elapsed()));
    let log = t.log("parvis");
    assert!(
        log.contains("backend down") && log.contains("10.0.0.12:443"),
        "{log}"
    );
}

fn graceful_stop(t: &mut Topo) {
    t.signal("parvis", "-TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !t.log("parvis").contains("stopped") {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(t.log("parvis").contains("stopped"), "{}", t.log("parvis"));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
