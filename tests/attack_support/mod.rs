//! Attack tools for the limits tests, run inside lab namespaces: a forger
//! of TCP segments with any source address (raw socket), an admin session
//! kept open across the attack, a flood of completed connections. Does I/O.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use parvis::lab::{Ns, Topology};

/// Sends N forged SYNs from SRC to DST:PORT, each followed by an ACK with
/// a guessed acknowledgement number (what a blind attacker can do), from
/// a raw socket; prints how many segments went out.
const FORGE: &str = r#"
import random, socket, struct, sys
src, dst, ports, n = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3].split(",")], int(sys.argv[4])
syn_only = sys.argv[5:] == ["syn-only"]
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def segment(sport, dport, seq, ack, flags):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.randrange(65536), 0, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
sent = 0
for i in range(n):
    port = ports[i % len(ports)]
    sport, seq = random.randrange(20000, 60000), random.randrange(1 << 32)
    s.sendto(segment(sport, port, seq, 0, 0x02), (dst, 0))
    sent += 1
    if syn_only: continue
    s.sendto(segment(sport, port, seq + 1, random.randrange(1 << 32), 0x10), (dst, 0))
    sent += 1
print(sent)
"#;

/// Forges `n` SYN+ACK pairs from `src` to `dst` on `ports` (round robin),
/// from namespace `ns`; returns the number of segments sent.
pub fn forge(ns: &Ns, src: &str, dst: &str, ports: &[u16], n: u32) -> u32 {
    forge_with(ns, &[src, dst], ports, n, None)
}

/// Forges `n` lone SYNs (no blind ACK after them) from `src` to `dst` on
/// `ports`: half-open connections that stay until conntrack times them out
/// when the real owner of `src` does not answer the SYN-ACKs.
pub fn forge_syns(ns: &Ns, src: &str, dst: &str, ports: &[u16], n: u32) -> u32 {
    forge_with(ns, &[src, dst], ports, n, Some("syn-only"))
}

fn forge_with(ns: &Ns, ends: &[&str; 2], ports: &[u16], n: u32, mode: Option<&str>) -> u32 {
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    let (ports, n) = (ports.join(","), n.to_string());
    let mut args = vec!["python3", "-c", FORGE, ends[0], ends[1], &ports, &n];
    args.extend(mode);
    let out = ns.run(&args).unwrap_or_else(|e| panic!("forger: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("forger printed {:?}: {e}", out.stdout))
}

/// Opens N connections from SRC to DST:PORT one after the other, each
/// completing its handshake and closing; prints how many got an answer
/// (a byte, or the server's close) within 0.5 s.
const FLOOD: &str = r#"
import socket, sys
src, dst, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
answered = 0
for _ in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(0.5)
    try:
        s.connect((dst, port))
        s.sendall(b"GET / HTTP/1.0\r\nHost: flood\r\n\r\n")
        s.recv(64)
        answered += 1
    except OSError:
        pass
    s.close()
print(answered)
"#;

/// Runs [`FLOOD`] in `ns`; returns how many connections were answered.
pub fn flood(ns: &Ns, src: &str, dst: &str, port: u16, n: u32) -> u32 {
    let out = ns
        .run(&[
            "python3",
            "-c",
            FLOOD,
            src,
            dst,
            &port.to_string(),
            &n.to_string(),
        ])
        .unwrap_or_else(|e| panic!("flood: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("flood printed {:?}: {e}", out.stdout))
}

/// Opens N connections from SRC to DST:PORT and keeps them all open;
/// prints how many are still open a second later.
const HOLD: &str = r#"
import socket, sys, time
src, dst, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
held = []
for _ in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(1.0)
    try:
        s.connect((dst, port))
        held.append(s)
    except OSError:
        pass
    time.sleep(0.05)
time.sleep(1.0)
alive = 0
for s in held:
    s.setblocking(False)
    try:
        s.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        alive += 1
    except OSError:
        pass
print(alive)
"#;

/// Runs [`HOLD`] in `ns`; returns how many connections stayed open.
pub fn hold(ns: &Ns, src: &str, dst: &str, port: u16, n: u32) -> u32 {
    let (port, n) = (port.to_string(), n.to_string());
    let out = ns
        .run(&["python3", "-c", HOLD, src, dst, &port, &n])
        .unwrap_or_else(|e| panic!("hold: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("hold printed {:?}: {e}", out.stdout))
}

/// One TLS connection to the admin port kept open: a request now, then
/// one per line read on stdin; prints each answer's status line.
const SESSION: &str = r#"
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
raw = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s = ctx.wrap_socket(raw)
def get():
    s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: admin\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk: raise SystemExit("closed by the server")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length": length = int(v)
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk: raise SystemExit("closed by the server")
        body += chunk
    print(head.split(b"\r\n")[0].decode(), flush=True)
get()
for _ in sys.stdin:
    try:
        get()
    except OSError as e:
        print("error", e, flush=True)
"#;

/// An admin session held open from the client namespace.
pub struct Session {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Session {
    /// Connects to `addr:port` from `ns` and makes the first request;
    /// returns its status line with the session.
    pub fn open(ns: &Ns, addr: &str, port: u16) -> (Session, String) {
        let mut cmd = ns.command("python3");
        cmd.args(["-c", SESSION, addr, &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("session: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line.unwrap_or_default()).is_err() {
                    break;
                }
            }
        });
        let mut s = Session {
            child,
            stdin,
            lines,
        };
        let first = s.next();
        (s, first)
    }

    fn next(&mut self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(8))
            .unwrap_or_else(|e| format!("no answer: {e}"))
    }

    /// One more request on the same connection; its status line.
    pub fn again(&mut self) -> String {
        let _ = writeln!(self.stdin);
        let _ = self.stdin.flush();
        self.next()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `parvis firewall ARGS` in the appliance namespace (runs nft there).
pub fn firewall(topo: &Topology, args: &[&str]) -> String {
    let exe = env!("CARGO_BIN_EXE_parvis");
    let mut cmd = topo.appliance().command(exe);
    cmd.arg("firewall").args(args);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("parvis firewall {args:?}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One TCP exchange from `ns`: connect from `src` to `addr:port` (1.5 s),
/// return what the server sent, or socat's complaint.
pub fn tcp(ns: &Ns, src: &str, addr: &str, port: u16) -> Result<String, String> {
    let target = format!("TCP:{addr}:{port},bind={src},connect-timeout=1.5");
    match ns.run(&["socat", "-t2", "-T3", "-u", &target, "-"]) {
        Ok(out) => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
        Err(e) => Err(e.to_string()),
    }
}
