//! The operator features of issue 16 end to end, as root in namespaces:
//! the connection log (stderr line, RFC 5424 collector, a dead collector),
//! draining a server under load, ALPN routes and the PROXY v2 UNIQUE_ID
//! TLV read back by HAProxy (`fc_pp_unique_id`).

mod fwd_support;

use std::time::{Duration, Instant};

use fwd_support::Topo;

const CONFIG: &str = r#"
[appliance]
name = "ops-test"
state_dir = "@STATE@"

[[listener]]
name = "https"
bind = "192.168.10.5:443"
protocol = "tls"

[[route]]
listener = "https"
hosts = ["a.example.org"]
backend = "web"

[[route]]
listener = "https"
hosts = ["a.example.org"]
backend = "acme"
alpn = ["acme-tls/1"]

[[route]]
listener = "https"
hosts = ["pool.example.org"]
backend = "pool"

[backend.web]
servers = ["10.0.0.11:8443"]
proxy_v2_tlvs = ["unique_id", "alpn"]

[backend.acme]
servers = ["10.0.0.12:8443"]
proxy_v2_tlvs = ["unique_id"]

[backend.pool]
servers = ["10.0.0.11:443", "10.0.0.12:443"]

[log]
remote = "127.0.0.1:6514"
"#;

fn out(o: std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn curl(t: &Topo, name: &str) -> String {
    let resolve = format!("{name}:443:192.168.10.5");
    out(t.run(
        &t.client,
        &[
            "curl",
            "-sk",
            "-m",
            "5",
            "--resolve",
            &resolve,
            &format!("https://{name}/"),
        ],
    ))
}

/// One request with `openssl s_client`, offering `alpn`.
fn s_client(t: &Topo, name: &str, alpn: &str) -> String {
    let script = format!(
        "printf 'GET / HTTP/1.0\\r\\nHost: {name}\\r\\n\\r\\n' | timeout 5 openssl s_client -quiet -ign_eof \
         -connect 192.168.10.5:443 -servername {name} -alpn {alpn} 2>/dev/null"
    );
    out(t.run(&t.client, &["sh", "-c", &script]))
}

fn start(t: &mut Topo) {
    let cfg = CONFIG.replace("@STATE@", &t.path("state").display().to_string());
    let collected = t.path("collector.log").display().to_string();
    let ns = t.appliance.clone();
    t.spawn(
        "collector",
        &ns,
        &[
            "socat",
            "-u",
            "TCP-LISTEN:6514,bind=127.0.0.1,reuseaddr",
            &format!("OPEN:{collected},creat,append"),
        ],
    );
    // Not wait_port: socat without fork would take that probe as its one connection.
    std::thread::sleep(Duration::from_millis(500));
    t.serve(&cfg);
}

fn cli(t: &Topo, args: &[&str]) -> std::process::Output {
    let socket = t.path("control.sock");
    let mut all = args.to_vec();
    all.extend(["--socket", socket.to_str().unwrap_or_default()]);
    std::process::Command::new(env!("CARGO_BIN_EXE_parvis"))
        .args(&all)
        .output()
        .expect("parvis cli")
}

/// Waits until `f` holds, up to 5 s.
fn eventually(what: &str, mut f: impl FnMut() -> Option<String>) -> String {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < until, "never: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn connection_log_drain_and_alpn() {
    let mut t = Topo::new();
    t.start_ingress();
    start(&mut t);
    alpn_and_unique_id(&t);
    drain_under_load(&t);
    dead_collector_does_not_block(&mut t);
}

fn alpn_and_unique_id(t: &Topo) {
    let plain = s_client(t, "a.example.org", "h2,http/1.1");
    assert!(
        plain.contains("srv=ingress1 ci=198.51.100.10 uid="),
        "{plain}"
    );
    let acme = s_client(t, "a.example.org", "acme-tls/1");
    assert!(
        acme.contains("srv=ingress2 ci=198.51.100.10 uid="),
        "alpn route: {acme}"
    );
    let uid = acme
        .split_whitespace()
        .find_map(|w| w.strip_prefix("uid="))
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| panic!("no unique id in {acme}"))
        .to_string();
    // The same id in the log line, with the fields an operator greps for.
    let line = eventually("the log line of the acme connection", || {
        t.log("parvis")
            .lines()
            .find(|l| l.contains(&format!(" id={uid} ")))
            .map(str::to_string)
    });
    for want in [
        "client=198.51.100.10:",
        "listener=https",
        "sni=a.example.org",
        "alpn=acme-tls/1",
        "route=route[1]",
        "backend=acme",
        "server=10.0.0.12:8443",
        "end=",
        "duration_ms=",
    ] {
        assert!(line.contains(want), "{want} in {line}");
    }
    assert!(!line.contains("bytes_out=0 "), "{line}");
    let frames = eventually("the collector's frame", || {
        let text = std::fs::read_to_string(t.path("collector.log")).unwrap_or_default();
        text.contains(&format!(" id={uid} ")).then_some(text)
    });
    // Octet-counted framing: LEN SP MSG, back to back.
    let mut rest = frames.as_str();
    let mut found = false;
    while let Some((len, tail)) = rest.split_once(' ') {
        let len: usize = len
            .parse()
            .unwrap_or_else(|_| panic!("bad octet count in {frames}"));
        let msg = &tail[..len];
        assert!(msg.starts_with("<134>1 "), "{msg}");
        found |= msg.contains(&format!(" id={uid} ")) && msg.contains(" parvis ");
        rest = &tail[len..];
    }
    assert!(found, "{frames}");
}

/// Six TLS connections to `pool.example.org` held open (handshake done,
/// no request yet) while `drain` runs; each then sends its request. Prints
/// one answer per line.
const HOLD: &str = r#"
import os, socket, ssl, sys, time
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
held = []
for _ in range(6):
    s = socket.create_connection(("192.168.10.5", 443), timeout=10)
    held.append(ctx.wrap_socket(s, server_hostname="pool.example.org"))
print("HELD", flush=True)
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.05)
for t in held:
    try:
        t.sendall(b"GET / HTTP/1.1\r\nHost: pool.example.org\r\nConnection: close\r\n\r\n")
        body = b""
        while True:
            chunk = t.recv(4096)
            if not chunk:
                break
            body += chunk
        print(body.decode(errors="replace").split("\r\n\r\n", 1)[-1].strip().replace("\n", " "), flush=True)
    except Exception as e:
        print("CUT", e, flush=True)
"#;

/// Connections opened before a drain are not cut by it: each held one
/// still gets its answer, from either server (ingress2 included).
fn held_connections_survive_the_drain(t: &Topo) {
    use std::io::BufRead;
    let go = t.path("drain-go");
    let mut child = std::process::Command::new("timeout")
        .args([
            "30", "ip", "netns", "exec", &t.client, "python3", "-c", HOLD,
        ])
        .arg(&go)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert_eq!(first, "HELD", "the six connections were not opened");
    let drained = cli(t, &["backend", "drain", "pool", "10.0.0.12:443"]);
    assert!(drained.status.success(), "{drained:?}");
    std::fs::write(&go, "").expect("go file");
    let answers: Vec<String> = lines.map_while(Result::ok).collect();
    let _ = child.wait();
    assert_eq!(answers.len(), 6, "{answers:?}");
    for a in &answers {
        assert!(
            a.starts_with("srv=ingress"),
            "a held connection was cut: {answers:?}"
        );
    }
    assert!(
        answers.iter().any(|a| a.starts_with("srv=ingress2 ")),
        "no held connection went to the drained server, nothing proven: {answers:?}"
    );
    let undrained = cli(t, &["backend", "undrain", "pool", "10.0.0.12:443"]);
    assert!(undrained.status.success(), "{undrained:?}");
}

fn drain_under_load(t: &Topo) {
    held_connections_survive_the_drain(t);
    let drained = cli(t, &["backend", "drain", "pool", "10.0.0.12:443"]);
    assert!(drained.status.success(), "{drained:?}");
    let routes = out(cli(t, &["routes"]));
    assert!(routes.contains("DRAINED"), "{routes}");
    for i in 0..20 {
        let r = curl(t, "pool.example.org");
        assert!(
            r.starts_with("srv=ingress1 "),
            "connection {i} after the drain: {r}"
        );
    }
    let unknown = cli(t, &["backend", "drain", "pool", "10.0.0.99:443"]);
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    let undrained = cli(t, &["backend", "undrain", "pool", "10.0.0.12:443"]);
    assert!(undrained.status.success(), "{undrained:?}");
    let seen: Vec<String> = (0..6).map(|_| curl(t, "pool.example.org")).collect();
    assert!(
        seen.iter().any(|r| r.starts_with("srv=ingress2 ")),
        "{seen:?}"
    );
}

fn dead_collector_does_not_block(t: &mut Topo) {
    t.kill("collector", "-KILL");
    let started = Instant::now();
    for i in 0..30 {
        let r = curl(t, "pool.example.org");
        assert!(
            r.starts_with("srv=ingress"),
            "connection {i} with the collector dead: {r}"
        );
    }
    let per = started.elapsed() / 30;
    assert!(per < Duration::from_millis(500), "{per:?} per connection");
}
